package benthos

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A backfill is visible in Benthos: a log line at each tenth and the
// progress gauges, 1 once live.
func TestBackfillProgressIsLoggedAndPublished(t *testing.T) {
	s := startSim(t, 400, 5)
	out := newCollector()
	// The 49 hours are read in 4-hour windows.
	r := startRun(t, inputConf(s.srv.baseURL(), s.start, "max_window: 4h", "checkpoint: {path: "+t.TempDir()+"}"), "", out)
	waitFor(t, 30*time.Second, "every event", func() bool { return out.ackedCount() >= len(s.truth) })
	waitFor(t, 10*time.Second, "the backfill's end", func() bool { return strings.Contains(r.logs.String(), "backfill done") })
	r.stop(5 * time.Second)
	for _, line := range []string{"backfill progress", "progress=50"} {
		if !strings.Contains(r.logs.String(), line) {
			t.Errorf("the Benthos log lacks %q", line)
		}
	}
	if got := r.metrics.get("auditpull_backfill_progress"); got != 1 {
		t.Errorf("auditpull_backfill_progress once live = %v, want 1", got)
	}
	if got := r.metrics.get("auditpull_backfill_remaining_seconds"); got != 0 {
		t.Errorf("auditpull_backfill_remaining_seconds once live = %v, want 0", got)
	}
}

// format ocsf and ecs reach Benthos: every event, each message the
// normalised record with the id the event_id metadata gives.
func TestNormalisedFormatsReachBenthos(t *testing.T) {
	tests := []struct {
		format string
		id     func(r map[string]any) any
	}{
		{"ocsf", func(r map[string]any) any { m, _ := r["metadata"].(map[string]any); return m["uid"] }},
		{"ecs", func(r map[string]any) any { m, _ := r["event"].(map[string]any); return m["id"] }},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			s := startSim(t, 150, 6)
			out := newCollector()
			r := startRun(t, inputConf(s.srv.baseURL(), s.start, "format: "+tc.format, "checkpoint: {path: "+t.TempDir()+"}"), "", out)
			waitFor(t, 30*time.Second, "every event", func() bool { return out.ackedCount() >= len(s.truth) })
			r.stop(5 * time.Second)
			n := 0
			for _, b := range out.ackedBatches() {
				for i, raw := range b.raws {
					var rec map[string]any
					if err := json.Unmarshal(raw, &rec); err != nil {
						t.Fatalf("message is not JSON: %v", err)
					}
					if id := tc.id(rec); id != b.metas[i]["event_id"] {
						t.Fatalf("the %s record's id is %v, event_id %q", tc.format, id, b.metas[i]["event_id"])
					}
					n++
				}
			}
			if n != len(s.truth) {
				t.Fatalf("delivered %d events, want %d", n, len(s.truth))
			}
		})
	}
}
