package core_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
)

type typedSettings struct {
	Greeting string `config:"greeting" default:"hello" doc:"A word."`
}

type typedChecked struct{ greeting string }

var (
	typedChecks atomic.Int32
	typedOpened atomic.Pointer[typedChecked]
)

func init() {
	core.RegisterTyped("typed", "A source registered typed.",
		func(_ *core.Config, s *typedSettings) (*typedChecked, error) {
			typedChecks.Add(1)
			if s.Greeting == "" {
				return nil, &core.ConfigError{Key: "typed.greeting", Msg: "required"}
			}
			return &typedChecked{greeting: strings.ToUpper(s.Greeting)}, nil
		},
		func(_ context.Context, _ core.SourceEnv, p *typedChecked) ([]core.Source, error) {
			typedOpened.Store(p)
			return nil, nil
		})
}

func TestRegisterTyped(t *testing.T) {
	for _, tc := range []struct {
		name       string
		section    map[string]any
		wantErr    string // "" when the config is valid
		wantOpened string // what Open was handed
	}{
		{"the section's defaults are unpacked", nil, "", "HELLO"},
		{"the section's values are unpacked and checked", map[string]any{"greeting": "hi"}, "", "HI"},
		{"a failed check rejects the config", map[string]any{"greeting": ""}, "typed.greeting", ""},
		{"an undeclared key rejects the config", map[string]any{"greting": "hi"}, "typed.greting", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typedChecks.Store(0)
			typedOpened.Store(nil)
			m := map[string]any{"source": "typed", "checkpoint.type": "memory"}
			if tc.section != nil {
				m["typed"] = tc.section
			}
			cfg, err := core.ParseMap(m)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := core.NewPoller(context.Background(), cfg, core.Options{Store: checkpoint.NewMemory()})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())
			if got := typedOpened.Load(); got == nil || got.greeting != tc.wantOpened {
				t.Errorf("Open was handed %+v; want %q", got, tc.wantOpened)
			}
			if n := typedChecks.Load(); n != 1 {
				t.Errorf("the section was checked %d times; want once, when the config was parsed", n)
			}
		})
	}
	if s, ok := core.SourceSettings("typed").(*typedSettings); !ok || s.Greeting != "" {
		t.Errorf("SourceSettings = %#v; want a zero *typedSettings", core.SourceSettings("typed"))
	}
}
