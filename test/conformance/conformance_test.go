// Package conformance holds the scenarios every source must pass against
// its simulator, end to end through the core: exact sets of delivered
// events (raw JSON as the vendor served it), across restarts, nacks, late
// events, ties at window edges, faults and credential failures.
package conformance

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	_ "github.com/auditpull/auditpull/core/source/all"
	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/test/sim"
)

var now0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

const settle = time.Minute

type rig struct {
	*testkit.Rig
	v   vendor
	env *simEnv
}

func newRig(t *testing.T, v vendor, o simOptions) *rig {
	t.Helper()
	r := &rig{Rig: testkit.NewRig(t, sim.NewFakeClock(now0), nil), v: v}
	o.clock = r.Clock
	r.env = v.start(t, o)
	t.Cleanup(func() {
		for _, l := range r.Log.Lines() {
			for _, secret := range r.env.secrets {
				if strings.Contains(l, secret) {
					t.Errorf("a log line leaks a secret: %s", l)
				}
			}
		}
		// The finished test outlives its cleanups (see serve).
		*r = rig{}
	})
	r.Cfg = defaults()
	r.Set("source", v.name, v.name, r.env.section)
	return r
}

// defaults is the config every scenario starts from, whatever the source
// and however many tenants, so that they all poll and retry alike.
func defaults() map[string]any {
	return map[string]any{
		"checkpoint.type":       "memory",
		"settle_delay":          settle.String(),
		"overlap":               "5m",
		"poll_interval":         "30s",
		"rate_limit.enabled":    false,
		"retry.initial_backoff": "2ms",
		"retry.max_backoff":     "20ms",
		"retry.max_attempts":    10,
	}
}

// read takes up to n batches (n < 0: until the poller is caught up),
// acking each, and returns their raw events.
func read(t *testing.T, p *core.Poller, n int) []string {
	t.Helper()
	raw, _ := readIDs(t, p, n)
	return raw
}

// readIDs is read, returning the events' ids too. "Caught up" is the
// poller's own word (a Next call waiting with every stream read), not a
// quiet period, which a Retry-After or a busy machine would outlast.
// Transient errors are retried, as hosts do; a fatal one, or a minute of
// nothing but errors, fails the test.
func readIDs(t *testing.T, p *core.Poller, n int) (raw, ids []string) {
	t.Helper()
	failing := time.Time{} // since when every Next failed
	for i := 0; n < 0 || i < n; i++ {
		b, err := testkit.NextOrCaughtUp(p, testkit.ReadLimit)
		switch {
		case err == nil && b == nil:
			if n >= 0 {
				t.Fatalf("caught up after %d of %d batches", i, n)
			}
			return raw, ids
		case err != nil && core.IsFatal(err):
			t.Fatalf("fatal: %v", err)
		case err != nil:
			if failing.IsZero() {
				failing = time.Now()
			} else if time.Since(failing) > time.Minute {
				t.Fatalf("every poll failed for %s: %v", time.Since(failing).Round(time.Millisecond), err)
			}
			i--
			continue
		}
		failing = time.Time{}
		for _, e := range b.Events {
			raw, ids = append(raw, string(e.Raw)), append(ids, e.ID)
		}
		b.Ack(nil)
	}
	return raw, ids
}

func raws(b *core.Batch) []string {
	out := make([]string, len(b.Events))
	for i, e := range b.Events {
		out[i] = string(e.Raw)
	}
	return out
}

// window is what a fresh stream starting at start must deliver by now.
func (r *rig) want(start time.Time) []string {
	return testkit.Strings(r.env.truth(start, r.Clock.Now().Add(-settle).Truncate(time.Second)))
}

func TestConformance(t *testing.T) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, v vendor)
	}{
		{"fresh start reads the default lookback", freshStart},
		{"long backfill crosses the cap in several windows", longBackfill},
		{"restart mid-window resumes without loss or duplicate", restartMidWindow},
		{"nack re-delivers the page and nothing else", nackRedelivery},
		{"out-of-order acks never commit past an unacked page", outOfOrderAcks},
		{"late events within settle_delay + overlap arrive exactly once", lateEvents},
		{"equal timestamps at a window edge are delivered once each", equalTimestampsAtEdge},
		{"a full second beside a burst is read whole, up to the cap together", burstBesideAFullSecond},
		{"events inserted while a window is paged are not lost or doubled", insertedWhilePaging},
		{"every fault type loses nothing", faults},
		{"a revoked credential stops the stream and keeps the checkpoint", revokedCredential},
		{"an expired session is renewed once and nothing is lost", sessionExpiry},
		{"invalid configuration names the key", invalidConfig},
	}
	for _, v := range vendors {
		for _, sc := range scenarios {
			t.Run(v.name+"/"+sc.name, func(t *testing.T) {
				t.Parallel()
				sc.run(t, v)
			})
		}
	}
}

