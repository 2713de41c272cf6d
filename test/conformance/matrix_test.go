package conformance

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/test/sim"
)

// The ambiguity matrix: every source runs an adversarial history against
// its simulator under each reading the vendor's document leaves open (the
// switches of test/sim, listed in test/sim/doc.go), and must deliver every
// event exactly once with no two events sharing an event id. `make test`
// runs a pairwise sample (every pair of readings of two axes meets in some
// cell); AUDITPULL_CONFORMANCE_FULL=1 (make conformance-full) runs the
// whole cross product.

// reading is one value of an axis: how the simulator behaves.
type reading struct {
	name  string
	apply func(o *simOptions)
}

// axis is one thing a document leaves open, and its readings.
type axis struct {
	name     string
	readings []reading
}

func r(name string, apply func(o *simOptions)) reading { return reading{name, apply} }

// sharedAxes apply to every vendor: no document says how ties are ordered
// or how far the API's clock may be from this machine's.
var sharedAxes = []axis{
	{"ties", []reading{
		r("insertion order", func(o *simOptions) { o.readings.Ties = sim.TiesInsertionOrder }),
		r("reversed", func(o *simOptions) { o.readings.Ties = sim.TiesReversed }),
	}},
	{"api clock", []reading{
		r("same", func(o *simOptions) {}),
		r("3m behind", func(o *simOptions) { o.readings.ClockSkew = -3 * time.Minute }),
		r("3m ahead", func(o *simOptions) { o.readings.ClockSkew = 3 * time.Minute }),
	}},
	{"429", []reading{
		r("with Retry-After", func(o *simOptions) {}),
		r("without Retry-After", func(o *simOptions) { o.readings.OmitRetryAfter = true }),
	}},
}

var nordPassAxes = []axis{
	{"timestamp_from", []reading{
		r("inclusive", func(o *simOptions) {}),
		r("exclusive", func(o *simOptions) { o.nordpass.FromExclusive = true }),
	}},
	{"timestamp_to", []reading{
		r("inclusive", func(o *simOptions) {}),
		r("exclusive", func(o *simOptions) { o.nordpass.ToExclusive = true }),
	}},
	{"metadata.total", []reading{
		r("exact", func(o *simOptions) {}),
		r("capped at 10,000", func(o *simOptions) { o.nordpass.Total = sim.NordPassTotalCapped }),
	}},
	{"a page straddling the cap", []reading{
		r("truncated", func(o *simOptions) {}),
		r("served whole", func(o *simOptions) { o.nordpass.StraddlingPage = sim.NordPassStraddleFull }),
		r("refused", func(o *simOptions) { o.nordpass.StraddlingPage = sim.NordPassStraddleRefused }),
	}},
	{"a page past the last", []reading{
		r("empty", func(o *simOptions) {}),
		r("refused", func(o *simOptions) { o.nordpass.RefusePastLastPage = true }),
	}},
	{"page size served", []reading{
		r("as asked", func(o *simOptions) {}),
		r("at most 24, said in metadata.per_page", func(o *simOptions) { o.nordpass.ServedPerPage = 24 }),
	}},
	{"record timestamps", []reading{
		r("Unix seconds", func(o *simOptions) {}),
		r("milliseconds", func(o *simOptions) { o.nordpass.MillisecondTimestamps = true }),
	}},
}

// userUUIDsAxis is NordPass's alone: the MSP API has no user filter.
var userUUIDsAxis = axis{"user_uuids", []reading{
	r("unset", func(o *simOptions) {}),
	r("every member, matching the user", func(o *simOptions) { o.filterUsers = true }),
	r("every member, matching the user or initiator", func(o *simOptions) {
		o.filterUsers, o.nordpass.UserFilter = true, sim.MatchUserOrInitiator
	}),
	r("every member, matching who acted", func(o *simOptions) { o.filterUsers, o.nordpass.UserFilter = true, sim.MatchActor }),
}}

func oloidReading(name string, f func(c *sim.OLOIDConfig)) reading {
	return r(name, func(o *simOptions) {
		prev := o.oloid
		o.oloid = func(c *sim.OLOIDConfig) {
			if prev != nil {
				prev(c)
			}
			f(c)
		}
	})
}

