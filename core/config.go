package core

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/elastic/go-ucfg"
)

// Config is the one schema every host translates its native configuration
// into, so option names, defaults and validation messages are the same in
// Fluent Bit, Telegraf and Benthos. Each option is declared here, once (see
// schema.go); zero values of the source-dependent ones mean "the source's
// default".
type Config struct {
	Source string `config:"source" doc:"The API to read; its settings go in the section of the same name." example:"nordpass"`
	Stream string `config:"stream" doc:"The checkpoint key. By default it is derived from the source, the API's region or base URL (OLOID: and the tenant) and the filters, so two differently filtered inputs never share a checkpoint. The credential is not part of it: give each account in one region its own name, and a new name when an input moves to another account, or it resumes from the first account's checkpoint and skips the new one's history before it. Name it also to keep the checkpoint when the URL changes, or to let replicas share one stream." example:"nordpass-prod"`

	InitialLookback     Duration `config:"initial_lookback" check:"nonneg" doc:"How far back a first run (no checkpoint yet) starts. Default: the source's (NordPass, OLOID, Qualtrics 7 days; NordPass MSP 30 days)." example:"30d"`
	StartTime           string   `config:"start_time" doc:"An explicit start for the first run, RFC 3339; wins over initial_lookback. Ignored once a checkpoint exists." example:"2026-01-31T00:00:00Z"`
	PollInterval        Duration `config:"poll_interval" default:"30s" check:"positive" doc:"How often a caught-up stream asks for new events."`
	SettleDelay         Duration `config:"settle_delay" default:"1m" check:"nonneg" advanced:"true" doc:"Windows end this long before the API's now, so events the vendor records late are not skipped."`
	Overlap             Duration `config:"overlap" default:"5m" check:"nonneg" advanced:"true" doc:"How late an event may become visible after its time (beyond settle_delay) and still be read: sweeps re-read this much before the newest read time; re-reads are de-duplicated."`
	SweepInterval       Duration `config:"sweep_interval" default:"1m" check:"nonneg" advanced:"true" doc:"How often a caught-up stream re-reads its overlap for events that became visible late; the polls in between read only new time, so a late event arrives within sweep_interval after it becomes visible. 0s re-reads the overlap at every poll."`
	PageSize            int      `config:"page_size" check:"nonneg" advanced:"true" doc:"Records per request. Default: the source's largest (NordPass 100). A run of one timestamp that a page boundary split is read again by itself in a request of the largest size."`
	MaxWindow           Duration `config:"max_window" check:"nonneg" advanced:"true" doc:"Longest span one window may cover. Default: the source's limit (NordPass 90 days; OLOID and Qualtrics document none)."`
	RequestTimeout      Duration `config:"request_timeout" default:"30s" check:"positive" advanced:"true" doc:"Timeout of one HTTP request."`
	MaxUndeliveredPages int      `config:"max_undelivered_pages" default:"16" check:"min=1,max=10000" advanced:"true" doc:"Pages handed to the host and not yet acknowledged; reading pauses beyond that (1 to 10000). An output that waits for more events than max_undelivered_pages × page_size before it writes (a Benthos batching count with no period) then waits for ever: keep its batches smaller, or give them a period."`
	Format              string   `config:"format" default:"raw" enum:"raw,ocsf,ecs" doc:"The shape of each event. raw: the vendor's record as it came. ocsf: an OCSF 1.3.0 event of the fitting class (Authentication, Account Change, Entity Management, Group Management; a Base Event, counted in unmapped_events, when nothing maps the record). ecs: an ECS 9.3.0 document. Both keep the vendor's record (OCSF unmapped, ECS under the source's name); docs/normalize.md lists the mappings." example:"ocsf"`

	RateLimit  RateLimitConfig  `config:"rate_limit" advanced:"true" doc:"The request budget: the vendor's documented limit, shared by every stream of the process that spends it."`
	Retry      RetryConfig      `config:"retry" advanced:"true" doc:"Retries of failed requests (5xx, timeouts, resets, throttling). A request that still fails is reported; the next poll tries again, nothing is skipped."`
	HTTP       HTTPConfig       `config:"http" advanced:"true" doc:"Transport: proxy and TLS."`
	Checkpoint CheckpointConfig `config:"checkpoint" doc:"Where the read position of each stream is kept between runs."`

	Tenants     any      `config:"tenants" kind:"objects" doc:"Many accounts of the source in one input (a managed service provider's customers): a list of tenants, each with its stream (its checkpoint key, required and unique) and its own source section, merged over the top-level one (lists replace, settings add or override). The tenants share every other option, the request budget and the poll loop; a credential the vendor refuses stops that tenant only, which is tried again after tenant_retry. Hosts whose values are flat strings take the list as YAML or JSON text." example:"[{stream: acme, nordpass: {token: file:/run/secrets/acme}}]"`
	TenantsFile string   `config:"tenants_file" doc:"A YAML or JSON file holding the list of tenants (as tenants: a list, bare or under a tenants key), so that many accounts do not bloat the host's configuration; read at start. Its tenants are added to those given inline." example:"/etc/auditpull/tenants.yaml"`
	TenantRetry Duration `config:"tenant_retry" default:"10m" check:"positive" advanced:"true" doc:"How long a tenant stopped by a credential the vendor refuses (or a request it rejects) waits before it is tried again, so a fixed credential resumes without a restart."`

	start   time.Time
	source  *ucfg.Config // the chosen source's own section
	checked any          // that section as the source checked it (RegisterTyped)
	tenants []*Config    // each tenant's configuration (tenants, tenants_file)
}

