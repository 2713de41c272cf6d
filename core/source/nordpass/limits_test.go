package nordpass_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/test/sim"
)

// budgetRun backfills one organization per token from one simulated
// NordPass host (its limit counted per client IP, as documented), each
// stream with its own poller, all at once, and returns what the API
// refused and the last budget the streams reported.
func budgetRun(t *testing.T, tokens []string, count, limit int, window time.Duration, budget map[string]any) (throttled int, perSecond float64) {
	t.Helper()
	np := sim.NewNordPass(sim.NordPassConfig{Seed: 3, Count: count, From: now0.Add(-24 * time.Hour), To: now0,
		RateLimit: limit, RateWindow: window})
	for _, tok := range tokens {
		np.AddToken(tok, sim.TokenValid)
	}
	srv := httptest.NewServer(sim.NewServer().Mount(sim.NordPassPrefix, np))
	defer srv.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, tok := range tokens {
		extra := map[string]any{"nordpass.token": tok, "stream": tok, "page_size": 10, "rate_limit.enabled": true,
			"start_time": now0.Add(-25 * time.Hour).Format(time.RFC3339), "settle_delay": "0s", "retry.max_attempts": 20}
		for k, v := range budget {
			extra[k] = v
		}
		p := poller(t, srv.URL+sim.NordPassPrefix, sim.NewFakeClock(now0), extra)
		wg.Add(1)
		go func() {
			defer wg.Done()
			events, err := testkit.Drain(p, -1)
			got := len(events)
			if err != nil || got != count {
				t.Errorf("stream %s delivered %d of %d: %v", tok, got, count, err)
			}
			mu.Lock()
			perSecond = p.Metrics().Snapshot()["rate_budget"]
			mu.Unlock()
		}()
	}
	wg.Wait()
	return np.Throttled(), perSecond
}

// NordPass limits requests "per IP address": two tokens used from one
// process share one budget, so together they stay within the limit. The
// budget is a tenth below the limit: a request the bucket lets go may
// reach the server a scheduling delay later, next to the following one,
// and a budget of exactly the limit then sees 41 in one of the server's
// windows on a busy machine. Not sharing it would send 72 a second.
func TestTwoTokensFromOneProcessShareThePerIPBudget(t *testing.T) {
	t.Parallel()
	throttled, _ := budgetRun(t, []string{"np-token-a-1234", "np-token-b-5678"}, 600, 40, time.Second,
		map[string]any{"rate_limit.requests": 36, "rate_limit.period": "1s"})
	if throttled != 0 {
		t.Fatalf("the API refused %d requests: the two tokens each used the whole per-IP budget", throttled)
	}
}

// A vendor whose real limit is below the budget (here a quarter of it)
// answers 429 at first; the budget halves at each until it is below what
// the vendor allows, so the rest of the backfill goes through without
// more, and the budget in force is a metric. Kept at the documented
// budget, a client would take a 429 every 20 requests (7 in this run).
func TestABudgetAboveTheVendorsLimitComesDownAfterA429(t *testing.T) {
	t.Parallel()
	throttled, perSecond := budgetRun(t, []string{"np-token-c-9012"}, 1500, 20, 500*time.Millisecond,
		map[string]any{"rate_limit.requests": 800, "rate_limit.period": "5s"})
	if throttled > 4 {
		t.Errorf("the API refused %d of about 150 requests; the budget should have come down after the first few", throttled)
	}
	if perSecond <= 0 || perSecond >= 40 {
		t.Errorf("rate_budget %.1f/s at the end; want the lowered budget, below the vendor's 40/s", perSecond)
	}
	t.Logf("%d requests refused; budget at the end %.1f/s (configured 160/s, the vendor allows 40/s)", throttled, perSecond)
}