func freshStart(t *testing.T, v vendor) {
	r := newRig(t, v, simOptions{count: 3000, from: now0.Add(-10 * 24 * time.Hour), to: now0})
	p := r.Poller()
	defer p.Close(context.Background())
	got := read(t, p, -1)
	// The source's default lookback is all the truth can tell: the first
	// event delivered must not be older than it, and all newer ones arrive.
	testkit.SameMultiset(t, got, r.want(now0.Add(-defaultLookback(v.name)).Truncate(time.Second)))
}

func defaultLookback(source string) time.Duration {
	switch source {
	case "nordpass_msp":
		return 30 * 24 * time.Hour
	}
	return 7 * 24 * time.Hour
}

func longBackfill(t *testing.T, v vendor) {
	if testing.Short() {
		t.Skip("long backfill")
	}
	start := now0.Add(-90 * 24 * time.Hour)
	r := newRig(t, v, simOptions{count: 60000, from: start, to: now0})
	r.Set("start_time", start.Format(time.RFC3339))
	p := r.Poller()
	defer p.Close(context.Background())
	testkit.SameMultiset(t, read(t, p, -1), r.want(start))
	if r.env.cap > 0 && p.Metrics().WindowSplits.Load() == 0 {
		t.Fatal("a 60,000-event window must have been split")
	}
}

func restartMidWindow(t *testing.T, v vendor) {
	start := now0.Add(-2 * 24 * time.Hour)
	r := newRig(t, v, simOptions{count: 4000, from: start, to: now0})
	r.Set("start_time", start.Format(time.RFC3339))
	p := r.Poller()
	got := read(t, p, 7)
	p.Close(context.Background())
	p = r.Poller()
	got = append(got, read(t, p, -1)...)
	p.Close(context.Background())
	testkit.SameMultiset(t, got, r.want(start))
}

func nackRedelivery(t *testing.T, v vendor) {
	start := now0.Add(-1 * 24 * time.Hour)
	r := newRig(t, v, simOptions{count: 1500, from: start, to: now0})
	r.Set("start_time", start.Format(time.RFC3339))
	p := r.Poller()
	defer p.Close(context.Background())
	ctx := context.Background()
	b1, err := p.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := p.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := raws(b1)
	b1.Ack(nil)
	b2.Ack(errors.New("output unavailable"))
	b2again, err := p.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	testkit.SameMultiset(t, raws(b2again), raws(b2))
	got = append(got, raws(b2again)...)
	b2again.Ack(nil)
	got = append(got, read(t, p, -1)...)
	testkit.SameMultiset(t, got, r.want(start))
}

