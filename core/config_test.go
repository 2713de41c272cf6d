package core_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	_ "github.com/auditpull/auditpull/core/source/all"
)

func base() map[string]any {
	return map[string]any{
		"source":     "nordpass",
		"checkpoint": map[string]any{"type": "memory"},
		"nordpass":   map[string]any{"token": "tok-123"},
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestConfigRejectsBadInputNamingTheKey(t *testing.T) {
	cases := []struct {
		name    string
		cfg     map[string]any
		key     string
		message string
	}{
		{"missing source", map[string]any{"checkpoint.type": "memory"}, "source", `"nordpass"`},
		{"unknown source", with(base(), "source", "okta"), "source", `unknown source "okta"`},
		{"unknown top-level key", with(base(), "poll_intervall", "30s"), "poll_intervall", "unknown option"},
		{"unknown source key", with(base(), "nordpass", map[string]any{"token": "x", "regoin": "eu"}), "nordpass.regoin", "unknown option"},
		{"section of another source", with(base(), "qualtrics", map[string]any{"x": 1}), "qualtrics", `section given but source is "nordpass"`},
		{"section of an unknown source", with(base(), "okta", map[string]any{"x": 1}), "okta.x", "unknown option"},
		{"bad region", with(base(), "nordpass", map[string]any{"token": "x", "region": "asia"}), "nordpass.region", `one of "eu", "us"`},
		{"missing token", with(base(), "nordpass", map[string]any{"region": "us"}), "nordpass.token", "required"},
		{"bearer prefix", with(base(), "nordpass", map[string]any{"token": "Bearer abc"}), "nordpass.token", "without \"Bearer \""},
		{"page size above the API limit", with(base(), "page_size", 101), "page_size", "1 to 100"},
		{"negative page size", with(base(), "page_size", -1), "page_size", "must not be negative"},
		{"window above 90 days", with(base(), "max_window", "91d"), "max_window", "90 days"},
		{"bad duration", with(base(), "poll_interval", "soon"), "poll_interval", "invalid duration"},
		{"zero poll interval", with(base(), "poll_interval", "0s"), "poll_interval", "positive duration"},
		{"bad start time", with(base(), "start_time", "yesterday"), "start_time", "RFC 3339"},
		{"bad checkpoint type", with(base(), "checkpoint", map[string]any{"type": "s3"}), "checkpoint.type", `one of "file", "memory"`},
		{"plain http to a remote host", with(base(), "nordpass", map[string]any{"token": "x", "base_url": "http://example.com"}), "nordpass.base_url", "must be https"},
		{"bad uuid filter", with(base(), "nordpass", map[string]any{"token": "x", "user_uuids": []any{"nope"}}), "nordpass.user_uuids.0", "not a UUID"},
		{"rate limit without period", with(base(), "rate_limit", map[string]any{"requests": 10}), "rate_limit.period", "required"},
		{"backoff bounds reversed", with(base(), "retry", map[string]any{"initial_backoff": "10s", "max_backoff": "1s"}), "retry.max_backoff", "at least retry.initial_backoff"},
		{"cert without key", with(base(), "http", map[string]any{"cert_file": "/c.pem"}), "http.cert_file", "together"},
		{"wrong type", with(base(), "page_size", "many"), "page_size", ""},
		{"no page in flight", with(base(), "max_undelivered_pages", 0), "max_undelivered_pages", "at least 1"},
		// Hosts size a queue from it (Telegraf's tracking channel): a huge
		// value made Start panic, taking the host down.
		{"pages in flight beyond any queue", with(base(), "max_undelivered_pages", 1<<60), "max_undelivered_pages", "at most 10000"},
		// A source's section is a child of the whole configuration: its
		// keys are named once, with what they accept, as in a tenant.
		{"wrong type in a source section", with(base(), "nordpass", map[string]any{"token": []any{"x"}}), "nordpass.token", "must be a string"},
		{"wrong type in a flat source key", map[string]any{"source": "oloid", "oloid.base_url": "https://api.example.com", "oloid.client_id": []any{"a"}, "oloid.tenant": "t", "oloid.client_secret": "s"}, "oloid.client_id", "must be a string"},
		{"unreadable secret file", with(base(), "nordpass", map[string]any{"token": "file:/nonexistent/token"}), "nordpass.token", "reading secret file"},
		{"unreadable secret file in a tenant", with(base(), "tenants", "- stream: a\n  nordpass: {token: 'file:/nonexistent/token'}"), "tenants[0].nordpass.token", "reading secret file"},
		{"bad duration in a nested source section", map[string]any{"source": "nordpass_msp", "nordpass_msp.base_url": "https://msp.example.com", "nordpass_msp.path": "/logs", "nordpass_msp.private_key": "k", "nordpass_msp.jwt.lifetime": "soon"}, "nordpass_msp.jwt.lifetime", "must be a duration"},
		{"a section where a list belongs", with(base(), "nordpass", map[string]any{"token": "x", "user_uuids": map[string]any{"a": "b"}}), "nordpass.user_uuids", "must be a list of strings"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := core.ParseMap(tc.cfg)
			var ce *core.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want *core.ConfigError, got %v", err)
			}
			if ce.Key != tc.key {
				t.Errorf("key = %q, want %q (%v)", ce.Key, tc.key, err)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not mention %q", err, tc.message)
			}
		})
	}
}