// A backfill longer than 90 days runs in windows the API accepts: no
// request spans more than 90 days, even counting both bounds.
func TestABackfillOf200DaysNeverAsksForMoreThan90(t *testing.T) {
	t.Parallel()
	start := now0.Add(-200 * 24 * time.Hour)
	clock := sim.NewFakeClock(now0)
	np := sim.NewNordPass(sim.NordPassConfig{Seed: 4, Count: 3000, From: start, To: now0.Add(-time.Hour), Clock: clock, RateLimit: -1})
	np.AddToken(token, sim.TokenValid)
	inner := sim.NewServer().Mount(sim.NordPassPrefix, np)
	var mu sync.Mutex
	longest := int64(0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var q struct{ TimestampFrom, TimestampTo int64 }
		if json.Unmarshal(b, &struct {
			F *int64 `json:"timestamp_from"`
			T *int64 `json:"timestamp_to"`
		}{&q.TimestampFrom, &q.TimestampTo}) == nil {
			mu.Lock()
			longest = max(longest, q.TimestampTo-q.TimestampFrom+1)
			mu.Unlock()
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	p := poller(t, srv.URL+sim.NordPassPrefix, clock, map[string]any{"start_time": start.Format(time.RFC3339)})
	got, err := testkit.Drain(p, -1)
	if err != nil || len(got) != 3000 {
		t.Fatalf("delivered %d of 3000: %v", len(got), err)
	}
	if span := time.Duration(longest) * time.Second; span > 90*24*time.Hour || span < 80*24*time.Hour {
		t.Fatalf("the longest request spans %s counting both bounds; want at most 90 days (and windows near it)", span)
	}
}

// NordPass does not say whether timestamp_to is inclusive, so a second is
// asked one second wider. Under an inclusive timestamp_to the query for a
// second then also returns the next second's records, newest first, and
// where the two together pass the 10,000 cap, the cap cut off the oldest
// of the second asked for: 9,000 records at one second and 1,500 at the
// next lost 500. Every reading of the bounds delivers them all, whether
// the records carry seconds or milliseconds, across a restart in the
// middle of the full second, and reports nothing unreachable.
func TestAFullSecondBesideABurstIsReadWholeUnderEveryReadingOfTheBounds(t *testing.T) {
	at := now0.Add(-3 * time.Hour)
	for _, rd := range []struct {
		name   string
		bounds sim.NordPassReadings
	}{
		{"both inclusive", sim.NordPassReadings{}},
		{"to exclusive", sim.NordPassReadings{ToExclusive: true}},
		{"from exclusive", sim.NordPassReadings{FromExclusive: true}},
		{"both exclusive", sim.NordPassReadings{FromExclusive: true, ToExclusive: true}},
		{"both inclusive, milliseconds", sim.NordPassReadings{MillisecondTimestamps: true}},
	} {
		for _, stopAfter := range []int{0, 60} {
			t.Run(fmt.Sprintf("%s, stopped after %d pages", rd.name, stopAfter), func(t *testing.T) {
				// Not in parallel: the rate budget tests beside it need the
				// machine not to be saturated.
				clock := sim.NewFakeClock(now0)
				org := testkit.NewOrg(t, sim.NordPassConfig{Seed: 9, Count: 50, From: now0.Add(-6 * time.Hour), To: now0.Add(-time.Hour),
					Clock: clock, RateLimit: -1, NordPassReadings: rd.bounds}, token)
				for i := range 9000 {
					org.NP.AddEvent(at, time.Time{}, "burst", fmt.Sprintf("first_%d", i), i%7)
				}
				for i := range 1500 {
					org.NP.AddEvent(at.Add(time.Second), time.Time{}, "burst", fmt.Sprintf("next_%d", i), i%7)
				}
				r := testkit.NewRig(t, clock, map[string]any{
					"source": "nordpass", "nordpass.base_url": org.Base, "nordpass.token": token,
					"checkpoint.type": "memory", "rate_limit.enabled": false, "page_size": 100,
					"start_time": org.Start.Format(time.RFC3339),
				})
				got, unreachable := r.DrainAcrossRestart(stopAfter)
				testkit.SameMultiset(t, got, org.Truth())
				if unreachable != 0 {
					t.Errorf("unreachable = %d, want 0", unreachable)
				}
			})
		}
	}
}