// RateLimitConfig overrides the source's documented request budget.
type RateLimitConfig struct {
	Enabled  *bool    `config:"enabled" default:"true" doc:"Keep to the vendor's request budget (NordPass: 2000 requests per 5 minutes per IP; OLOID, Qualtrics: 600 per minute). Turn off only against a simulator."`
	Requests int      `config:"requests" check:"nonneg" doc:"Override the budget: at most this many requests per period. Default: the source's documented limit."`
	Period   Duration `config:"period" check:"nonneg" doc:"The period of requests, e.g. 5m; required with requests."`
}

// RetryConfig bounds how a failing request is repeated before the poll is
// reported as failed (and polled again later: nothing is skipped).
type RetryConfig struct {
	MaxAttempts    int      `config:"max_attempts" default:"8" check:"min=1" doc:"Attempts per request before the poll is reported as failed."`
	InitialBackoff Duration `config:"initial_backoff" default:"500ms" check:"positive" doc:"Wait before the first retry; it doubles, with jitter, up to max_backoff. A 429's Retry-After is always honoured."`
	MaxBackoff     Duration `config:"max_backoff" default:"60s" check:"positive" doc:"Longest wait between two attempts."`
}

// HTTPConfig is the transport: proxy and TLS.
type HTTPConfig struct {
	ProxyURL           Secret `config:"proxy_url" doc:"HTTP proxy for the API requests; a secret, as it may hold the proxy's credentials (http://user:password@proxy:3128), so env:NAME and file:/path work too. Default: the HTTPS_PROXY and NO_PROXY environment variables." example:"http://proxy.internal:3128"`
	CAFile             string `config:"ca_file" doc:"PEM file of certificate authorities to trust instead of the system's (e.g. a TLS-inspecting proxy)."`
	CertFile           string `config:"cert_file" doc:"PEM client certificate, with key_file."`
	KeyFile            string `config:"key_file" doc:"PEM key of cert_file."`
	InsecureSkipVerify bool   `config:"insecure_skip_verify" default:"false" doc:"Do not verify TLS certificates (logged as a warning): anyone on the path can then read the API token. Use ca_file instead."`
}

// CheckpointConfig selects the core's own checkpoint store; a host may
// bring its own instead (Options.Store).
type CheckpointConfig struct {
	Type         string   `config:"type" default:"file" enum:"file,memory" doc:"file: one JSON file per stream in path; memory: nothing survives a restart (tests)."`
	Path         string   `config:"path" default:"/var/lib/auditpull" doc:"Directory of the file checkpoints, created if missing; written atomically, the previous copy kept as .prev."`
	SyncInterval Duration `config:"sync_interval" default:"1s" check:"nonneg" advanced:"true" doc:"File checkpoints: each stream makes its newest save durable at most once per sync_interval, with one fsync of a journal beside the file (every eighth time the file itself is rewritten durably). Saves in between are appended to the journal, so a killed process loses none and a machine crash re-reads at most this long's pages of a stream; 0s writes the file durably at every save."`
	LeaseTTL     Duration `config:"lease_ttl" default:"30s" check:"nonneg" advanced:"true" hosts:"benthos" doc:"Shared stores (a host's cache, e.g. Redis): each stream is leased to one replica for this long, renewed every quarter of it; a replica that dies is replaced at most this long later. With tenants, the replicas divide the tenants among themselves, each under its own lease. 0s disables leasing (a single replica)."`
}