var oloidAxes = []axis{
	{"login answer", []reading{
		oloidReading("cognitoToken", func(c *sim.OLOIDConfig) { c.LoginShape = sim.OLOIDLoginCognito }),
		oloidReading("cognitoToken.AuthenticationResult", func(c *sim.OLOIDConfig) { c.LoginShape = sim.OLOIDLoginAuthenticationResult }),
		oloidReading("data", func(c *sim.OLOIDConfig) { c.LoginShape = sim.OLOIDLoginData }),
		oloidReading("top level", func(c *sim.OLOIDConfig) { c.LoginShape = sim.OLOIDLoginFlat }),
	}},
	{"login path", []reading{
		oloidReading("/login", func(c *sim.OLOIDConfig) { c.LoginPath = sim.OLOIDLoginPath }),
		oloidReading("/Login", func(c *sim.OLOIDConfig) { c.LoginPath = sim.OLOIDLoginPathCapitalized }),
	}},
	{"start", []reading{
		oloidReading("inclusive", func(c *sim.OLOIDConfig) {}),
		oloidReading("exclusive", func(c *sim.OLOIDConfig) { c.StartExclusive = true }),
	}},
	{"end", []reading{
		oloidReading("inclusive", func(c *sim.OLOIDConfig) {}),
		oloidReading("exclusive", func(c *sim.OLOIDConfig) { c.EndExclusive = true }),
	}},
	{"order", []reading{
		oloidReading("newest first", func(c *sim.OLOIDConfig) {}),
		oloidReading("oldest first", func(c *sim.OLOIDConfig) { c.Ascending = true }),
	}},
	{"last page", []reading{
		oloidReading("may be empty", func(c *sim.OLOIDConfig) {}),
		oloidReading("never empty", func(c *sim.OLOIDConfig) { c.NextTokenOnlyWhenMore = true }),
	}},
	{"no more pages", []reading{
		oloidReading("nextToken null", func(c *sim.OLOIDConfig) { c.NoMoreToken = sim.OLOIDNoMoreNull }),
		oloidReading(`nextToken ""`, func(c *sim.OLOIDConfig) { c.NoMoreToken = sim.OLOIDNoMoreEmpty }),
		oloidReading("no nextToken", func(c *sim.OLOIDConfig) { c.NoMoreToken = sim.OLOIDNoMoreAbsent }),
	}},
	{"response shape", []reading{
		oloidReading("data{activities, nextToken}", func(c *sim.OLOIDConfig) { c.Shape = sim.OLOIDShapeData }),
		oloidReading("activities, nextToken at the top level", func(c *sim.OLOIDConfig) { c.Shape = sim.OLOIDShapeTop }),
		oloidReading("data{activities}, nextToken beside it", func(c *sim.OLOIDConfig) { c.Shape = sim.OLOIDShapeMixed }),
	}},
	{"limit", []reading{
		oloidReading("a page's size", func(c *sim.OLOIDConfig) {}),
		oloidReading("the whole query's cap", func(c *sim.OLOIDConfig) { c.LimitCapsQuery = true }),
	}},
}

var qualtricsAxes = []axis{
	{"nextPage", []reading{
		r("a URL", func(o *simOptions) {}),
		r("a skipToken", func(o *simOptions) {
			o.qualtrics = func(c *sim.QualtricsConfig) { c.NextPageAsToken = true }
		}),
	}},
	{"last page", []reading{
		r("nextPage null when none is left", func(o *simOptions) {}),
		r("a nextPage after every full page", func(o *simOptions) {
			prev := o.qualtrics
			o.qualtrics = func(c *sim.QualtricsConfig) {
				if prev != nil {
					prev(c)
				}
				c.NextPageOnFullPage = true
			}
		}),
	}},
	{"event timestamps", []reading{
		r("UTC with Z, as the example", func(o *simOptions) {}),
		r("two hours east with a basic offset (+0200)", func(o *simOptions) {
			prev := o.qualtrics
			o.qualtrics = func(c *sim.QualtricsConfig) {
				if prev != nil {
					prev(c)
				}
				c.Timestamps = sim.QualtricsTimestampsBasicOffset
			}
		}),
	}},
}

func axesOf(vendor string) []axis {
	own := map[string][]axis{"nordpass": append(slices.Clone(nordPassAxes), userUUIDsAxis), "nordpass_msp": nordPassAxes,
		"oloid": oloidAxes, "qualtrics": qualtricsAxes}[vendor]
	return append(slices.Clone(own), sharedAxes...)
}

