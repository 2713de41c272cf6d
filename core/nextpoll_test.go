package core

import (
	"testing"
	"time"
)

// Live polls of a whole-second API land where the window end crosses a
// second, the nearest such moment, and never sooner than half a
// poll_interval on (a poll_interval below the precision would otherwise
// poll in a loop until the boundary passed).
func TestNextPollLandsOnTheNearestSecondAndNeverTooSoon(t *testing.T) {
	base := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		poll time.Duration
		now  time.Duration // after base
		want time.Duration // after base
	}{
		{"already on a boundary", 2 * time.Second, 0, 2 * time.Second},
		{"a little late: back to the boundary", 2 * time.Second, 300 * time.Millisecond, 2 * time.Second},
		{"more than half late: on to the next", 2 * time.Second, 700 * time.Millisecond, 3 * time.Second},
		{"a poll_interval below the precision is not pulled before now", 200 * time.Millisecond, 100 * time.Millisecond, time.Second},
		{"within 50 ms of a boundary is left alone", 2 * time.Second, 30 * time.Millisecond, 2030 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &Config{PollInterval: Duration(tc.poll), SettleDelay: Duration(time.Minute)}
			s := &stream{p: &Poller{cfg: cfg}, info: SourceInfo{Precision: time.Second}}
			now := base.Add(tc.now)
			got := s.nextPoll(now)
			if got != base.Add(tc.want) {
				t.Fatalf("next poll at +%v, want +%v", got.Sub(base), tc.want)
			}
			if got.Sub(now) < tc.poll/2 {
				t.Fatalf("next poll %v after now, sooner than half of poll_interval %v", got.Sub(now), tc.poll)
			}
		})
	}
}
