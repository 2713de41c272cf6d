package core

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Live polls share a vendor budget with backfills: the backfills take what
// the live polls leave, and a live request waits for its turn in the
// bucket, not behind the backfills' requests.
func TestBackfillYieldsTheBudgetToLiveRequests(t *testing.T) {
	b := newBudget(Rate{Requests: 10, Period: time.Second}) // a token every 111 ms, burst 1
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var backfill atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b.wait(withBackfill(ctx)) == nil {
				backfill.Add(1)
			}
		}()
	}
	// A live stream asking twice a second: a fifth of the budget.
	var live int
	var slowest time.Duration
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
		start := time.Now()
		if b.wait(ctx) != nil {
			break
		}
		live++
		slowest = max(slowest, time.Since(start))
	}
	wg.Wait()
	if live < 4 {
		t.Fatalf("the live stream got %d requests in 3 s; want one per 500 ms", live)
	}
	// One token interval (111 ms) is the wait when a backfill request took
	// the token just before; queued behind the eight backfills' requests
	// it would be about 900 ms.
	if slowest > 450*time.Millisecond {
		t.Fatalf("a live request waited %v for the budget", slowest)
	}
	if backfill.Load() < 10 {
		t.Fatalf("the backfills got %d requests; they should use what the live stream leaves", backfill.Load())
	}
}
