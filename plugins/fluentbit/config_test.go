package main

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
)

// props is a property getter over a map, case-insensitive like Fluent Bit's.
func props(m map[string]string) func(string) string {
	return func(k string) string {
		for key, v := range m {
			if strings.EqualFold(key, k) {
				return v
			}
		}
		return ""
	}
}

func TestPropertiesAreTheCoreKeys(t *testing.T) {
	m, opts, err := readConfig(props(map[string]string{
		"source":              "nordpass",
		"nordpass.token":      " secret ",
		"nordpass.user_uuids": "a, b,,c ",
		"rate_limit.requests": "100",
		"Checkpoint.Path":     "/var/lib/x",
		"not_a_core_key":      "ignored",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"source": "nordpass", "nordpass.token": "secret", "rate_limit.requests": "100",
		"checkpoint.path": "/var/lib/x", "nordpass.user_uuids": []any{"a", "b", "c"},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("config map\n got %v\nwant %v", m, want)
	}
	if opts.budget != DefaultBudget {
		t.Errorf("budget %d, want the default %d", opts.budget, DefaultBudget)
	}
	if _, err := core.ParseMap(map[string]any{"source": "nordpass", "nordpass.token": "t", "nordpass.user_uuids": []any{"0f0f0f0f-0000-4000-8000-000000000000"}, "page_size": "50", "checkpoint.type": "memory"}); err != nil {
		t.Errorf("the core does not take what readConfig builds: %v", err)
	}
}

// An error on a source's property names it as the user wrote it in the
// [INPUT] section, once.
func TestABadSourcePropertyIsNamedAsWritten(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    map[string]string
		key  string
		msg  string
	}{
		{"an unreadable secret file", map[string]string{"source": "nordpass", "nordpass.token": "file:/nonexistent/token"}, "nordpass.token", "reading secret file"},
		{"a bad duration in a nested section", map[string]string{
			"source": "nordpass_msp", "nordpass_msp.base_url": "https://msp.example.com", "nordpass_msp.path": "/logs",
			"nordpass_msp.private_key": "k", "nordpass_msp.jwt.lifetime": "5 minutes",
		}, "nordpass_msp.jwt.lifetime", "must be a duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _, err := readConfig(props(tc.m))
			if err != nil {
				t.Fatal(err)
			}
			_, err = core.ParseMap(m)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Key != tc.key || !strings.Contains(ce.Msg, tc.msg) {
				t.Errorf("want the property %s named with %q, got: %v", tc.key, tc.msg, err)
			}
		})
	}
}

