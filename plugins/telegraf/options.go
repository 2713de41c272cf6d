package auditpull

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/auditpull/auditpull/core"
)

// Options is the core schema spelled as Telegraf TOML: every key has the
// core's name, so `toml:"x"` here is `x` in core.ParseMap and validation
// messages name the same option in every host. Defaults are the core's
// (newOptions); zero values of the source-dependent options
// (initial_lookback, page_size, max_window) mean "the source's default".
//
// A new source is one more sub-table: a struct with the source's keys
// (secrets as config.Secret) and one field below tagged with the source's
// name. TestOptionsMirrorCoreSchema fails until that is done.
type Options struct {
	Source              string          `toml:"source"`
	Stream              string          `toml:"stream"`
	InitialLookback     config.Duration `toml:"initial_lookback"`
	StartTime           string          `toml:"start_time"`
	PollInterval        config.Duration `toml:"poll_interval"`
	SettleDelay         config.Duration `toml:"settle_delay"`
	Overlap             config.Duration `toml:"overlap"`
	PageSize            int             `toml:"page_size"`
	MaxWindow           config.Duration `toml:"max_window"`
	RequestTimeout      config.Duration `toml:"request_timeout"`
	MaxUndeliveredPages int             `toml:"max_undelivered_pages"`

	RateLimit  RateLimitOptions  `toml:"rate_limit"`
	Retry      RetryOptions      `toml:"retry"`
	HTTP       HTTPOptions       `toml:"http"`
	Checkpoint CheckpointOptions `toml:"checkpoint"`

	// One sub-table per source; only the chosen source's may be given.
	NordPass    *NordPassOptions    `toml:"nordpass"`
	NordPassMSP *NordPassMSPOptions `toml:"nordpass_msp"`
	OLOID       *OLOIDOptions       `toml:"oloid"`
	Qualtrics   *QualtricsOptions   `toml:"qualtrics"`
}

// RateLimitOptions is [inputs.auditpull.rate_limit].
type RateLimitOptions struct {
	Enabled  *bool           `toml:"enabled"`
	Requests int             `toml:"requests"`
	Period   config.Duration `toml:"period"`
}

// RetryOptions is [inputs.auditpull.retry].
type RetryOptions struct {
	MaxAttempts    int             `toml:"max_attempts"`
	InitialBackoff config.Duration `toml:"initial_backoff"`
	MaxBackoff     config.Duration `toml:"max_backoff"`
}

// HTTPOptions is [inputs.auditpull.http].
type HTTPOptions struct {
	ProxyURL           string `toml:"proxy_url"`
	CAFile             string `toml:"ca_file"`
	CertFile           string `toml:"cert_file"`
	KeyFile            string `toml:"key_file"`
	InsecureSkipVerify bool   `toml:"insecure_skip_verify"`
}

// CheckpointOptions is [inputs.auditpull.checkpoint].
type CheckpointOptions struct {
	Type         string          `toml:"type"`
	Path         string          `toml:"path"`
	SyncInterval config.Duration `toml:"sync_interval"`
}

// NordPassOptions is [inputs.auditpull.nordpass].
type NordPassOptions struct {
	Region    string        `toml:"region"`
	BaseURL   string        `toml:"base_url"`
	Token     config.Secret `toml:"token"`
	UserUUIDs []string      `toml:"user_uuids"`
}

// NordPassMSPOptions is [inputs.auditpull.nordpass_msp].
type NordPassMSPOptions struct {
	BaseURL       string        `toml:"base_url"`
	Path          string        `toml:"path"`
	PrivateKey    config.Secret `toml:"private_key"`
	JWT           JWTOptions    `toml:"jwt"`
	AuthScheme    string        `toml:"auth_scheme"`
	MemberEmails  []string      `toml:"member_emails"`
	Organizations []string      `toml:"organizations"`
	Categories    []string      `toml:"categories"`
}

// JWTOptions is [inputs.auditpull.nordpass_msp.jwt].
type JWTOptions struct {
	Issuer   string          `toml:"issuer"`
	Subject  string          `toml:"subject"`
	Audience string          `toml:"audience"`
	KeyID    string          `toml:"key_id"`
	Lifetime config.Duration `toml:"lifetime"`
}

// OLOIDOptions is [inputs.auditpull.oloid].
type OLOIDOptions struct {
	BaseURL      string        `toml:"base_url"`
	ClientID     string        `toml:"client_id"`
	Tenant       string        `toml:"tenant"`
	ClientSecret config.Secret `toml:"client_secret"`
}

