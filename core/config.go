package core

import (
	"errors"
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
// Fluent Bit, Telegraf and Benthos. Zero values mean "the source's default".
type Config struct {
	Source string `config:"source"`
	// Stream is the checkpoint key. Default: derived from the source, the
	// account (region/base URL) and the filters, so two differently filtered
	// inputs never share a checkpoint.
	Stream              string           `config:"stream"`
	InitialLookback     Duration         `config:"initial_lookback"`
	StartTime           string           `config:"start_time"`
	PollInterval        Duration         `config:"poll_interval"`
	SettleDelay         Duration         `config:"settle_delay"`
	Overlap             Duration         `config:"overlap"`
	PageSize            int              `config:"page_size"`
	MaxWindow           Duration         `config:"max_window"`
	RequestTimeout      Duration         `config:"request_timeout"`
	MaxUndeliveredPages int              `config:"max_undelivered_pages"`
	RateLimit           RateLimitConfig  `config:"rate_limit"`
	Retry               RetryConfig      `config:"retry"`
	HTTP                HTTPConfig       `config:"http"`
	Checkpoint          CheckpointConfig `config:"checkpoint"`

	start  time.Time
	source *ucfg.Config // the chosen source's own section
}

// RateLimitConfig overrides the source's documented request budget. The
// budget is shared by every stream of the process that uses the same API
// host and credential.
type RateLimitConfig struct {
	Enabled  *bool    `config:"enabled"`
	Requests int      `config:"requests"`
	Period   Duration `config:"period"`
}

// RetryConfig bounds how a failing request is repeated before the poll is
// reported as failed (and polled again later: nothing is skipped).
type RetryConfig struct {
	MaxAttempts    int      `config:"max_attempts"`
	InitialBackoff Duration `config:"initial_backoff"`
	MaxBackoff     Duration `config:"max_backoff"`
}

// HTTPConfig is the transport: proxy and TLS.
type HTTPConfig struct {
	ProxyURL           string `config:"proxy_url"`
	CAFile             string `config:"ca_file"`
	CertFile           string `config:"cert_file"`
	KeyFile            string `config:"key_file"`
	InsecureSkipVerify bool   `config:"insecure_skip_verify"`
}

// CheckpointConfig selects where delivered positions are kept. Hosts may add
// their own types (Benthos: a cache resource) before parsing.
type CheckpointConfig struct {
	Type string `config:"type"`
	Path string `config:"path"`
	// SyncInterval bounds how far apart the file store's fsyncs are: saves
	// in between are journaled (see checkpoint.File); 0 fsyncs every save.
	SyncInterval Duration `config:"sync_interval"`
	// Cache names a host-side store (Benthos cache resource).
	Cache string `config:"cache"`
}

// Defaults shared by every source.
const (
	DefaultPollInterval   = 30 * time.Second
	DefaultSettleDelay    = 1 * time.Minute
	DefaultOverlap        = 5 * time.Minute
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxUndelivered = 16
	DefaultMaxAttempts    = 8
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 60 * time.Second
	DefaultCheckpointDir  = "/var/lib/auditpull"
	DefaultCheckpointSync = 1 * time.Second
)

// CheckpointTypes are the stores the core knows; hosts extend the list.
var CheckpointTypes = []string{"file", "memory"}

func defaultConfig() Config {
	return Config{
		PollInterval:        Duration(DefaultPollInterval),
		SettleDelay:         Duration(DefaultSettleDelay),
		Overlap:             Duration(DefaultOverlap),
		RequestTimeout:      Duration(DefaultRequestTimeout),
		MaxUndeliveredPages: DefaultMaxUndelivered,
		Retry: RetryConfig{
			MaxAttempts:    DefaultMaxAttempts,
			InitialBackoff: Duration(DefaultInitialBackoff),
			MaxBackoff:     Duration(DefaultMaxBackoff),
		},
		Checkpoint: CheckpointConfig{Type: "file", Path: DefaultCheckpointDir, SyncInterval: Duration(DefaultCheckpointSync)},
	}
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
	raw, err := ucfg.NewFrom(m, UcfgOptions...)
	if err != nil {
		return nil, configErr(err)
	}
	return Parse(raw)
}

// Parse is ParseMap for an already built ucfg tree.
func Parse(raw *ucfg.Config) (*Config, error) {
	c := defaultConfig()
	sources := SourceNames()
	if err := checkKeys(raw, reflect.TypeOf(c), "", sources); err != nil {
		return nil, err
	}
	if err := raw.Unpack(&c, UcfgOptions...); err != nil {
		return nil, configErr(err)
	}
	if c.Source == "" {
		return nil, &ConfigError{Key: "source", Msg: "required; one of " + quoteList(sources)}
	}
	if !slices.Contains(sources, c.Source) {
		return nil, &ConfigError{Key: "source", Msg: fmt.Sprintf("unknown source %q; one of %s", c.Source, quoteList(sources))}
	}
	for _, s := range sources {
		if s != c.Source && raw.HasField(s) {
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
	if err := c.validate(); err != nil {
		return nil, err
	}
	// The source validates its own section now, so a bad config never
	// starts; the value is rebuilt when the poller opens the source.
	if err := lookupSource(c.Source).Validate(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) validate() error {
	nonNeg := map[string]Duration{
		"initial_lookback": c.InitialLookback, "settle_delay": c.SettleDelay,
		"overlap": c.Overlap, "max_window": c.MaxWindow,
		"checkpoint.sync_interval": c.Checkpoint.SyncInterval,
	}
	for _, k := range sortedKeys(nonNeg) {
		if nonNeg[k] < 0 {
			return &ConfigError{Key: k, Msg: "must not be negative"}
		}
	}
	pos := map[string]Duration{
		"poll_interval": c.PollInterval, "request_timeout": c.RequestTimeout,
		"retry.initial_backoff": c.Retry.InitialBackoff, "retry.max_backoff": c.Retry.MaxBackoff,
	}
	for _, k := range sortedKeys(pos) {
		if pos[k] <= 0 {
			return &ConfigError{Key: k, Msg: "must be a positive duration (e.g. 500ms, 30s, 5m)"}
		}
	}
	if c.Retry.MaxBackoff < c.Retry.InitialBackoff {
		return &ConfigError{Key: "retry.max_backoff", Msg: "must be at least retry.initial_backoff"}
	}
	if c.Retry.MaxAttempts < 1 {
		return &ConfigError{Key: "retry.max_attempts", Msg: "must be at least 1"}
	}
	if c.PageSize < 0 {
		return &ConfigError{Key: "page_size", Msg: "must be positive (0 = the source's default)"}
	}
	if c.MaxUndeliveredPages < 1 {
		return &ConfigError{Key: "max_undelivered_pages", Msg: "must be at least 1"}
	}
	if c.StartTime != "" {
		t, err := time.Parse(time.RFC3339, c.StartTime)
		if err != nil {
			return &ConfigError{Key: "start_time", Msg: fmt.Sprintf("%q is not an RFC 3339 time (e.g. 2026-01-31T00:00:00Z)", c.StartTime)}
		}
		c.start = t.UTC()
	}
	if c.RateLimit.Requests < 0 {
		return &ConfigError{Key: "rate_limit.requests", Msg: "must be positive (0 = the source's documented limit)"}
	}
	if c.RateLimit.Period < 0 {
		return &ConfigError{Key: "rate_limit.period", Msg: "must be a positive duration"}
	}
	if c.RateLimit.Requests > 0 && c.RateLimit.Period == 0 {
		return &ConfigError{Key: "rate_limit.period", Msg: "required with rate_limit.requests (e.g. 5m)"}
	}
	if !slices.Contains(CheckpointTypes, c.Checkpoint.Type) {
		return &ConfigError{Key: "checkpoint.type", Msg: fmt.Sprintf("unknown type %q; one of %s", c.Checkpoint.Type, quoteList(CheckpointTypes))}
	}
	if c.Checkpoint.Type == "file" && c.Checkpoint.Path == "" {
		return &ConfigError{Key: "checkpoint.path", Msg: "required for checkpoint type \"file\" (a directory)"}
	}
	if (c.HTTP.CertFile == "") != (c.HTTP.KeyFile == "") {
		return &ConfigError{Key: "http.cert_file", Msg: "http.cert_file and http.key_file must be given together"}
	}
	return nil
}

// Start is the explicit backfill start, zero if none.
func (c *Config) Start() time.Time { return c.start }

// SourceSection is the chosen source's own settings.
func (c *Config) SourceSection() *ucfg.Config { return c.source }

// UnpackStrict unpacks cfg into v (a pointer to a struct with `config` tags)
// and rejects keys v does not declare, naming them with prefix. Sources use
// it for their sections so a typo never goes unnoticed.
func UnpackStrict(cfg *ucfg.Config, v any, prefix string) error {
	if err := checkKeys(cfg, reflect.TypeOf(v).Elem(), prefix, nil); err != nil {
		return err
	}
	if err := cfg.Unpack(v, UcfgOptions...); err != nil {
		return configErr(err)
	}
	return nil
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

// configErr turns a ucfg error (which names the key as "accessing 'x.y'")
// into a ConfigError that names it first.
func configErr(err error) error {
	var ue ucfg.Error
	if errors.As(err, &ue) {
		msg := ue.Error()
		if i := strings.Index(msg, " accessing '"); i >= 0 {
			key := strings.TrimSuffix(msg[i+len(" accessing '"):], "'")
			if j := strings.IndexByte(key, '\''); j >= 0 {
				key = key[:j]
			}
			return &ConfigError{Key: key, Msg: msg[:i]}
		}
		return &ConfigError{Key: "(config)", Msg: msg}
	}
	return err
}

func quoteList(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// Keys lists every configuration key of the schema, flattened with ".",
// including each registered source's section ("nordpass.token"). Hosts
// that cannot enumerate their configuration (Fluent Bit) read these keys.
// List-valued keys are reported with ListKeys.
func Keys() []string {
	all := map[string]reflect.Type{}
	collectKeys(reflect.TypeOf(Config{}), "", all)
	for _, name := range SourceNames() {
		if f := lookupSource(name); f.Settings != nil {
			collectKeys(reflect.TypeOf(f.Settings()), name+".", all)
		}
	}
	return sortedKeys(all)
}

// ListKeys is the subset of Keys whose values are lists.
func ListKeys() []string {
	all := map[string]reflect.Type{}
	collectKeys(reflect.TypeOf(Config{}), "", all)
	for _, name := range SourceNames() {
		if f := lookupSource(name); f.Settings != nil {
			collectKeys(reflect.TypeOf(f.Settings()), name+".", all)
		}
	}
	var out []string
	for _, k := range sortedKeys(all) {
		if all[k].Kind() == reflect.Slice {
			out = append(out, k)
		}
	}
	return out
}
