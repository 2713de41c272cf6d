package core

import (
	"net/http"
	"testing"
	"time"
)

// The API's clock is learnt from Date headers, whole seconds truncated: the
// estimate is never below the truth and sheds the dropped fraction over a
// few answers, and a clock that falls further behind is believed at once.
func TestAPIClockEstimateNeverUnderstatesAndShedsTheDroppedFraction(t *testing.T) {
	base := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	answer := func(c *apiClock, at time.Time, behind time.Duration) {
		c.observe(at, at.Add(-behind).UTC().Format(http.TimeFormat))
	}
	tests := []struct {
		name   string
		behind []time.Duration // the API's true lag at each answer
		slack  time.Duration   // how far above the last lag the estimate may be
	}{
		{"one answer overstates by at most its dropped fraction", []time.Duration{3 * time.Second}, time.Second},
		{"many answers approach the truth", repeat(3*time.Second, 16), 100 * time.Millisecond},
		{"a clock falling further behind is believed at once", append(repeat(0, 16), 5*time.Second), time.Second},
		{"a clock catching up is believed at once", append(repeat(5*time.Second, 16), 0), time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &apiClock{}
			at := base.Add(700 * time.Millisecond)
			for _, b := range tc.behind {
				answer(c, at, b)
				at = at.Add(1130 * time.Millisecond) // answers at every fraction of a second
			}
			got, truth := c.Behind(), tc.behind[len(tc.behind)-1]
			if got < truth || got > truth+tc.slack {
				t.Fatalf("estimate %v, want %v to %v more", got, truth, tc.slack)
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}