// Validate checks what no single option's declaration can: options that
// only make sense together.
func (c *Config) Validate() error {
	switch {
	case c.Retry.MaxBackoff < c.Retry.InitialBackoff:
		return &ConfigError{Key: "retry.max_backoff", Msg: "must be at least retry.initial_backoff"}
	case c.RateLimit.Requests > 0 && c.RateLimit.Period == 0:
		return &ConfigError{Key: "rate_limit.period", Msg: "required with rate_limit.requests (e.g. 5m)"}
	case c.Checkpoint.Type == "file" && c.Checkpoint.Path == "":
		return &ConfigError{Key: "checkpoint.path", Msg: "required for checkpoint type \"file\" (a directory)"}
	case c.Checkpoint.LeaseTTL > 0 && c.Checkpoint.LeaseTTL.D() < time.Second:
		return &ConfigError{Key: "checkpoint.lease_ttl", Msg: "must be at least 1s (or 0s to disable leasing)"}
	case (c.HTTP.CertFile == "") != (c.HTTP.KeyFile == ""):
		return &ConfigError{Key: "http.cert_file", Msg: "http.cert_file and http.key_file must be given together"}
	}
	if c.StartTime != "" {
		t, err := time.Parse(time.RFC3339, c.StartTime)
		if err != nil {
			return &ConfigError{Key: "start_time", Msg: fmt.Sprintf("%q is not an RFC 3339 time (e.g. 2026-01-31T00:00:00Z)", c.StartTime)}
		}
		c.start = t.UTC()
	}
	return nil
}

// UcfgOptions are the options every auditpull config is read with: "." as
// the path separator, so flat property lists (Fluent Bit) nest like YAML
// does. There is deliberately no ${VAR} expansion here: every host expands
// its own configuration already, and expanding a second time would rewrite
// values that legitimately contain "$" (tokens do). Secrets can name an
// environment variable explicitly instead ("env:NAME", see Secret).
var UcfgOptions = []ucfg.Option{ucfg.PathSep(".")}

// ParseMap parses a host's configuration, already translated into the core
// schema's names, and validates it completely (including the source
// section). Every error names the key and the values it accepts.
func ParseMap(m map[string]any) (*Config, error) {
	raw, err := ucfgFrom(m)
	if err != nil {
		return nil, unpackErr(err, "", "", reflect.TypeOf(Config{}))
	}
	return Parse(raw)
}

// ucfgFrom is ucfg.NewFrom that cannot crash the host: go-ucfg v0.8.8
// panics on a key it reads as a negative list index ({"-1": {}}, found by
// FuzzParseConfig), and keys come from users' files (tenants_file).
func ucfgFrom(v any) (_ *ucfg.Config, err error) {
	defer refusePanic(&err)
	return ucfg.NewFrom(v, UcfgOptions...)
}

// refusePanic turns a panic inside go-ucfg into a configuration error.
func refusePanic(err *error) {
	if r := recover(); r != nil {
		*err = &ConfigError{Msg: fmt.Sprintf("unusable configuration (a key such as \"-1\" that names no list item?): %v", r)}
	}
}