func TestConfigAcceptsSecretsInlineFromEnvAndFile(t *testing.T) {
	if _, err := core.ParseMap(with(base(), "nordpass", map[string]any{"token": "env:AUDITPULL_UNSET_VAR"})); err == nil || !strings.Contains(err.Error(), "AUDITPULL_UNSET_VAR") {
		t.Fatalf("an unset env: secret must name the variable, got %v", err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NP_TOKEN", "from-env")
	t.Setenv("NP_TOKEN_NL", " from-env\n")
	for _, tc := range []struct{ given, want string }{
		{"inline-token", "inline-token"},
		// A YAML block scalar (token: |) ends the value with a line break.
		{"inline-token\n", "inline-token"},
		{" \tinline-token \r\n", "inline-token"},
		{"env:NP_TOKEN", "from-env"},
		{"env:NP_TOKEN_NL", "from-env"},
		// Hosts expand ${VAR} themselves; the core takes "$" literally.
		{"ab${HOME}cd$$", "ab${HOME}cd$$"},
		{"file:" + file, "from-file"},
		// Only a whole reference is refused (below): a token may hold "@{".
		{"ab@{x:y}", "ab@{x:y}"},
	} {
		cfg, err := core.ParseMap(with(base(), "nordpass", map[string]any{"token": tc.given}))
		if err != nil {
			t.Fatalf("%s: %v", tc.given, err)
		}
		var s struct {
			Token core.Secret `config:"token"`
		}
		if err := cfg.SourceSection().Unpack(&s, core.UcfgOptions...); err != nil {
			t.Fatal(err)
		}
		if s.Token.Reveal() != tc.want {
			t.Errorf("%s: got %q", tc.given, s.Token.Reveal())
		}
	}
}

// A secret sent in a header cannot hold a control character: net/http
// refuses to send it, and each poll would fail as a transport error, for
// ever, without naming the setting. Such a value is refused at start,
// naming the key and never showing the value.
func TestASecretSentInAHeaderRefusesControlCharacters(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  map[string]any
		key  string
	}{
		{"a line break inside the token", with(base(), "nordpass", map[string]any{"token": "np-to\nken-value"}), "nordpass.token"},
		{"a header smuggled in the token", with(base(), "nordpass", map[string]any{"token": "np\"to\\ken$x\r\nX-Evil: 1"}), "nordpass.token"},
		{"a NUL in the API token", map[string]any{"source": "qualtrics", "qualtrics.datacenter": "iad1", "qualtrics.api_token": "q-tok\x00en-value", "qualtrics.activity_types": []any{"login"}}, "qualtrics.api_token"},
		{"in a tenant", with(base(), "tenants", []any{map[string]any{"stream": "acme", "nordpass": map[string]any{"token": "np-to\x7fken-value"}}}), "tenants[0].nordpass.token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := core.ParseMap(tc.cfg)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Key != tc.key || !strings.Contains(ce.Msg, "control character") {
				t.Fatalf("want a ConfigError naming %s, got %v", tc.key, err)
			}
			for _, part := range []string{"np-to", "ken-value", "X-Evil", "q-tok"} {
				if strings.Contains(err.Error(), part) {
					t.Errorf("the error shows the value: %v", err)
				}
			}
		})
	}
	// A secret that no header carries may hold what it likes.
	if _, err := core.ParseMap(map[string]any{"source": "oloid", "oloid.base_url": "https://api.example.com", "oloid.client_id": "c", "oloid.tenant": "t", "oloid.client_secret": "pass\tword"}); err != nil {
		t.Errorf("oloid.client_secret (sent in a JSON body) refused: %v", err)
	}
}

