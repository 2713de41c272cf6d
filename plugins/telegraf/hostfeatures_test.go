package auditpull

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
)

// A backfill is visible in Telegraf: a log line at each tenth, the
// progress gauges in the statistics measurement, 1 once live.
func TestBackfillProgressIsLoggedAndPublished(t *testing.T) {
	f := newFixture(t, 400)
	a, l := f.plugin(t, t.TempDir())
	a.MaxWindow = config.Duration(4 * time.Hour) // the 48 hours take a dozen windows
	a.StatsInterval = config.Duration(100 * time.Millisecond)
	s := start(t, a, l, nil)
	want := len(f.Truth())
	waitFor(t, "every event and the statistics after them", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.stats) == 0 {
			return false
		}
		v, _ := s.stats[len(s.stats)-1].GetField("events")
		return v == int64(want)
	})
	a.Stop()
	for _, line := range []string{"backfill progress", "progress=50", "backfill done"} {
		if !l.contains(line) {
			t.Errorf("the log lacks %q:\n%s", line, l.text())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.stats[len(s.stats)-1]
	if v, _ := last.GetField("backfill_progress"); v != 1.0 {
		t.Errorf("backfill_progress once live: %v, want 1", v)
	}
	if v, _ := last.GetField("backfill_remaining_seconds"); v != 0.0 {
		t.Errorf("backfill_remaining_seconds once live: %v, want 0", v)
	}
}

// format ocsf and ecs reach Telegraf's outputs: every event, each message
// the normalised record carrying the event's id.
func TestNormalisedFormatsReachTheOutputs(t *testing.T) {
	tests := []struct {
		format string
		id     func(rec map[string]any) any
	}{
		{"ocsf", func(rec map[string]any) any { return rec["metadata"].(map[string]any)["uid"] }},
		{"ecs", func(rec map[string]any) any { return rec["event"].(map[string]any)["id"] }},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			f := newFixture(t, 120)
			a, l := f.plugin(t, t.TempDir())
			a.Format = tc.format
			s := start(t, a, l, nil)
			want := len(f.Truth())
			waitFor(t, "every event", func() bool { _, n := s.counts(); return n >= want })
			a.Stop()
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.accepted) != want {
				t.Fatalf("delivered %d events, want %d", len(s.accepted), want)
			}
			for _, m := range s.events {
				msg, _ := m.GetField("message")
				id, _ := m.GetField("event_id")
				var rec map[string]any
				if err := json.Unmarshal([]byte(msg.(string)), &rec); err != nil {
					t.Fatalf("message is not JSON: %v", err)
				}
				if got := tc.id(rec); got != id {
					t.Fatalf("the %s record's id is %v, the event's %v", tc.format, got, id)
				}
			}
		})
	}
}