func outOfOrderAcks(t *testing.T, v vendor) {
	start := now0.Add(-1 * 24 * time.Hour)
	r := newRig(t, v, simOptions{count: 1500, from: start, to: now0})
	r.Set("start_time", start.Format(time.RFC3339))
	p := r.Poller()
	ctx := context.Background()
	var bs []*core.Batch
	for i := 0; i < 4; i++ {
		b, err := p.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
	bs[3].Ack(nil)
	bs[2].Ack(nil)
	bs[0].Ack(nil)
	// Page 2 is never acked: the checkpoint may only cover page 1.
	p.Close(ctx)
	p = r.Poller()
	defer p.Close(ctx)
	testkit.SameMultiset(t, read(t, p, -1), testkit.Minus(r.want(start), raws(bs[0])))
}

// sweepIntervals are the sweep_interval values late events are tested
// under: a sweep at every poll, the default, and sweeps rarer than the
// overlap is long.
var sweepIntervals = []string{"0s", "1m", "4m", "10m"}

func lateEvents(t *testing.T, v vendor) {
	for _, sweep := range sweepIntervals {
		t.Run("sweep_interval "+sweep, func(t *testing.T) {
			r := newRig(t, v, simOptions{count: 200, from: now0.Add(-2 * time.Hour), to: now0})
			r.Set("initial_lookback", "1h", "sweep_interval", sweep)
			p := r.Poller()
			defer p.Close(context.Background())
			got := read(t, p, -1)
			// Visible 3 minutes after its timestamp: later than settle_delay
			// (1m), within settle_delay + overlap (6m); and one visible 6
			// minutes after it, at the limit.
			r.env.addLate(now0.Add(-2*time.Minute), now0.Add(time.Minute))
			r.env.addLate(now0.Add(90*time.Second), now0.Add(5*time.Minute))
			r.env.addLate(now0.Add(3*time.Minute), now0.Add(9*time.Minute))
			for i := 0; i < 36; i++ {
				r.Clock.Advance(30 * time.Second)
				got = append(got, read(t, p, -1)...)
			}
			testkit.SameMultiset(t, got, r.want(now0.Add(-time.Hour)))
		})
	}
}

func equalTimestampsAtEdge(t *testing.T, v vendor) {
	r := newRig(t, v, simOptions{count: 100, from: now0.Add(-2 * time.Hour), to: now0.Add(-time.Hour)})
	r.Set("initial_lookback", "3h")
	// The first window ends at now − settle: one burst just inside it, one
	// exactly on its (exclusive) end, one just after.
	edge := now0.Add(-settle)
	r.env.addBurst(edge.Add(-time.Second), 7)
	r.env.addBurst(edge, 9)
	r.env.addBurst(edge.Add(time.Second), 5)
	p := r.Poller()
	defer p.Close(context.Background())
	got := read(t, p, -1)
	for i := 0; i < 12; i++ {
		r.Clock.Advance(30 * time.Second)
		got = append(got, read(t, p, -1)...)
	}
	testkit.SameMultiset(t, got, r.want(now0.Add(-3*time.Hour)))
}

// Two neighbouring seconds that together pass the cap, each within it: a
// source asking a second one unit wider must not let the neighbour's
// records push the second's oldest past the cap (under NordPass's
// inclusive timestamp_to, 9,000 records at one second and 1,500 at the
// next lost 500), nor report any record unreachable.
func burstBesideAFullSecond(t *testing.T, v vendor) {
	if testing.Short() {
		t.Skip("10,500 records")
	}
	r := newRig(t, v, simOptions{count: 50, from: now0.Add(-2 * time.Hour), to: now0.Add(-time.Hour)})
	r.Set("initial_lookback", "3h")
	full, burst := 9000, 1500
	if r.env.cap > 0 {
		full, burst = r.env.cap*9/10, r.env.cap*15/100
	}
	at := now0.Add(-90 * time.Minute).Truncate(time.Second)
	r.env.addBurst(at, full)
	r.env.addBurst(at.Add(time.Second), burst)
	p := r.Poller()
	defer p.Close(context.Background())
	testkit.SameMultiset(t, read(t, p, -1), r.want(now0.Add(-3*time.Hour)))
	if n := p.Metrics().Unreachable.Load(); n != 0 {
		t.Errorf("unreachable = %d, want 0", n)
	}
}

func insertedWhilePaging(t *testing.T, v vendor) {
	r := newRig(t, v, simOptions{count: 600, from: now0.Add(-50 * time.Minute), to: now0.Add(-2 * time.Minute)})
	r.Set("initial_lookback", "1h")
	served := 0
	var deep []string
	r.env.onServe(func(int) {
		served++
		if served == 2 || served == 4 {
			// New records at the newest end of the window being paged, and
			// one deep inside it.
			r.env.addLate(now0.Add(-90*time.Second), now0)
			deep = append(deep, string(r.env.addLate(now0.Add(-30*time.Minute), now0)))
		}
	})
	p := r.Poller()
	defer p.Close(context.Background())
	got := read(t, p, -1)
	for i := 0; i < 12; i++ {
		r.Clock.Advance(30 * time.Second)
		got = append(got, read(t, p, -1)...)
	}
	// A record inserted 30 minutes back may land in pages already read
	// (newest-first APIs): it is reachable only within settle_delay +
	// overlap, which it is not, so the suite does not demand it — but it
	// must not arrive twice. Everything else must arrive exactly once.
	for _, d := range deep {
		if n := len(got) - len(testkit.Minus(got, []string{d})); n > 1 {
			t.Fatalf("a record inserted while paging was delivered %d times", n)
		}
	}
	testkit.SameMultiset(t, testkit.Minus(got, deep), testkit.Minus(r.want(now0.Add(-time.Hour)), deep))
}

func sessionExpiry(t *testing.T, v vendor) {
	start := now0.Add(-1 * 24 * time.Hour)
	r := newRig(t, v, simOptions{count: 1500, from: start, to: now0})
	if r.env.expireSession == nil {
		t.Skip(v.name + " uses a static token: nothing to renew")
	}
	r.Set("start_time", start.Format(time.RFC3339))
	p := r.Poller()
	defer p.Close(context.Background())
	got := read(t, p, 3)
	before := r.env.logins()
	r.env.expireSession()
	got = append(got, read(t, p, -1)...)
	testkit.SameMultiset(t, got, r.want(start))
	if after := r.env.logins(); after != before+1 {
		t.Fatalf("want exactly one re-authentication, got %d", after-before)
	}
}

func invalidConfig(t *testing.T, v vendor) {
	for _, bc := range v.badConfigs {
		t.Run(bc.name, func(t *testing.T) {
			_, err := core.ParseMap(map[string]any{"source": v.name, v.name: bc.section, "checkpoint.type": "memory"})
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Key != bc.key {
				t.Fatalf("want a ConfigError naming %s, got %v", bc.key, err)
			}
		})
	}
}

func faults(t *testing.T, v vendor) {
	for _, f := range []sim.Fault{
		{Kind: sim.FaultStatus5xx, Status: 503},
		{Kind: sim.FaultStatus5xx, Status: 500},
		{Kind: sim.FaultThrottle, RetryAfter: time.Second},
		{Kind: sim.FaultReset},
		{Kind: sim.FaultTruncated},
		{Kind: sim.FaultInvalidJSON},
		{Kind: sim.FaultLatency, Delay: 50 * time.Millisecond},
	} {
		t.Run(f.Kind.String(), func(t *testing.T) {
			start := now0.Add(-1 * 24 * time.Hour)
			r := newRig(t, v, simOptions{count: 1200, from: start, to: now0})
			r.Set("start_time", start.Format(time.RFC3339))
			r.env.faults.Next(1, f)
			r.env.faults.Random(0.25, 7, f)
			p := r.Poller()
			defer p.Close(context.Background())
			testkit.SameMultiset(t, read(t, p, -1), r.want(start))
			if r.env.faults.Injected()[f.Kind] == 0 {
				t.Fatal("no fault was injected")
			}
		})
	}
	t.Run("all kinds at once", func(t *testing.T) {
		start := now0.Add(-3 * 24 * time.Hour)
		r := newRig(t, v, simOptions{count: 5000, from: start, to: now0})
		r.Set("start_time", start.Format(time.RFC3339), "retry.max_attempts", 3)
		r.env.faults.Random(0.3, 11,
			sim.Fault{Kind: sim.FaultStatus5xx}, sim.Fault{Kind: sim.FaultReset}, sim.Fault{Kind: sim.FaultTruncated},
			sim.Fault{Kind: sim.FaultInvalidJSON}, sim.Fault{Kind: sim.FaultLatency, Delay: 10 * time.Millisecond})
		p := r.Poller()
		defer p.Close(context.Background())
		testkit.SameMultiset(t, read(t, p, -1), r.want(start))
	})
}

func revokedCredential(t *testing.T, v vendor) {
	start := now0.Add(-1 * 24 * time.Hour)
	r := newRig(t, v, simOptions{count: 1500, from: start, to: now0})
	r.Set("start_time", start.Format(time.RFC3339))
	p := r.Poller()
	ctx := context.Background()
	got := read(t, p, 3)
	// Let the background save land, then revoke.
	time.Sleep(50 * time.Millisecond)
	before, _ := r.Store.Load(ctx, p.Streams()[0])
	r.env.revoke()
	_, err := p.Next(ctx)
	if !core.IsFatal(err) {
		t.Fatalf("want a fatal error, got %v", err)
	}
	var ae *core.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("want an AuthError, got %T %v", err, err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Fatal("the error leaks the token")
	}
	p.Close(ctx)
	after, _ := r.Store.Load(ctx, p.Streams()[0])
	if cursorOf(t, before) != cursorOf(t, after) {
		t.Fatalf("checkpoint moved: %s -> %s", before, after)
	}
	_ = got
}

func cursorOf(t *testing.T, b []byte) string {
	t.Helper()
	s := string(b)
	i := strings.Index(s, `"updated"`)
	if i < 0 {
		t.Fatalf("no checkpoint: %s", s)
	}
	return s[:i]
}