// A Telegraf secret-store reference reaches the core only where Telegraf
// does not resolve them (inside tenants): sent as the credential, it would
// read as a refused token, so it is a configuration error naming the key.
func TestAnUnresolvedSecretStoreReferenceIsAConfigError(t *testing.T) {
	_, err := core.ParseMap(map[string]any{"source": "nordpass", "tenants": []any{
		map[string]any{"stream": "acme", "nordpass": map[string]any{"token": "@{vault:acme_token}"}},
	}})
	if err == nil || !strings.Contains(err.Error(), "tenants[0].nordpass.token") || !strings.Contains(err.Error(), "secret-store reference") {
		t.Fatalf("got %v; want an error naming tenants[0].nordpass.token and saying why", err)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := core.NewSecret("hunter2")
	for _, out := range []string{s.String(), strings.TrimSpace(fmtAll(s))} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret leaked: %s", out)
		}
	}
}

func TestConfigDefaultsAndDays(t *testing.T) {
	cfg, err := core.ParseMap(with(base(), "initial_lookback", "30d", "nordpass", map[string]any{"token": "x", "user_uuids": []any{"0b3c4a3e-1111-4c1c-9b1a-1234567890ab"}}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InitialLookback.D() != 30*24*time.Hour || cfg.PollInterval.D() != 30*time.Second || cfg.MaxUndeliveredPages != 16 {
		t.Fatalf("unexpected config %+v", cfg)
	}
}

func TestKeysListTheWholeSchema(t *testing.T) {
	keys := strings.Join(core.Keys(), " ")
	for _, k := range []string{"source", "rate_limit.requests", "checkpoint.path", "nordpass.token", "nordpass.user_uuids"} {
		if !strings.Contains(" "+keys+" ", " "+k+" ") {
			t.Errorf("Keys() lacks %s: %s", k, keys)
		}
	}
	if l := core.ListKeys(); !slices.Contains(l, "nordpass.user_uuids") || slices.Contains(l, "nordpass.token") {
		t.Errorf("ListKeys() = %v", l)
	}
}

func TestMapOfPropertiesReadsEveryOptionByItsDottedKey(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
		want  map[string]any
		err   string // the ConfigError's key; "" for none
	}{
		{"values trimmed, lists split, unknown properties ignored", map[string]string{
			"source": "nordpass", "nordpass.token": " t ", "nordpass.user_uuids": "a, b,,c ", "retry.max_attempts": "3", "tag": "x",
		}, map[string]any{"source": "nordpass", "nordpass.token": "t", "nordpass.user_uuids": []any{"a", "b", "c"}, "retry.max_attempts": "3"}, ""},
		{"blank values are unset", map[string]string{"source": "nordpass", "stream": "  "}, map[string]any{"source": "nordpass"}, ""},
		{"an underscored key names the dotted one", map[string]string{"source": "nordpass", "nordpass_token": "s3cr3t"}, nil, "nordpass_token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := core.MapOfProperties(func(k string) string { return tc.props[k] })
			if tc.err != "" {
				var ce *core.ConfigError
				if !errors.As(err, &ce) || ce.Key != tc.err || !strings.Contains(ce.Msg, "nordpass.token") || strings.Contains(err.Error(), "s3cr3t") {
					t.Fatalf("err = %v, want a ConfigError for %s naming nordpass.token, without the value", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, %v\nwant %v", got, err, tc.want)
			}
		})
	}
}