// QualtricsOptions is [inputs.auditpull.qualtrics].
type QualtricsOptions struct {
	Datacenter     string        `toml:"datacenter"`
	BaseURL        string        `toml:"base_url"`
	APIToken       config.Secret `toml:"api_token"`
	ClientID       string        `toml:"client_id"`
	ClientSecret   config.Secret `toml:"client_secret"`
	Scope          string        `toml:"scope"`
	TokenURL       string        `toml:"token_url"`
	ActivityTypes  []string      `toml:"activity_types"`
	OrganizationID string        `toml:"organization_id"`
	UserID         string        `toml:"user_id"`
	DirectoryID    string        `toml:"directory_id"`
	GroupID        string        `toml:"group_id"`
	ContactID      string        `toml:"contact_id"`
}

// newOptions returns the core's defaults, so that an option left out of the
// TOML behaves as in every other host and an explicit zero stays zero.
func newOptions() Options {
	return Options{
		PollInterval:        config.Duration(core.DefaultPollInterval),
		SettleDelay:         config.Duration(core.DefaultSettleDelay),
		Overlap:             config.Duration(core.DefaultOverlap),
		RequestTimeout:      config.Duration(core.DefaultRequestTimeout),
		MaxUndeliveredPages: core.DefaultMaxUndelivered,
		Retry: RetryOptions{
			MaxAttempts:    core.DefaultMaxAttempts,
			InitialBackoff: config.Duration(core.DefaultInitialBackoff),
			MaxBackoff:     config.Duration(core.DefaultMaxBackoff),
		},
		Checkpoint: CheckpointOptions{Type: "file", Path: core.DefaultCheckpointDir, SyncInterval: config.Duration(core.DefaultCheckpointSync)},
	}
}

var (
	durationType = reflect.TypeOf(config.Duration(0))
	secretType   = reflect.TypeOf(config.Secret{})
)

// coreMap translates the options into the map core.ParseMap reads:
// durations become strings ("1h30m0s"), secrets are revealed (the map is
// handed straight to the core and never logged), and empty strings, empty
// lists, unset booleans and absent sections are left out so the core's and
// the source's defaults apply.
//
// Telegraf has already replaced ${VAR} references and resolved secret
// stores; the core takes every value literally, so strings pass unchanged.
func (o *Options) coreMap() (map[string]any, error) {
	return structMap(reflect.ValueOf(o).Elem(), "", false)
}

// structMap renders one (sub-)table. In source sections (omitZero) a zero
// duration is left out like an empty string: the source's default applies.
// The core's own sections carry the core's defaults, so their zeros are
// explicit and passed on.
func structMap(v reflect.Value, prefix string, omitZero bool) (map[string]any, error) {
	out := map[string]any{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if key == "" || key == "-" || !f.IsExported() {
			continue
		}
		fv := v.Field(i)
		switch {
		case f.Type == durationType:
			if omitZero && fv.Int() == 0 {
				continue
			}
			out[key] = time.Duration(fv.Int()).String()
		case f.Type == secretType:
			s := fv.Addr().Interface().(*config.Secret)
			if s.Empty() {
				continue
			}
			buf, err := s.Get()
			if err != nil {
				// The error names store references, never the value.
				return nil, &core.ConfigError{Key: prefix + key, Msg: fmt.Sprintf("cannot read secret: %v", err)}
			}
			out[key] = buf.String()
			buf.Destroy()
		case f.Type.Kind() == reflect.Pointer:
			if fv.IsNil() {
				continue
			}
			if f.Type.Elem().Kind() == reflect.Struct {
				sub, err := structMap(fv.Elem(), prefix+key+".", true)
				if err != nil {
					return nil, err
				}
				out[key] = sub
				continue
			}
			out[key] = fv.Elem().Interface()
		case f.Type.Kind() == reflect.Struct:
			sub, err := structMap(fv, prefix+key+".", omitZero)
			if err != nil {
				return nil, err
			}
			if len(sub) > 0 {
				out[key] = sub
			}
		case f.Type.Kind() == reflect.String:
			if fv.String() != "" {
				out[key] = fv.String()
			}
		case f.Type.Kind() == reflect.Slice:
			if fv.Len() == 0 {
				continue
			}
			list := make([]any, fv.Len())
			for j := range list {
				list[j] = fv.Index(j).Interface()
			}
			out[key] = list
		default:
			out[key] = fv.Interface()
		}
	}
	return out, nil
}

// tomlKeys lists every key of t flattened with "." (as core.Keys does).
func tomlKeys(t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if key == "" || key == "-" || !f.IsExported() {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != durationType && ft != secretType {
			tomlKeys(ft, prefix+key+".", out)
			continue
		}
		*out = append(*out, prefix+key)
	}
}