// Parse is ParseMap for an already built ucfg tree.
func Parse(raw *ucfg.Config) (_ *Config, err error) {
	defer refusePanic(&err)
	var c Config
	sources := SourceNames()
	if err := checkKeys(raw, reflect.TypeOf(c), "", append(slices.Clone(sources), "tenants")); err != nil {
		return nil, err
	}
	if err := unpackWithDefaults(raw, &c, ""); err != nil {
		return nil, err
	}
	if c.Source == "" {
		return nil, &ConfigError{Key: "source", Msg: "required; one of " + quoteList(sources)}
	}
	if !slices.Contains(sources, c.Source) {
		return nil, &ConfigError{Key: "source", Msg: fmt.Sprintf("unknown source %q; one of %s", c.Source, quoteList(sources))}
	}
	for _, s := range sources {
		// An empty section of another source is what hosts that fill in
		// every declared section (Benthos) send: it configures nothing.
		if s != c.Source && raw.HasField(s) && !emptySection(raw, s) {
			return nil, &ConfigError{Key: s, Msg: fmt.Sprintf("section given but source is %q", c.Source)}
		}
	}
	if raw.HasField(c.Source) {
		sub, err := raw.Child(c.Source, -1, UcfgOptions...)
		if err != nil {
			return nil, &ConfigError{Key: c.Source, Msg: "must be a section of settings"}
		}
		c.source = sub
	} else {
		c.source = ucfg.New()
	}
	if err := c.parseTenants(raw); err != nil || len(c.tenants) > 0 {
		// Each tenant's section was checked whole; the shared one alone
		// may lack what every tenant adds (a token).
		if err != nil {
			return nil, err
		}
		return &c, nil
	}
	// c.Validate ran as part of unpacking (ucfg calls it).
	// The source validates its own section now, so a bad config never
	// starts; a source registered with RegisterTyped keeps what it checked
	// for Open, others rebuild it when the poller opens the source.
	if err := lookupSource(c.Source).Validate(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

func emptySection(raw *ucfg.Config, name string) bool {
	sub, err := raw.Child(name, -1, UcfgOptions...)
	return err == nil && len(sub.FlattenedKeys(UcfgOptions...)) == 0
}

// Start is the explicit backfill start, zero if none.
func (c *Config) Start() time.Time { return c.start }

// SourceSection is the chosen source's own settings.
func (c *Config) SourceSection() *ucfg.Config { return c.source }

// UnpackStrict unpacks cfg into v (a pointer to a struct with schema tags),
// with v's declared defaults, and rejects keys v does not declare, naming
// them with prefix. Sources use it for their sections so a typo never goes
// unnoticed.
func UnpackStrict(cfg *ucfg.Config, v any, prefix string) error {
	if err := checkKeys(cfg, reflect.TypeOf(v).Elem(), prefix, nil); err != nil {
		return err
	}
	return unpackWithDefaults(cfg, v, prefix)
}

// checkKeys rejects keys that the struct type t does not declare. extra
// names top-level sections that are allowed besides the struct's fields.
func checkKeys(cfg *ucfg.Config, t reflect.Type, prefix string, extra []string) error {
	allowed := map[string]reflect.Type{}
	collectKeys(t, "", allowed)
	own := cfg.Path(".")
	for _, key := range cfg.FlattenedKeys(ucfg.PathSep(".")) {
		if own != "" {
			key = strings.TrimPrefix(key, own+".")
		}
		key = stripIndexes(key)
		if _, ok := allowed[key]; ok {
			continue
		}
		head, _, _ := strings.Cut(key, ".")
		if slices.Contains(extra, head) {
			continue
		}
		// A section where a value belongs ({a: b} for a list) flattens to
		// keys under the option: name the option and what it takes, not a
		// key nobody wrote.
		parts := strings.Split(key, ".")
		for n := 1; n < len(parts); n++ {
			leaf := strings.Join(parts[:n], ".")
			if _, ok := allowed[leaf]; !ok {
				continue
			}
			for _, o := range schemaOf(t, "", "") {
				if o.Key == leaf {
					return &ConfigError{Key: prefix + leaf, Msg: want(o)}
				}
			}
		}
		var known []string
		for k := range allowed {
			known = append(known, prefix+k)
		}
		sort.Strings(known)
		return &ConfigError{Key: prefix + key, Msg: "unknown option; known options are " + strings.Join(known, ", ")}
	}
	return nil
}

// stripIndexes turns "user_uuids.3" (how ucfg flattens lists) into
// "user_uuids".
func stripIndexes(key string) string {
	parts := strings.Split(key, ".")
	out := parts[:0]
	for _, p := range parts {
		if p != "" && strings.Trim(p, "0123456789") == "" {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}

var unpackerType = reflect.TypeOf((*ucfg.StringUnpacker)(nil)).Elem()

func collectKeys(t reflect.Type, prefix string, out map[string]reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("config"), ",")
		if name == "" || !f.IsExported() {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(unpackerType) && ft != reflect.TypeOf(time.Time{}) {
			collectKeys(ft, prefix+name+".", out)
			continue
		}
		out[prefix+name] = ft
	}
}

func quoteList(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// Keys lists every configuration key of the schema, flattened with ".",
// including each registered source's section ("nordpass.token"). Hosts
// that cannot enumerate their configuration (Fluent Bit) read these keys.
func Keys() []string {
	var out []string
	for _, o := range Schema() {
		if o.Kind != KindObject {
			out = append(out, o.Key)
		}
	}
	sort.Strings(out)
	return out
}

// ListKeys is the subset of Keys whose values are lists.
func ListKeys() []string {
	var out []string
	for _, o := range Schema() {
		if o.Kind == KindList {
			out = append(out, o.Key)
		}
	}
	sort.Strings(out)
	return out
}