// cells returns the combinations to run: all of them, or a pairwise
// covering sample, built greedily (deterministic: the same cells every
// run).
func cells(axes []axis, full bool) [][]int {
	if full {
		out := [][]int{{}}
		for _, a := range axes {
			var next [][]int
			for _, c := range out {
				for v := range a.readings {
					next = append(next, append(slices.Clone(c), v))
				}
			}
			out = next
		}
		return out
	}
	type pair struct{ a, va, b, vb int }
	uncovered := map[pair]bool{}
	for a := range axes {
		for b := a + 1; b < len(axes); b++ {
			for va := range axes[a].readings {
				for vb := range axes[b].readings {
					uncovered[pair{a, va, b, vb}] = true
				}
			}
		}
	}
	var out [][]int
	for len(uncovered) > 0 {
		// Start from the first uncovered pair (in a fixed order), then give
		// every other axis the reading covering most uncovered pairs.
		var seed pair
		first := true
		for p := range uncovered {
			if first || p.a < seed.a || p.a == seed.a && (p.b < seed.b || p.b == seed.b && (p.va < seed.va || p.va == seed.va && p.vb < seed.vb)) {
				seed, first = p, false
			}
		}
		row := make([]int, len(axes))
		set := make([]bool, len(axes))
		row[seed.a], row[seed.b], set[seed.a], set[seed.b] = seed.va, seed.vb, true, true
		for a := range axes {
			if set[a] {
				continue
			}
			best, bestN := 0, -1
			for v := range axes[a].readings {
				n := 0
				for b := range axes {
					if set[b] {
						x, y, vx, vy := a, b, v, row[b]
						if x > y {
							x, y, vx, vy = y, x, vy, vx
						}
						if uncovered[pair{x, vx, y, vy}] {
							n++
						}
					}
				}
				if n > bestN {
					best, bestN = v, n
				}
			}
			row[a], set[a] = best, true
		}
		for a := range axes {
			for b := a + 1; b < len(axes); b++ {
				delete(uncovered, pair{a, row[a], b, row[b]})
			}
		}
		out = append(out, row)
	}
	return out
}

func TestAmbiguityMatrix(t *testing.T) {
	full := os.Getenv("AUDITPULL_CONFORMANCE_FULL") == "1"
	for _, v := range vendors {
		axes := axesOf(v.name)
		for k, cell := range cells(axes, full) {
			// Late events are caught by sweeps: each cell sweeps at one of
			// these intervals, so every reading meets each of them.
			sweep := sweepIntervals[k%len(sweepIntervals)]
			names := []string{"sweep=" + sweep}
			o := simOptions{}
			for a, i := range cell {
				rd := axes[a].readings[i]
				names = append(names, axes[a].name+"="+rd.name)
				rd.apply(&o)
			}
			t.Run(v.name+"/"+strings.Join(names, ","), func(t *testing.T) {
				t.Parallel()
				adversarial(t, v, o, sweep)
			})
		}
	}
}