func TestUnderscoredPropertyIsRejected(t *testing.T) {
	_, _, err := readConfig(props(map[string]string{"source": "nordpass", "nordpass_token": "secret"}))
	var ce *core.ConfigError
	if !errors.As(err, &ce) || ce.Key != "nordpass_token" || !strings.Contains(ce.Msg, "nordpass.token") {
		t.Fatalf("err = %v, want a ConfigError for nordpass_token pointing at nordpass.token", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the value: %v", err)
	}
}

// callback_max_bytes reads sizes as Fluent Bit's flb_utils_size_to_bytes
// does: K, M and G are powers of 1000, with or without B, any case,
// fractions allowed.
func TestCallbackBudgetIsASizeAsFluentBitReadsThem(t *testing.T) {
	for in, want := range map[string]int{"": DefaultBudget, "4096": 4096, "512K": 512_000, "4M": 4_000_000, "1mb": 1_000_000,
		"1.5M": 1_500_000, "1G": 1_000_000_000, "1K": 1000, "4MiB": 4 << 20} {
		_, opts, err := readConfig(props(map[string]string{budgetKey: in}))
		if got := opts.budget; err != nil || got != want {
			t.Errorf("%s=%q: got %d, %v; want %d", budgetKey, in, got, err, want)
		}
	}
	for _, in := range []string{"lots", "-1", "100", "999", "3T", "3G", "99999999G"} {
		_, _, err := readConfig(props(map[string]string{budgetKey: in}))
		var ce *core.ConfigError
		if !errors.As(err, &ce) || ce.Key != budgetKey {
			t.Errorf("%s=%q: err = %v, want a ConfigError naming the key", budgetKey, in, err)
		}
	}
}

// commit_delay defaults to twice the engine's ring buffer period, read from
// FLB_DEV_RB_MS as Fluent Bit reads it.
func TestCommitDelay(t *testing.T) {
	cases := []struct {
		name, value, rbMS string
		want              time.Duration
	}{
		{name: "default covers the engine's 250 ms twice", want: 500 * time.Millisecond},
		{name: "default follows FLB_DEV_RB_MS", rbMS: "1000", want: 2 * time.Second},
		{name: "an unusable FLB_DEV_RB_MS is Fluent Bit's default", rbMS: "x", want: 500 * time.Millisecond},
		{name: "set", value: "2s", want: 2 * time.Second},
		{name: "zero commits at the next callback", value: "0s", want: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("FLB_DEV_RB_MS", c.rbMS)
			_, opts, err := readConfig(props(map[string]string{commitDelayKey: c.value}))
			if err != nil || opts.commitDelay != c.want {
				t.Errorf("got %s, %v; want %s", opts.commitDelay, err, c.want)
			}
		})
	}
	for _, in := range []string{"soon", "-1s", "2m"} {
		_, _, err := readConfig(props(map[string]string{commitDelayKey: in}))
		var ce *core.ConfigError
		if !errors.As(err, &ce) || ce.Key != commitDelayKey || !strings.Contains(ce.Msg, "0s to 1m") {
			t.Errorf("%s=%q: err = %v, want a ConfigError naming the key and the range", commitDelayKey, in, err)
		}
	}
}

// reservedKeys are the properties Fluent Bit keeps for itself (flb_input.c):
// a Go input never sees them. No core key may be one of them; the tests check.
var reservedKeys = []string{
	"name", "tag", "log_level", "log_suppress_interval", "routable", "alias",
	"mem_buf_limit", "listen", "host", "port", "ipv6", "threaded", "rate_window",
}

// reservedPrefixes are property prefixes Fluent Bit keeps for itself.
var reservedPrefixes = []string{"net.", "oauth2", "tls", "storage.", "thread.", "rate_gate", "processors"}

// isReserved reports whether Fluent Bit would keep key from the plugin.
func isReserved(key string) bool {
	key = strings.ToLower(key)
	if slices.Contains(reservedKeys, key) {
		return true
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// Fluent Bit keeps some properties for itself; a core key among them could
// never be set. This fails as soon as the core grows such a key.
func TestNoCoreKeyIsReservedByFluentBit(t *testing.T) {
	for _, k := range append(core.Keys(), budgetKey) {
		if isReserved(k) {
			t.Errorf("core key %q is a Fluent Bit reserved property", k)
		}
	}
	for _, k := range []string{"tag", "Alias", "tls.verify", "storage.type", "net.keepalive", "host", "port"} {
		if !isReserved(k) {
			t.Errorf("%q should be reserved", k)
		}
	}
}

func TestEveryCoreKeyIsRead(t *testing.T) {
	asked := map[string]bool{}
	_, _, err := readConfig(func(k string) string { asked[k] = true; return "" })
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range core.Keys() {
		if !asked[k] {
			t.Errorf("key %q is never read", k)
		}
	}
	if !asked["nordpass.token"] {
		t.Error("no source section is read: is core/source/all imported?")
	}
}

// The underscore check must never reject a real key.
func TestUnderscoredSpellingIsNeverARealKey(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range core.Keys() {
		keys[k] = true
	}
	for _, k := range core.Keys() {
		if alt := strings.ReplaceAll(k, ".", "_"); alt != k && keys[alt] {
			t.Errorf("%q spelled with underscores is the real key %q", k, alt)
		}
	}
}
