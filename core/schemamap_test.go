package core

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A host's own types, as a host's config loader declares them.
type (
	hostDuration int64
	hostSecret   struct{ s string }
)

type hostOptions struct {
	Source        string       `toml:"source"`
	PollInterval  hostDuration `toml:"poll_interval"`
	Overlap       hostDuration `toml:"overlap"`
	PageSize      int          `toml:"page_size"`
	StartTime     string       `toml:"start_time"`
	Ignored       string       `toml:"-"`
	RateLimit     hostRateLimit
	Retry         hostRetry      `toml:"retry"`
	NordPass      *hostNordPass  `toml:"nordpass"`
	Qualtrics     *hostQualtrics `toml:"qualtrics"`
	Unused        []string       `toml:"unused"`
	unexported    string         //nolint:unused // must be skipped
	WithOmitempty string         `toml:"with_omitempty,omitempty"`
}

type hostRateLimit struct {
	Enabled *bool `toml:"enabled"`
}

type hostRetry struct {
	MaxAttempts    int          `toml:"max_attempts"`
	InitialBackoff hostDuration `toml:"initial_backoff"`
}

type hostNordPass struct {
	Region    string       `toml:"region"`
	Token     hostSecret   `toml:"token"`
	UserUUIDs []string     `toml:"user_uuids"`
	Lifetime  hostDuration `toml:"lifetime"`
}

type hostQualtrics struct {
	Datacenter string `toml:"datacenter"`
}

func hostValue(v reflect.Value) (any, bool, error) {
	switch x := v.Interface().(type) {
	case hostDuration:
		return time.Duration(x).String(), true, nil
	case hostSecret:
		if x.s == "broken" {
			return nil, true, errors.New("cannot read secret from store")
		}
		return x.s, true, nil
	}
	return nil, false, nil
}

func TestSetDefaultsFillsTheSchemaDefaultsByTag(t *testing.T) {
	opts := []Option{
		{Key: "source", Kind: KindString, Default: "nordpass"},
		{Key: "poll_interval", Kind: KindDuration, Default: "30s"},
		{Key: "overlap", Kind: KindDuration, Default: "1d"},
		{Key: "page_size", Kind: KindInt, Default: "50"},
		{Key: "start_time", Kind: KindString}, // no default
		{Key: "retry", Kind: KindObject},
		{Key: "retry.max_attempts", Kind: KindInt, Default: "8"},
		{Key: "retry.initial_backoff", Kind: KindDuration, Default: "500ms"},
		{Key: "nordpass.region", Kind: KindString, Default: "eu", Source: "nordpass"},
	}
	var o hostOptions
	if err := SetDefaults(&o, "toml", opts); err != nil {
		t.Fatal(err)
	}
	want := hostOptions{
		Source: "nordpass", PollInterval: hostDuration(30 * time.Second), Overlap: hostDuration(24 * time.Hour),
		PageSize: 50, Retry: hostRetry{MaxAttempts: 8, InitialBackoff: hostDuration(500 * time.Millisecond)},
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v\nwant %+v", o, want)
	}

	t.Run("pointer fields get a value", func(t *testing.T) {
		var r struct {
			Enabled *bool `toml:"enabled"`
		}
		if err := SetDefaults(&r, "toml", []Option{{Key: "enabled", Kind: KindBool, Default: "true"}}); err != nil {
			t.Fatal(err)
		}
		if r.Enabled == nil || !*r.Enabled {
			t.Errorf("enabled = %v", r.Enabled)
		}
	})
	for name, opt := range map[string]Option{
		"an option without a field is an error": {Key: "retry.max_backoff", Kind: KindDuration, Default: "1m"},
		"a default that does not parse":         {Key: "page_size", Kind: KindInt, Default: "many"},
		"a field of another kind":               {Key: "retry", Kind: KindString, Default: "x"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := SetDefaults(&hostOptions{}, "toml", []Option{opt}); err == nil || !strings.Contains(err.Error(), opt.Key) {
				t.Errorf("error %v does not name %s", err, opt.Key)
			}
		})
	}
}

func TestMapOfLeavesUnsetOptionsToTheirDefaults(t *testing.T) {
	off := false
	o := hostOptions{
		Source:    "nordpass",
		Overlap:   0, // an explicit zero in the core's options
		PageSize:  0,
		Ignored:   "not an option",
		RateLimit: hostRateLimit{Enabled: &off},
		Retry:     hostRetry{MaxAttempts: 3},
		NordPass:  &hostNordPass{Token: hostSecret{"tok"}, UserUUIDs: []string{"a", "b"}},
		Qualtrics: &hostQualtrics{}, // given, but empty
	}
	got, err := MapOf(&o, "toml", hostValue)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"source":        "nordpass",
		"poll_interval": "0s",
		"overlap":       "0s",
		"page_size":     0,
		"retry":         map[string]any{"max_attempts": 3, "initial_backoff": "0s"},
		// Zero values in a source's section are left out: the source's
		// defaults apply.
		"nordpass":  map[string]any{"token": "tok", "user_uuids": []any{"a", "b"}},
		"qualtrics": map[string]any{},
	}
	// The untagged RateLimit struct and the unexported field are no options.
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

func TestMapOfNamesTheKeyOfAHostValueError(t *testing.T) {
	o := hostOptions{NordPass: &hostNordPass{Token: hostSecret{"broken"}}}
	_, err := MapOf(&o, "toml", hostValue)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "nordpass.token" {
		t.Fatalf("error %v does not name nordpass.token", err)
	}
}

func TestMapOfLeavesOutEmptyHostValues(t *testing.T) {
	o := hostOptions{Source: "x", NordPass: &hostNordPass{Token: hostSecret{""}, Region: "us"}}
	got, err := MapOf(&o, "toml", func(v reflect.Value) (any, bool, error) {
		if s, ok := v.Interface().(hostSecret); ok {
			return s.s, true, nil
		}
		return nil, false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if np := got["nordpass"].(map[string]any); !reflect.DeepEqual(np, map[string]any{"region": "us"}) {
		t.Errorf("nordpass = %#v", np)
	}
}

func TestCheckOptionsAppliesTheDeclaredRules(t *testing.T) {
	type own struct {
		Interval hostDuration `config:"interval" check:"nonneg"`
		Format   string       `config:"format" enum:"json,text"`
	}
	for _, c := range []struct {
		name string
		v    own
		key  string
	}{
		{"valid", own{Interval: 0, Format: "json"}, ""},
		{"negative duration", own{Interval: -1}, "interval"},
		{"value outside the enum", own{Format: "xml"}, "format"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckOptions(&c.v)
			var ce *ConfigError
			if c.key == "" && err != nil || c.key != "" && (!errors.As(err, &ce) || ce.Key != c.key) {
				t.Errorf("error %v, want one naming %q", err, c.key)
			}
		})
	}
}

func TestOptionsForKeepsTheHostsOptions(t *testing.T) {
	opts := []Option{{Key: "a"}, {Key: "b", Hosts: []string{"benthos"}}, {Key: "c", Hosts: []string{"telegraf", "benthos"}}}
	var got []string
	for _, o := range OptionsFor("telegraf", opts) {
		got = append(got, o.Key)
	}
	if !reflect.DeepEqual(got, []string{"a", "c"}) || len(opts) != 3 || opts[1].Key != "b" {
		t.Errorf("OptionsFor = %v; opts now %v", got, opts)
	}
}
