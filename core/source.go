package core

import (
	"context"
	"crypto/tls"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Source reads one vendor API. It is stateless between calls: everything
// that must survive a restart lives in the poller's checkpoint.
type Source interface {
	Info() SourceInfo
	// Fetch reads one page of the window q describes. Errors are classified
	// (TransientError, ThrottledError, AuthError, RequestError).
	Fetch(ctx context.Context, q Query) (Page, error)
}

// SourceInfo is what the planner must know of a vendor's rules.
type SourceInfo struct {
	// Source is the registered name ("nordpass").
	Source string
	// Stream is the default checkpoint key: source, account and filters.
	Stream string
	// Sub distinguishes several sources built from one config (one stream per
	// Qualtrics activity type); it is appended to a user-given stream name.
	Sub string
	// MaxSpan is the longest window one request may ask for (0: unlimited).
	MaxSpan time.Duration
	// DefaultLookback is how far back a first run starts.
	DefaultLookback time.Duration
	// Precision is the resolution of the API's time filter.
	Precision time.Duration
	// Cap is the most records one query can reach (0: unlimited). Windows
	// whose first page reports a Total at or above it are split before
	// they are read.
	Cap int
	// Partitions is the number of separate queries needed to cover a window
	// (NordPass: user_uuids in groups of 500). At least 1.
	Partitions int
	// PageNumbered means pages are numbered over a newest-first result, so
	// records inserted while paging shift later pages (the poller detects it).
	PageNumbered bool
	// KeyCursor means the cursor may name the last record served (a keyset
	// cursor, as DynamoDB's LastEvaluatedKey or a search engine's
	// search_after) rather than a position. Where the API serves records of
	// one instant in a new order at each request, such a cursor can point
	// past records of its instant that the next page then never shows, with
	// nothing on that page to tell. So after a page in time order the
	// poller asks the rest of the piece as a new query from the instant the
	// page ended on, rather than following the cursor (see stream.narrow).
	KeyCursor bool
	// ContentIDs means Event.ID is a hash of the record's content, shared by
	// genuinely identical records. The poller then numbers the copies it
	// delivers ("<hash>", "<hash>-2", …) so that hosts and SIEMs keying on
	// the id never collapse real events.
	ContentIDs bool
}

// Query asks for one page of records with From <= time < To.
type Query struct {
	From, To  time.Time
	Partition int
	// Cursor is "" for the first page, else the previous page's Next.
	Cursor string
}

// Page is one response.
type Page struct {
	Events []Event
	// Next is the cursor of the following page; "" when this was the last.
	Next string
	// Total is the number of records the query matches (-1: unknown). An
	// API that does not count may answer Cap for a first page that could
	// be all a capped query returns, to have the window split.
	Total int
}

// SourceEnv is what a source gets from the core when it is opened.
type SourceEnv struct {
	Config  *Config
	Logger  Logger
	Clock   Clock
	Metrics *Metrics

	api    *apiClock // the poller's estimate of the API's clock
	before func(context.Context) error
	tls    *tls.Config
}

// APIBehind returns how far the API's clock is behind this machine's, as
// its answers' Date headers tell (0 until one did): for sources that stamp
// requests with the API's time (signed tokens' iat).
func (e SourceEnv) APIBehind() time.Duration { return e.api.Behind() }

// Requester builds the HTTP client for a source: budget is the vendor's
// documented limit (overridable by rate_limit), limiterKey the API host and
// credential that share it (see LimiterKey).
func (e SourceEnv) Requester(budget Rate, limiterKey string) (*Requester, error) {
	r, err := NewRequester(e.Config, budget, limiterKey, e.Metrics, e.Logger)
	if err != nil {
		return nil, err
	}
	if e.tls != nil {
		tr, err := hostTLSTransport(e.Config.HTTP, e.tls)
		if err != nil {
			return nil, err
		}
		r.client.Transport = tr
	}
	r.clock = e.Clock
	r.api = e.api
	r.before = e.before
	return r, nil
}

// Factory registers a source.
type Factory struct {
	// Doc says what the source reads, for the docs of its section.
	Doc string
	// Validate checks the source's settings (its section, and core options
	// such as page_size against the vendor's limits) without side effects.
	Validate func(cfg *Config) error
	// Settings returns a pointer to the zero value of the source's section
	// struct (`config` tags); it lists the section's keys for hosts that
	// must ask for each key by name (Fluent Bit).
	Settings func() any
	// Open builds the source(s) for one configured input. Most sources
	// return one; a source may return several independent streams.
	Open func(ctx context.Context, env SourceEnv) ([]Source, error)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register adds a source under name. A new vendor is one package with an
// init() calling Register, and one import in core/source/all.
func Register(name string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("auditpull: source %q registered twice", name))
	}
	registry[name] = f
}

// SourceNames lists the registered sources, sorted.
func SourceNames() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SourceSettings returns a pointer to the zero value of a source's section
// struct (with `config` tags; secrets are core.Secret), or nil if the source
// is unknown. Hosts use it to document and type a section they were not
// written for.
func SourceSettings(name string) any {
	f := lookupSource(name)
	if f.Settings == nil {
		return nil
	}
	return f.Settings()
}

func lookupSource(name string) Factory {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return registry[name]
}

// Clock is the time source; tests use a fake one.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// RealClock is the wall clock.
var RealClock Clock = realClock{}
