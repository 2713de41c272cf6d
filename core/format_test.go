package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
	"github.com/auditpull/auditpull/core/normalize"
)

// The fake source's records are JSON strings of no known source: in a
// normalised format each one is delivered as a base event keeping the
// record, and counted as unmapped; raw delivers them untouched.
func TestFormatRendersEveryEventAndCountsTheUnmapped(t *testing.T) {
	for _, tc := range []struct {
		format   string
		unmapped int64
		check    func(t *testing.T, raw, id string)
	}{
		{"raw", 0, func(t *testing.T, raw, id string) {
			if raw != `"`+id+`"` {
				t.Errorf("raw event %s changed: %s", id, raw)
			}
		}},
		{"ocsf", 5, func(t *testing.T, raw, id string) {
			var ev struct {
				ClassUID *int `json:"class_uid"`
				Metadata struct {
					UID     string `json:"uid"`
					Version string `json:"version"`
				} `json:"metadata"`
				Unmapped struct{ Raw string } `json:"unmapped"`
			}
			if err := json.Unmarshal([]byte(raw), &ev); err != nil || ev.ClassUID == nil || *ev.ClassUID != 0 ||
				ev.Metadata.UID != id || ev.Metadata.Version != normalize.OCSFVersion || ev.Unmapped.Raw != `"`+id+`"` {
				t.Errorf("not a base event keeping %s: %s (%v)", id, raw, err)
			}
		}},
		{"ecs", 5, func(t *testing.T, raw, id string) {
			var doc struct {
				Event struct{ ID string } `json:"event"`
				ECS   struct{ Version string }
			}
			if err := json.Unmarshal([]byte(raw), &doc); err != nil || doc.Event.ID != id || doc.ECS.Version != normalize.ECSVersion {
				t.Errorf("not an ECS document of %s: %s (%v)", id, raw, err)
			}
		}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			h := newHarness(t, 100, 10000)
			ids := h.history(5, t0.Add(-time.Hour))
			cfg, err := core.ParseMap(map[string]any{"source": "fake", "stream": h.name, "checkpoint.type": "memory",
				"initial_lookback": "1d", "format": tc.format})
			if err != nil {
				t.Fatal(err)
			}
			m := &core.Metrics{}
			p, err := core.NewPoller(context.Background(), cfg, core.Options{Store: checkpoint.NewMemory(), Clock: h.clock, Metrics: m})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())
			got := map[string]string{}
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
				b, err := p.Next(ctx)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range b.Events {
					got[e.ID] = string(e.Raw)
				}
				b.Ack(nil)
			}
			if len(got) != len(ids) {
				t.Fatalf("delivered %d events, want %d", len(got), len(ids))
			}
			for _, id := range ids {
				tc.check(t, got[id], id)
			}
			if n := m.UnmappedEvents.Load(); n != tc.unmapped {
				t.Errorf("unmapped_events %d, want %d", n, tc.unmapped)
			}
			if n := m.Snapshot()["unmapped_events"]; int64(n) != tc.unmapped {
				t.Errorf("snapshot unmapped_events %v, want %d", n, tc.unmapped)
			}
		})
	}
}

func TestFormatRejectsAnUnknownValueNamingTheChoices(t *testing.T) {
	_, err := core.ParseMap(with(base(), "format", "cef"))
	var ce *core.ConfigError
	if !errors.As(err, &ce) || ce.Key != "format" || !strings.Contains(err.Error(), `"raw", "ocsf", "ecs"`) {
		t.Fatalf("got %v, want a config error naming format and its values", err)
	}
}

// The option's documentation states the schema versions the output follows.
func TestFormatDocNamesTheSchemaVersions(t *testing.T) {
	for _, o := range core.CoreOptions() {
		if o.Key == "format" {
			if !strings.Contains(o.Doc, "OCSF "+normalize.OCSFVersion) || !strings.Contains(o.Doc, "ECS "+normalize.ECSVersion) {
				t.Errorf("format's doc does not name OCSF %s and ECS %s: %s", normalize.OCSFVersion, normalize.ECSVersion, o.Doc)
			}
			return
		}
	}
	t.Fatal("no format option")
}
