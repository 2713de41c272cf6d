package core

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// budget is one vendor limit's token bucket, shared by every stream of the
// process that spends it (see sharedBudget). It starts at the documented
// (or configured) rate. A 429 means the real limit is lower than that, or
// is shared with others behind the same address: the bucket then halves,
// and every stream on it waits out the vendor's Retry-After, not only the
// one that got the 429. It recovers by a twentieth of the documented rate
// per period without a 429, so a vendor limiting 60 requests per 10 s
// against a budget of 2000 per 5 minutes costs a few 429s, not one every
// 60 requests forever.
type budget struct {
	lim   *rate.Limiter
	base  Rate
	every time.Duration // refill interval at the documented rate
	burst int

	live atomic.Int32 // live requests waiting for their turn

	mu      sync.Mutex
	factor  float64   // share of the documented rate in force, (0, 1]
	changed time.Time // last decrease or recovery step
	pause   time.Time // the vendor's Retry-After, for every stream
}

// minBudgetFactor bounds the decrease: below 1/64 of the documented rate
// the 429s are not about rate any more.
const minBudgetFactor = 1.0 / 64

func newBudget(b Rate) *budget {
	// The burst is 4 % of the budget and the refill rate the rest spread
	// over the period, so no sliding window of one period ever sees more
	// than the documented number of requests, while a long backfill still
	// uses 96 % of it.
	burst := max(1, b.Requests*4/100)
	every := b.Period / time.Duration(max(1, b.Requests-burst))
	return &budget{lim: rate.NewLimiter(rate.Every(every), burst), base: b, every: every, burst: burst, factor: 1}
}

// wait blocks until a request may go. Live requests (reading the settled
// present) queue for the bucket in order; a backfill request (ctx marked by
// withBackfill) takes only a token that is free now while no live request
// waits, so a long backfill uses what live polls leave and never delays
// them by more than the one request it may have in flight.
func (b *budget) wait(ctx context.Context) error {
	b.mu.Lock()
	b.recover(time.Now())
	pause := time.Until(b.pause)
	b.mu.Unlock()
	if err := sleepCtx(ctx, pause); err != nil {
		return err
	}
	if !isBackfill(ctx) {
		b.live.Add(1)
		defer b.live.Add(-1)
		return b.lim.Wait(ctx)
	}
	for {
		if b.live.Load() == 0 && b.lim.Allow() {
			return nil
		}
		// Until the bucket should hold a whole token again; a live
		// request that took it makes this loop wait once more.
		d := time.Millisecond
		if tokens, per := b.lim.Tokens(), float64(b.lim.Limit()); tokens < 1 && per > 0 {
			d = max(d, time.Duration((1-tokens)/per*float64(time.Second)))
		}
		if err := sleepCtx(ctx, min(d, time.Second)); err != nil {
			return err
		}
	}
}

type backfillKey struct{}

// withBackfill marks ctx's requests as reading history: they yield the
// shared budget to live ones.
func withBackfill(ctx context.Context) context.Context {
	return context.WithValue(ctx, backfillKey{}, true)
}

func isBackfill(ctx context.Context) bool { return ctx.Value(backfillKey{}) != nil }

type noRetryWaitsKey struct{}

// withoutRetryWaits marks ctx's requests as tried once: a transient
// failure returns at once instead of sleeping before the next attempt, and
// the caller paces the retry (one tenant's outage must not hold the poll
// loop that the other tenants share).
func withoutRetryWaits(ctx context.Context) context.Context {
	return context.WithValue(ctx, noRetryWaitsKey{}, true)
}

func noRetryWaits(ctx context.Context) bool { return ctx.Value(noRetryWaitsKey{}) != nil }

// throttled records a 429 that the budget let through.
func (b *budget) throttled(retryAfter time.Duration) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if until := now.Add(retryAfter); until.After(b.pause) {
		b.pause = until
	}
	b.factor = max(b.factor/2, minBudgetFactor)
	b.changed = now
	b.apply(now)
}

// recover raises the rate by a twentieth of the documented one for each
// whole period since the last change. The caller holds b.mu.
func (b *budget) recover(now time.Time) {
	if b.factor >= 1 || b.base.Period <= 0 {
		return
	}
	steps := int(now.Sub(b.changed) / b.base.Period)
	if steps <= 0 {
		return
	}
	b.factor = min(1, b.factor+float64(steps)/20)
	b.changed = b.changed.Add(time.Duration(steps) * b.base.Period)
	b.apply(now)
}

// apply sets the bucket to factor of the documented rate. The caller holds
// b.mu.
func (b *budget) apply(now time.Time) {
	b.lim.SetLimitAt(now, rate.Every(time.Duration(float64(b.every)/b.factor)))
	b.lim.SetBurstAt(now, max(1, int(float64(b.burst)*b.factor)))
}

// perSecond is the rate in force, in requests per second.
func (b *budget) perSecond() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return float64(b.lim.Limit())
}

var (
	budgetsMu sync.Mutex
	budgets   = map[string]*budget{}
)

// sharedBudget returns the one budget for key.
func sharedBudget(key string, b Rate) *budget {
	budgetsMu.Lock()
	defer budgetsMu.Unlock()
	if x, ok := budgets[key]; ok {
		return x
	}
	x := newBudget(b)
	budgets[key] = x
	return x
}