// adversarial backfills two days that hold more records than NordPass's
// cap, with every edge a history can have — runs of one timestamp longer
// than a page, byte-identical events straddling a page boundary, events at
// midnight and just before it, events on the first window's bounds and
// either side of them, events that become visible late and events added
// while a window is paged — restarts in the middle of the backfill,
// polls on for six minutes, and requires every event exactly once, no two
// with the same event id.
func adversarial(t *testing.T, v vendor, o simOptions, sweep string) {
	const pageSize = 30 // does not divide NordPass's 10,000
	start := now0.Add(-2 * 24 * time.Hour)
	o.count, o.from, o.to = 1500, start, now0.Add(-2*time.Minute)
	if v.name == "nordpass" || v.name == "nordpass_msp" {
		o.count = 12000 // the first window holds more than the cap
	}
	r := newRig(t, v, o)
	r.Set("start_time", start.Format(time.RFC3339), "page_size", pageSize, "sweep_interval", sweep)

	midnight := now0.Truncate(24 * time.Hour)
	prec := time.Millisecond
	if v.name == "nordpass" || v.name == "nordpass_msp" {
		prec = time.Second
	}
	r.env.addBurst(midnight, pageSize+15)
	r.env.addBurst(midnight.Add(-prec), 3)
	// The first window's edges, and one unit either side of each: the
	// backfill's start (a record before it must not come) and its end, now
	// less settle_delay.
	edge := now0.Add(-settle)
	for _, at := range []time.Time{start.Add(-prec), start, start.Add(prec), edge.Add(-prec), edge, edge.Add(prec)} {
		r.env.addBurst(at, 2)
	}
	if r.env.addIdentical != nil {
		r.env.addIdentical(midnight.Add(-time.Hour), pageSize+10)
		r.env.addIdentical(midnight.Add(-2*time.Hour), 2)
	}
	served := 0
	var deep []string
	r.env.onServe(func(int) {
		served++
		if served == 5 || served == 9 {
			r.env.addLate(now0.Add(-90*time.Second), now0)
			deep = append(deep, string(r.env.addLate(now0.Add(-20*time.Hour), now0)))
		}
	})
	r.env.faults.Next(1, sim.Fault{Kind: sim.FaultThrottle, RetryAfter: time.Second})

	var got, ids []string
	p := r.Poller()
	take := func(n int) {
		t.Helper()
		g, i := readIDs(t, p, n)
		got, ids = append(got, g...), append(ids, i...)
	}
	take(5)
	p.Close(context.Background())
	p = r.Poller()
	defer func() { p.Close(context.Background()) }()
	take(-1)
	// Late: visible three minutes after their time, within settle_delay
	// and overlap (6 minutes) of every poll that follows. A sweep delivers
	// them within sweep_interval of becoming visible (by the API's clock,
	// which may be 3 minutes behind): poll six minutes, and one sweep
	// interval more.
	r.env.addLate(r.Clock.Now().Add(-2*time.Minute), r.Clock.Now().Add(time.Minute))
	r.env.addLate(r.Clock.Now().Add(-30*time.Second), r.Clock.Now().Add(3*time.Minute))
	d, err := time.ParseDuration(sweep)
	if err != nil {
		t.Fatal(err)
	}
	for range 12 + int((d+29*time.Second)/(30*time.Second)) {
		r.Clock.Advance(30 * time.Second)
		take(-1)
	}

	// What the API's clock allows by now: a clock behind ends the last
	// window that much earlier.
	end := r.Clock.Now().Add(-settle).Truncate(time.Second)
	if skew := o.readings.ClockSkew; skew < 0 {
		end = end.Add(skew)
	}
	want := testkit.Strings(r.env.truth(start, end))
	// A record added 20 hours back while the window was paged may fall
	// in pages already read, beyond any overlap: it is not required, but
	// it must not come twice (see insertedWhilePaging).
	for _, d := range deep {
		if n := len(got) - len(testkit.Minus(got, []string{d})); n > 1 {
			t.Fatalf("a record inserted while paging was delivered %d times", n)
		}
	}
	testkit.SameMultiset(t, testkit.Minus(got, deep), testkit.Minus(want, deep))
	if dup := duplicates(ids); len(dup) > 0 {
		t.Fatalf("%d events share an event_id with another, e.g. %v", len(dup), dup[:min(3, len(dup))])
	}
}

func duplicates(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if seen[id] {
			out = append(out, id)
		}
		seen[id] = true
	}
	return out
}

// The pairwise sample covers every pair of readings of any two axes.
func TestMatrixSampleCoversEveryPairOfReadings(t *testing.T) {
	for _, v := range vendors {
		axes := axesOf(v.name)
		sample := cells(axes, false)
		total := len(cells(axes, true))
		for a := range axes {
			for b := a + 1; b < len(axes); b++ {
				for va := range axes[a].readings {
					for vb := range axes[b].readings {
						if !slices.ContainsFunc(sample, func(c []int) bool { return c[a] == va && c[b] == vb }) {
							t.Errorf("%s: no cell has %s=%s with %s=%s", v.name, axes[a].name, axes[a].readings[va].name, axes[b].name, axes[b].readings[vb].name)
						}
					}
				}
			}
		}
		t.Logf("%s: %d cells of %d", v.name, len(sample), total)
	}
}

var _ = fmt.Sprint

// TestShuffledTiesAreReadWhole runs the adversarial history against APIs
// that serve records of one timestamp in a new order at every request (a
// search engine with several replicas can): by offset, a run of one
// timestamp split by a page boundary is read again by itself; by OLOID's
// nextToken, a key such an order leaves pointing past records of its
// instant, the next query starts at the instant instead (see
// keycursor_test.go). The pairwise matrix leaves this reading out: no
// client reads a run longer than the page the API serves (NordPass's
// served page of 24 against a run of 45) exactly under it.
func TestShuffledTiesAreReadWhole(t *testing.T) {
	for _, v := range vendors {
		for _, sweep := range sweepIntervals {
			t.Run(v.name+"/sweep="+sweep, func(t *testing.T) {
				t.Parallel()
				o := simOptions{}
				o.readings.Ties = sim.TiesShuffled
				adversarial(t, v, o, sweep)
			})
		}
	}
}
