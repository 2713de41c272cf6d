package core_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
	"github.com/auditpull/auditpull/internal/testkit"
)

// fakeSource is a page-numbered, newest-first API with a cap, like
// NordPass, held in memory so the poller's rules can be tested exactly.
type fakeSource struct {
	mu       sync.Mutex
	recs     []fakeRec
	perPage  int
	cap      int
	clock    core.Clock
	fail     []error     // next Fetch calls fail with these
	failOpen []error     // next Open calls fail with these
	onFetch  func(n int) // called after each successful fetch
	// onQuery sees each first-page query, and whether it starts before
	// the newest time an earlier query asked for (a sweep).
	onQuery func(q core.Query, behind bool)
	newest  time.Time
	fetches int
	// shuffle serves the records of one timestamp in a new order at every
	// request, as an API with several replicas may.
	shuffle bool
	// keyCursor declares the cursor a key (SourceInfo.KeyCursor); such an
	// API numbers no pages, so the poller does not treat it as one.
	keyCursor bool
	// widen serves the records of that much before each query's start
	// too, as sources that ask one unit wider do.
	widen   time.Duration
	queries []core.Query
}

type fakeRec struct {
	id      string // vendor identity (content) — may repeat
	t       time.Time
	visible time.Time
}

var fakes sync.Map // stream name -> *fakeSource

func init() {
	core.Register("fake", core.Factory{
		Validate: func(*core.Config) error { return nil },
		Settings: func() any { return &struct{}{} },
		Open: func(_ context.Context, env core.SourceEnv) ([]core.Source, error) {
			v, _ := fakes.Load(env.Config.Stream)
			f := v.(*fakeSource)
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.failOpen) > 0 {
				err := f.failOpen[0]
				f.failOpen = f.failOpen[1:]
				return nil, err
			}
			return []core.Source{f}, nil
		},
	})
}

func (f *fakeSource) Info() core.SourceInfo {
	return core.SourceInfo{Source: "fake", Stream: "fake", MaxSpan: 90 * 24 * time.Hour, DefaultLookback: 7 * 24 * time.Hour,
		Precision: time.Second, Cap: f.cap, Partitions: 1, PageNumbered: !f.keyCursor, ContentIDs: true, KeyCursor: f.keyCursor}
}

func (f *fakeSource) add(id string, t, visible time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs = append(f.recs, fakeRec{id: id, t: t, visible: visible})
}

func (f *fakeSource) Fetch(_ context.Context, q core.Query) (core.Page, error) {
	f.mu.Lock()
	if len(f.fail) > 0 {
		err := f.fail[0]
		f.fail = f.fail[1:]
		f.mu.Unlock()
		return core.Page{}, err
	}
	if q.Cursor == "" && f.onQuery != nil {
		f.onQuery(q, q.From.Before(f.newest))
	}
	if q.To.After(f.newest) {
		f.newest = q.To
	}
	now := f.clock.Now()
	var m []fakeRec
	for _, r := range f.recs {
		if !r.t.Before(q.From.Add(-f.widen)) && r.t.Before(q.To) && !r.visible.After(now) {
			m = append(m, r)
		}
	}
	sort.SliceStable(m, func(i, j int) bool { return m[i].t.After(m[j].t) })
	if f.shuffle {
		for i := 0; i < len(m); {
			j := i
			for j < len(m) && m[j].t.Equal(m[i].t) {
				j++
			}
			run := m[i:j]
			k := (f.fetches * 3) % len(run)
			slices.Reverse(run[:k])
			slices.Reverse(run[k:])
			slices.Reverse(run)
			i = j
		}
	}
	f.queries = append(f.queries, q)
	if f.keyCursor && len(f.queries) > 200 { // no key cursor test asks as many
		panic(fmt.Sprint("no end: ", f.queries[:20]))
	}
	page := 1
	if q.Cursor != "" {
		if _, err := fmt.Sscan(q.Cursor, &page); err != nil {
			panic("a cursor this source never gave: " + q.Cursor)
		}
	}
	total := len(m)
	reach := min(total, f.cap)
	lo, hi := min((page-1)*f.perPage, reach), min(page*f.perPage, reach)
	out := core.Page{Total: total}
	for _, r := range m[lo:hi] {
		out.Events = append(out.Events, core.Event{ID: r.id, Time: r.t, Raw: []byte(`"` + r.id + `"`)})
	}
	if hi < reach {
		out.Next = fmt.Sprint(page + 1)
	}
	f.fetches++
	n := f.fetches
	cb := f.onFetch
	f.mu.Unlock()
	if cb != nil {
		cb(n)
	}
	return out, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t     *testing.T
	src   *fakeSource
	clock *clock
	store *checkpoint.Memory
	name  string
	extra map[string]any
}

func newHarness(t *testing.T, perPage, capN int) *harness {
	name := t.Name()
	c := &clock{t: t0}
	f := &fakeSource{perPage: perPage, cap: capN, clock: c}
	fakes.Store(name, f)
	return &harness{t: t, src: f, clock: c, store: checkpoint.NewMemory(), name: name, extra: map[string]any{}}
}

// history adds n events e00, e01, … one minute apart going back from
// newest, each visible from its own time, and returns their ids.
func (h *harness) history(n int, newest time.Time) []string {
	ids := make([]string, n)
	for i := range ids {
		ts := newest.Add(-time.Duration(i) * time.Minute)
		ids[i] = fmt.Sprintf("e%02d", i)
		h.src.add(ids[i], ts, ts)
	}
	return ids
}

func (h *harness) poller() *core.Poller {
	h.t.Helper()
	m := map[string]any{"source": "fake", "stream": h.name, "checkpoint.type": "memory",
		"settle_delay": "1m", "overlap": "5m", "poll_interval": "1h", "initial_lookback": "1d"}
	for k, v := range h.extra {
		m[k] = v
	}
	cfg, err := core.ParseMap(m)
	if err != nil {
		h.t.Fatal(err)
	}
	p, err := core.NewPoller(context.Background(), cfg, core.Options{Store: h.store, Clock: h.clock})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// drain reads until the poller has nothing due, acking everything, and
// returns the delivered ids in delivery order.
func drain(t *testing.T, p *core.Poller) []string {
	t.Helper()
	var got []string
	for {
		b, err := testkit.NextOrCaughtUp(p, testkit.ReadLimit)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if b == nil {
			return got
		}
		for _, e := range b.Events {
			got = append(got, e.ID)
		}
		b.Ack(nil)
	}
}

// takePages reads and acks n pages, calling afterAck after each ack, and
// returns the delivered ids.
func takePages(t *testing.T, p *core.Poller, n int, afterAck func()) []string {
	t.Helper()
	var got []string
	for i := 0; i < n; i++ {
		b, err := p.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Events {
			got = append(got, e.ID)
		}
		b.Ack(nil)
		afterAck()
	}
	return got
}

func TestPollerDeliversTheLookbackExactlyOnce(t *testing.T) {
	h := newHarness(t, 10, 10000)
	var want []string
	for i := 0; i < 95; i++ {
		ts := t0.Add(-time.Duration(i) * 10 * time.Minute)
		id := fmt.Sprintf("e%03d", i)
		h.src.add(id, ts, ts)
		// Inside the lookback and settled: [now-1d, now-1m).
		if ts.Before(t0.Add(-time.Minute)) && !ts.Before(t0.Add(-24*time.Hour)) {
			want = append(want, id)
		}
	}
	p := h.poller()
	defer p.Close(context.Background())
	testkit.SameMultiset(t, drain(t, p), want)
}

func TestPollerSplitsWindowsBeyondTheCapAndLosesNothing(t *testing.T) {
	h := newHarness(t, 100, 1000)
	h.extra["start_time"] = t0.Add(-30 * 24 * time.Hour).Format(time.RFC3339)
	var want []string
	for i := 0; i < 12000; i++ {
		ts := t0.Add(-time.Duration(i)*3*time.Minute - time.Hour)
		id := fmt.Sprintf("e%05d", i)
		h.src.add(id, ts, ts)
		if !ts.Before(t0.Add(-30 * 24 * time.Hour)) {
			want = append(want, id)
		}
	}
	p := h.poller()
	defer p.Close(context.Background())
	testkit.SameMultiset(t, drain(t, p), want)
	if p.Metrics().WindowSplits.Load() == 0 {
		t.Fatal("expected the window to be split")
	}
}

func TestPollerDeliversReachableRecordsOfAnUnsplittableSecondAndCountsTheRest(t *testing.T) {
	h := newHarness(t, 100, 300)
	ts := t0.Add(-2 * time.Hour)
	for i := 0; i < 450; i++ {
		h.src.add(fmt.Sprintf("same%03d", i), ts, ts)
	}
	p := h.poller()
	defer p.Close(context.Background())
	got := drain(t, p)
	if len(got) != 300 || p.Metrics().Unreachable.Load() != 150 {
		t.Fatalf("delivered %d, unreachable %d; want 300 and 150", len(got), p.Metrics().Unreachable.Load())
	}
}

func TestCheckpointAdvancesOnlyOverContiguousAcks(t *testing.T) {
	h := newHarness(t, 10, 10000)
	want := h.history(30, t0.Add(-time.Hour))
	p := h.poller()
	ctx := context.Background()
	b1, _ := p.Next(ctx)
	b2, _ := p.Next(ctx)
	b3, _ := p.Next(ctx)
	// Acks out of order, the first page never: nothing may be committed.
	b3.Ack(nil)
	b2.Ack(nil)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_ = b1
	p = h.poller()
	got := drain(t, p)
	p.Close(ctx)
	// The restart re-reads everything: at-least-once, all 30 again.
	testkit.SameMultiset(t, got, want)

	// Now ack 1 and 2, but not 3: a restart re-delivers exactly page 3.
	h2 := newHarness(t, 10, 10000)
	h2.name = t.Name() + "/2"
	fakes.Store(h2.name, h.src)
	h2.src = h.src
	p = h2.poller()
	b1, _ = p.Next(ctx)
	b2, _ = p.Next(ctx)
	b3, _ = p.Next(ctx)
	b2.Ack(nil)
	b1.Ack(nil)
	p.Close(ctx)
	p = h2.poller()
	got = drain(t, p)
	p.Close(ctx)
	var third []string
	for _, e := range b3.Events {
		third = append(third, e.ID)
	}
	testkit.SameMultiset(t, got, third)
}

func TestNackRedeliversTheSameBatchBeforeNewPages(t *testing.T) {
	h := newHarness(t, 10, 10000)
	want := h.history(25, t0.Add(-time.Hour))
	p := h.poller()
	defer p.Close(context.Background())
	ctx := context.Background()
	b1, _ := p.Next(ctx)
	b1.Ack(errors.New("output down"))
	again, err := p.Next(ctx)
	if err != nil || !slices.EqualFunc(again.Events, b1.Events, func(a, b core.Event) bool { return a.ID == b.ID }) {
		t.Fatalf("want the nacked batch again, got %v %v", again, err)
	}
	again.Ack(nil)
	var got []string
	for _, e := range again.Events {
		got = append(got, e.ID)
	}
	got = append(got, drain(t, p)...)
	testkit.SameMultiset(t, got, want)
}

// A host that takes records into a volatile buffer first (Fluent Bit's
// ring buffer) calls Handed: polling goes on beyond max_undelivered_pages,
// but the checkpoint waits for the Ack, so a crash in between re-delivers
// the handed pages instead of losing them.
func TestHandedFreesTheSlotButKeepsTheCheckpoint(t *testing.T) {
	h := newHarness(t, 10, 10000)
	want := h.history(30, t0.Add(-time.Hour))
	h.extra["max_undelivered_pages"] = 1
	ctx := context.Background()
	p := h.poller()
	var handed []*core.Batch
	var got []string
	for range 3 {
		// With one slot, a second Next would block unless Handed freed it.
		nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		b, err := p.Next(nctx)
		cancel()
		if err != nil {
			t.Fatalf("Next after %d handed pages: %v", len(handed), err)
		}
		b.Handed()
		handed = append(handed, b)
		for _, e := range b.Events {
			got = append(got, e.ID)
		}
	}
	testkit.SameMultiset(t, got, want)
	handed[0].Ack(nil)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The crash: only the acked page is behind the checkpoint.
	cp, err := h.store.Load(ctx, h.name)
	if err != nil {
		t.Fatal(err)
	}
	p.Close(ctx)
	h.store = checkpoint.NewMemory()
	if err := h.store.Save(ctx, h.name, cp); err != nil {
		t.Fatal(err)
	}
	q := h.poller()
	again := drain(t, q)
	q.Close(ctx)
	var unacked []string
	for _, b := range handed[1:] {
		for _, e := range b.Events {
			unacked = append(unacked, e.ID)
		}
	}
	testkit.SameMultiset(t, again, unacked)
}

func TestRestartMidWindowResumesWithoutLossOrDuplicate(t *testing.T) {
	h := newHarness(t, 10, 10000)
	want := h.history(57, t0.Add(-time.Hour))
	ctx := context.Background()
	p := h.poller()
	got := takePages(t, p, 3, func() {})
	p.Close(ctx)
	p = h.poller()
	got = append(got, drain(t, p)...)
	p.Close(ctx)
	testkit.SameMultiset(t, got, want)
}

// A host whose ack means the events are already out of its hands (Fluent
// Bit) calls Flush after acking: a crash right after loses no ack, so
// nothing is delivered twice.
func TestFlushSavesAcksBeforeReturningSoACrashRedeliversNothing(t *testing.T) {
	h := newHarness(t, 10, 10000)
	want := h.history(57, t0.Add(-time.Hour))
	ctx := context.Background()
	p := h.poller()
	defer p.Close(ctx)
	got := takePages(t, p, 3, func() {
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	})
	// The crash: what the store holds the moment Flush returned is all a
	// new process finds.
	cp, err := h.store.Load(ctx, h.name)
	if err != nil {
		t.Fatal(err)
	}
	h.store = checkpoint.NewMemory()
	if err := h.store.Save(ctx, h.name, cp); err != nil {
		t.Fatal(err)
	}
	q := h.poller()
	got = append(got, drain(t, q)...)
	q.Close(ctx)
	testkit.SameMultiset(t, got, want)
}

func TestOverlapDeliversLateAndIdenticalEventsExactlyOnce(t *testing.T) {
	h := newHarness(t, 10, 10000)
	h.extra["poll_interval"] = "30s"
	p := h.poller()
	defer p.Close(context.Background())
	// Two genuine, byte-identical events in the same second, read by the
	// first window and re-read by the overlap of the next ones.
	twin := t0.Add(-3 * time.Minute)
	h.src.add("twin", twin, twin)
	h.src.add("twin", twin, twin)
	got := drain(t, p)
	// An event that becomes visible 3 minutes after its timestamp: later
	// than settle_delay (1m), within settle_delay + overlap (6m).
	late := t0.Add(-2 * time.Minute)
	h.src.add("late", late, t0.Add(time.Minute))
	for i := 0; i < 12; i++ {
		h.clock.Advance(30 * time.Second)
		got = append(got, drain(t, p)...)
	}
	// Identical copies get numbered ids, so a SIEM keying on the id keeps
	// both.
	testkit.SameMultiset(t, got, []string{"twin", "twin-2", "late"})
	if p.Metrics().DuplicatesSuppressed.Load() == 0 {
		t.Fatal("overlap re-reads should have been suppressed")
	}
}

// Between sweeps a poll asks only for time after the cursor; a sweep
// reaches back over the overlap, and a checkpoint keeps how far back the
// next one must reach, so a restart neither misses a late event nor
// re-reads more than the overlap.
func TestPollsBetweenSweepsReadOnlyNewTime(t *testing.T) {
	h := newHarness(t, 10, 10000)
	h.extra["poll_interval"] = "30s"
	h.extra["sweep_interval"] = "3m"
	var backward []time.Time // sweeps: the start of each query behind the cursor
	var polls int
	p := h.poller()
	got := drain(t, p)
	h.src.mu.Lock()
	h.src.onQuery = func(q core.Query, cursorAhead bool) {
		polls++
		if cursorAhead {
			backward = append(backward, q.From)
		}
	}
	h.src.mu.Unlock()
	late := t0.Add(-30 * time.Second)
	h.src.add("late", late, t0.Add(2*time.Minute))
	for range 7 { // 3.5 minutes: one sweep after the first poll, the next at 3m
		h.clock.Advance(30 * time.Second)
		got = append(got, drain(t, p)...)
	}
	if len(backward) != 2 || polls != 7 {
		t.Fatalf("%d queries reached behind the newest read time in %d polls; want the 2 sweeps", len(backward), polls)
	}
	// Restarted: the first window is a sweep from where the last one's
	// reach ended, not from the cursor − overlap.
	p.Close(context.Background())
	h.src.add("late2", t0.Add(time.Minute), t0.Add(4*time.Minute))
	p = h.poller()
	defer p.Close(context.Background())
	h.clock.Advance(30 * time.Second)
	got = append(got, drain(t, p)...)
	testkit.SameMultiset(t, got, []string{"late", "late2"})
}

func TestRecordsInsertedWhilePagingAreNeitherLostNorDoubled(t *testing.T) {
	h := newHarness(t, 10, 10000)
	want := h.history(40, t0.Add(-10*time.Minute))
	h.extra["poll_interval"] = "30s"
	// After the first page, two late records appear at the newest end of
	// the window: every later page shifts by two.
	h.src.onFetch = func(n int) {
		if n == 1 {
			ts := t0.Add(-2 * time.Minute)
			h.src.add("ins1", ts, ts)
			h.src.add("ins2", ts.Add(time.Second), ts.Add(time.Second))
		}
	}
	want = append(want, "ins1", "ins2")
	p := h.poller()
	defer p.Close(context.Background())
	got := drain(t, p)
	for i := 0; i < 4; i++ {
		h.clock.Advance(30 * time.Second)
		got = append(got, drain(t, p)...)
	}
	testkit.SameMultiset(t, got, want)
}

// Identical records are one content id: a genuine copy that starts a page
// looks like a repeat of the previous page's last record. When the total
// grew by a record that landed behind the read position, nothing shifted,
// and every copy is delivered (the previous page, read again, is
// unchanged).
func TestACopyStartingAPageIsNotTakenForARepeatWhenNothingShifted(t *testing.T) {
	h, ts := copiesAcrossAPage(t)
	h.src.onFetch = func(n int) {
		if n == 1 {
			old := ts.Add(-2 * time.Hour) // older than page 2: shifts nothing
			h.src.add("old", old, old)
		}
	}
	p := h.poller()
	defer p.Close(context.Background())
	testkit.SameMultiset(t, drain(t, p), []string{"a", "b", "dup", "dup-2", "dup-3", "dup-4", "old"})
}

// A window read whole because it held fewer records than the API returns
// can grow past that cap while it is paged; the API then stops before its
// oldest records. The rest of it is read again as a piece of its own: none
// is lost, and only the records of the second where the first read
// stopped may come twice.
func TestAWindowGrowingPastTheCapWhilePagedReadsItsOlderPartAgain(t *testing.T) {
	h, want := grownWindow(t)
	p := h.poller()
	defer p.Close(context.Background())
	got := h.pollLive(t, p, 12)
	if missing := testkit.Minus(want, got); len(missing) > 0 {
		t.Fatalf("lost %d records: %v", len(missing), missing)
	}
	// One record a minute: the second where the first read stopped holds one.
	if extra := testkit.Minus(got, want); len(extra) > 1 {
		t.Fatalf("%d records delivered twice, want at most the one of the boundary second: %v", len(extra), extra)
	}
	if p.Metrics().WindowSplits.Load() == 0 {
		t.Error("the re-read is not counted in window_splits")
	}
}

// The pieces that re-read a window grown past the cap are saved and
// loaded like any other: a restart at any page of it loses nothing, and
// repeats no more than the read without a restart, the one record of the
// second where the first read stopped. (Before, a restart read the part
// every partition had read again: 10 repeats.) A restart after the first
// page, before the growth is seen, meets records added while it was
// stopped between two pages, which repeat the page before (README, "Not
// guaranteed").
func TestARestartWhileAGrownWindowIsReadAgainLosesNothing(t *testing.T) {
	for _, c := range []struct{ after, repeats int }{{1, 11}, {2, 1}, {3, 1}, {5, 1}, {8, 1}} {
		after := c.after
		t.Run(fmt.Sprintf("restart after %d pages", after), func(t *testing.T) {
			h, want := grownWindow(t)
			p := h.poller()
			got := takePages(t, p, after, func() {})
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			p = h.poller()
			defer p.Close(context.Background())
			got = append(got, h.pollLive(t, p, 12)...)
			if missing := testkit.Minus(want, got); len(missing) > 0 {
				t.Fatalf("lost %d records: %v", len(missing), missing)
			}
			if extra := testkit.Minus(got, want); len(extra) > c.repeats {
				t.Fatalf("%d records delivered twice, want at most %d: %v", len(extra), c.repeats, extra)
			}
		})
	}
}

// copiesAcrossAPage is a history of four identical records, "dup" at ts,
// between "a" a minute later and "b" a minute earlier, read in pages of 3:
// a, dup, dup | dup, dup, b.
func copiesAcrossAPage(t *testing.T) (h *harness, ts time.Time) {
	h = newHarness(t, 3, 10000)
	ts = t0.Add(-6 * time.Hour)
	h.src.add("a", ts.Add(time.Minute), ts.Add(time.Minute))
	for range 4 {
		h.src.add("dup", ts, ts)
	}
	h.src.add("b", ts.Add(-time.Minute), ts.Add(-time.Minute))
	return h, ts
}

// grownWindow is a window of 95 records, one a minute, read whole under a
// cap of 100, in which 10 more records become visible once its first page
// is read; want is all 105.
func grownWindow(t *testing.T) (h *harness, want []string) {
	h = newHarness(t, 10, 100)
	want = h.history(95, t0.Add(-10*time.Minute))
	h.extra["poll_interval"] = "30s"
	h.src.onFetch = func(n int) {
		if n == 1 {
			for i := 0; i < 10; i++ {
				ts := t0.Add(-2*time.Minute - time.Duration(i)*time.Second)
				h.src.add(fmt.Sprintf("ins%02d", i), ts, ts)
			}
		}
	}
	for i := 0; i < 10; i++ {
		want = append(want, fmt.Sprintf("ins%02d", i))
	}
	return h, want
}

// pollLive drains p, then polls times more, 30 s apart.
func (h *harness) pollLive(t *testing.T, p *core.Poller, times int) []string {
	t.Helper()
	got := drain(t, p)
	for range times {
		h.clock.Advance(30 * time.Second)
		got = append(got, drain(t, p)...)
	}
	return got
}

func TestFatalErrorStopsTheStreamAndKeepsTheCheckpoint(t *testing.T) {
	h := newHarness(t, 10, 10000)
	for i := 0; i < 25; i++ {
		ts := t0.Add(-time.Hour - time.Duration(i)*time.Minute)
		h.src.add(fmt.Sprintf("e%02d", i), ts, ts)
	}
	ctx := context.Background()
	p := h.poller()
	b, _ := p.Next(ctx)
	b.Ack(nil)
	h.src.fail = []error{&core.AuthError{Op: "fake", Status: 403, Reason: "token introspection failed"}}
	_, err := p.Next(ctx)
	if !core.IsFatal(err) {
		t.Fatalf("want a fatal error, got %v", err)
	}
	if _, err2 := p.Next(ctx); !core.IsFatal(err2) {
		t.Fatalf("the stream must stay stopped, got %v", err2)
	}
	p.Close(ctx)
	saved, _ := h.store.Load(ctx, h.name)
	p = h.poller()
	got := drain(t, p)
	p.Close(ctx)
	if len(got) != 15 {
		t.Fatalf("after the fix, the 15 undelivered events follow; got %d (checkpoint %s)", len(got), saved)
	}
}

func TestTransientErrorsAreReportedAndPolledAgain(t *testing.T) {
	h := newHarness(t, 10, 10000)
	h.extra["poll_interval"] = "1s"
	h.extra["retry.max_backoff"] = "100ms"
	h.extra["retry.initial_backoff"] = "10ms"
	want := h.history(15, t0.Add(-time.Hour))
	h.src.fail = []error{&core.TransientError{Op: "fake", Err: errors.New("503")}}
	p := h.poller()
	defer p.Close(context.Background())
	if _, err := p.Next(context.Background()); err == nil || core.IsFatal(err) {
		t.Fatalf("want a transient error, got %v", err)
	}
	testkit.SameMultiset(t, drain(t, p), want)
}

func TestCorruptCheckpointIsAStartupErrorNamingItsPlaceAndTheWayBack(t *testing.T) {
	dir := t.TempDir()
	st, err := checkpoint.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"garbage":                   "{not json",
		"a newer release's version": `{"version":99,"stream":"x","cursor":"2026-01-01T00:00:00Z"}`,
		"no cursor":                 `{"version":1,"stream":"%s"}`,
		"bad window":                `{"version":1,"stream":"%s","cursor":"2026-01-01T00:00:00Z","window":{"from":"2026-01-02T00:00:00Z","to":"2026-01-01T00:00:00Z","pieces":[]}}`,
		"version 2, no cursor":      `{"version":2,"stream":"%s"}`,
		"version 2, bad piece":      `{"version":2,"stream":"%s","cursor":1767225600000000000,"window":{"unit":1000000000,"from":1767225600,"to":1767312000,"reread":1767225600,"pieces":[1767139200]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, 10, 100)
			if err := st.Save(context.Background(), h.name, []byte(fmt.Sprintf(content, h.name))); err != nil {
				t.Fatal(err)
			}
			cfg, _ := core.ParseMap(map[string]any{"source": "fake", "stream": h.name, "checkpoint.type": "file", "checkpoint.path": dir})
			_, err := core.NewPoller(context.Background(), cfg, core.Options{Clock: h.clock})
			var ce *core.CheckpointError
			if !errors.As(err, &ce) || ce.Where != st.Path(h.name) {
				t.Fatalf("want a CheckpointError naming %s, got %v", st.Path(h.name), err)
			}
			if !strings.Contains(err.Error(), st.Path(h.name)+".prev") {
				t.Errorf("the error must name the previous durable checkpoint to roll back to, got %v", err)
			}
		})
	}
	t.Run("a bad checkpoint in the journal names the journal, which is read first", func(t *testing.T) {
		// A newer release killed before its journal was folded into the
		// file, then a downgrade: removing the file alone would not help.
		h := newHarness(t, 10, 100)
		journaled, err := checkpoint.NewFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		journaled.SyncEvery(time.Hour)
		for _, content := range []string{`{"version":2,"stream":"%s","cursor":1767225600000000000}`, `{"version":99,"stream":"%s"}`} {
			if err := journaled.Save(context.Background(), h.name, []byte(fmt.Sprintf(content, h.name))); err != nil {
				t.Fatal(err)
			}
		}
		if err := journaled.Close(); err != nil { // the newest line stays in the journal
			t.Fatal(err)
		}
		cfg, _ := core.ParseMap(map[string]any{"source": "fake", "stream": h.name, "checkpoint.type": "file", "checkpoint.path": dir})
		_, err = core.NewPoller(context.Background(), cfg, core.Options{Clock: h.clock})
		var ce *core.CheckpointError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "version 99") || !strings.Contains(err.Error(), st.Path(h.name)+".journal is read first") {
			t.Fatalf("want a CheckpointError naming the journal, got %v", err)
		}
	})
	t.Run("in a key-value store, the error says its copy is the same save", func(t *testing.T) {
		// The copy guards against a torn write, not a bad save: pointing an
		// operator at it as a way back would only repeat the failure.
		h := newHarness(t, 10, 100)
		kvs := checkpoint.NewKVStore(checkpoint.NewMemoryKV(), checkpoint.KVStoreOptions{Name: `cache "state"`})
		if err := kvs.Save(context.Background(), h.name, []byte(`{"version":99}`)); err != nil {
			t.Fatal(err)
		}
		cfg, _ := core.ParseMap(map[string]any{"source": "fake", "stream": h.name})
		_, err := core.NewPoller(context.Background(), cfg, core.Options{Clock: h.clock, Store: kvs})
		var ce *core.CheckpointError
		if !errors.As(err, &ce) || ce.Where != kvs.Where(h.name) || !strings.Contains(err.Error(), "holds the same save") || strings.Contains(err.Error(), ".prev") {
			t.Fatalf("want a CheckpointError naming %s and its copy as the same save, got %v", kvs.Where(h.name), err)
		}
	})
	t.Run("a journal damaged before its end", func(t *testing.T) {
		h := newHarness(t, 10, 100)
		if err := os.WriteFile(st.Path(h.name)+".journal", []byte("00000000 {}\n00000000 {}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, _ := core.ParseMap(map[string]any{"source": "fake", "stream": h.name, "checkpoint.type": "file", "checkpoint.path": dir})
		_, err := core.NewPoller(context.Background(), cfg, core.Options{Clock: h.clock})
		var ce *core.CheckpointError
		if !errors.As(err, &ce) || !core.IsFatal(err) || !strings.Contains(err.Error(), st.Path(h.name)+".journal") {
			t.Fatalf("want a fatal CheckpointError naming the journal, got %v", err)
		}
	})
}

// A checkpoint saved by a release that wrote format version 1, after the
// first page of a window that ends in four identical records.
const v1AfterFirstPage = `{"version":1,"stream":"%s","cursor":"%s","window":{"from":"%[2]s","to":"%[3]s","reread":"%[2]s",` +
	`"pieces":[{"from":"%[2]s","to":"%[3]s"}],"partition":0,"page":"2","total":6,"live":true,` +
	`"run":{"t":%[4]d,"ids":[{"id":"dup","n":2}]}},"updated":"%[3]s"}`

func TestAVersion1CheckpointResumesWhereItStoppedAndIsSavedAsVersion2(t *testing.T) {
	h, ts := copiesAcrossAPage(t)
	from, to := t0.Add(-24*time.Hour).Format(time.RFC3339), t0.Add(-time.Minute).Format(time.RFC3339)
	ctx := context.Background()
	if err := h.store.Save(ctx, h.name, fmt.Appendf(nil, v1AfterFirstPage, h.name, from, to, ts.UnixMilli())); err != nil {
		t.Fatal(err)
	}
	p := h.poller()
	got := drain(t, p)
	p.Close(ctx)
	testkit.SameMultiset(t, got, []string{"b", "dup-3", "dup-4"})
	saved, _ := h.store.Load(ctx, h.name)
	if !strings.HasPrefix(string(saved), `{"version":2,`) {
		t.Fatalf("saved as %s", saved)
	}
	p = h.poller()
	defer p.Close(ctx)
	if got := drain(t, p); len(got) != 0 {
		t.Fatalf("the version 2 checkpoint delivered %v again", got)
	}
}

func TestAStartBeforeWhatACheckpointHoldsBeginsIn1970(t *testing.T) {
	h := newHarness(t, 10, 10000)
	h.extra["start_time"] = "1500-01-01T00:00:00Z"
	want := h.history(5, t0.Add(-time.Hour))
	h.src.add("epoch", time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC())
	// Before the first time a checkpoint holds: no audit log has it.
	h.src.add("1500", time.Date(1500, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(1500, 2, 1, 0, 0, 0, 0, time.UTC))
	p := h.poller()
	got := drain(t, p)
	p.Close(context.Background())
	testkit.SameMultiset(t, got, append(want, "epoch"))
	p = h.poller() // fails if the checkpoint does not load
	defer p.Close(context.Background())
	if got := drain(t, p); len(got) != 0 {
		t.Fatalf("delivered %v again", got)
	}
}

func TestCloseEndsABlockedNextAndKeepsTheLastCommit(t *testing.T) {
	h := newHarness(t, 10, 10000)
	ts := t0.Add(-time.Hour)
	h.src.add("only", ts, ts)
	p := h.poller()
	if got := drain(t, p); len(got) != 1 {
		t.Fatalf("got %v", got)
	}
	done := make(chan error, 1)
	go func() { _, err := p.Next(context.Background()); done <- err }()
	time.Sleep(50 * time.Millisecond)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, core.ErrClosed) || !core.IsFatal(err) {
			t.Fatalf("Next after Close must fail with the fatal ErrClosed, got %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not end the blocked Next")
	}
	p = h.poller()
	defer p.Close(context.Background())
	if got := drain(t, p); len(got) != 0 {
		t.Fatalf("a restart after a clean close re-delivered %v", got)
	}
}

func TestCaughtUpAndReleaseSupportRunOnceAndDryRuns(t *testing.T) {
	h := newHarness(t, 10, 10000)
	for i := 0; i < 25; i++ {
		ts := t0.Add(-time.Hour - time.Duration(i)*time.Minute)
		h.src.add(fmt.Sprintf("e%02d", i), ts, ts)
	}
	ctx := context.Background()
	p := h.poller()
	// A dry run shows pages and releases them: the checkpoint stays.
	for i := 0; i < 3; i++ {
		b, err := p.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b.Release()
	}
	if p.CaughtUp() {
		t.Fatal("caught up while pages remain")
	}
	p.Close(ctx)
	p = h.poller()
	defer p.Close(ctx)
	// drain ends when a Next call waits with everything read (CaughtUp).
	if got := drain(t, p); len(got) != 25 {
		t.Fatalf("released pages must be read again; got %d events", len(got))
	}
	if p.CaughtUp() {
		t.Fatal("caught up with no Next call waiting")
	}
}

func TestIdenticalCopiesGetNumberedIDsInTheMiddleOfAWindow(t *testing.T) {
	h := newHarness(t, 10, 10000)
	ts := t0.Add(-6 * time.Hour) // far from the overlap regions: not tracked
	for _, id := range []string{"a", "dup", "dup", "b", "dup"} {
		h.src.add(id, ts, ts)
	}
	p := h.poller()
	defer p.Close(context.Background())
	testkit.SameMultiset(t, drain(t, p), []string{"a", "b", "dup", "dup-2", "dup-3"})
}

// Identical copies (content ids) may straddle a page boundary, and a
// restart may fall between those pages: the numbering goes on across both,
// so no two delivered events share an id (a SIEM keying on it would keep
// one).
func TestIdenticalCopiesAcrossPagesAndRestartsGetDistinctIDs(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(map[bool]string{false: "across a page boundary", true: "across a restart between those pages"}[restart], func(t *testing.T) {
			h, _ := copiesAcrossAPage(t)
			p := h.poller()
			got := takePages(t, p, 1, func() {})
			if restart {
				p.Close(context.Background())
				p = h.poller()
			}
			got = append(got, drain(t, p)...)
			p.Close(context.Background())
			testkit.SameMultiset(t, got, []string{"a", "b", "dup", "dup-2", "dup-3", "dup-4"})
		})
	}
}

func TestDeferredOpen(t *testing.T) {
	unavailable := &core.TransientError{Op: "listing activity types", Err: errors.New("503 Service Unavailable")}
	open := func(h *harness, deferOpen bool) (*core.Poller, error) {
		cfg, err := core.ParseMap(map[string]any{"source": "fake", "stream": h.name, "checkpoint.type": "memory",
			"settle_delay": "1m", "overlap": "5m", "poll_interval": "1h", "initial_lookback": "1d",
			"retry.initial_backoff": "10ms"})
		if err != nil {
			t.Fatal(err)
		}
		return core.NewPoller(context.Background(), cfg, core.Options{Store: h.store, Clock: h.clock, DeferOpen: deferOpen})
	}
	t.Run("a source that cannot list its streams yet starts, and Next delivers everything once it can", func(t *testing.T) {
		h := newHarness(t, 10, 10000)
		want := h.history(35, t0.Add(-time.Hour))
		h.src.failOpen = []error{unavailable, unavailable, unavailable}
		p, err := open(h, true)
		if err != nil {
			t.Fatalf("NewPoller: %v", err)
		}
		defer p.Close(context.Background())
		if s := p.Streams(); len(s) != 0 {
			t.Fatalf("streams before the source opened: %v", s)
		}
		for i := 0; i < 2; i++ {
			if _, err := p.Next(context.Background()); err == nil || core.IsFatal(err) {
				t.Fatalf("Next %d: want a transient error, got %v", i, err)
			}
		}
		testkit.SameMultiset(t, drain(t, p), want)
		if s := p.Streams(); len(s) != 1 {
			t.Fatalf("streams after the source opened: %v", s)
		}
	})
	t.Run("without DeferOpen NewPoller reports the failure", func(t *testing.T) {
		h := newHarness(t, 10, 10000)
		h.src.failOpen = []error{unavailable}
		if _, err := open(h, false); !errors.Is(err, unavailable) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a fatal failure still refuses to start", func(t *testing.T) {
		h := newHarness(t, 10, 10000)
		h.src.failOpen = []error{&core.RequestError{Op: "listing activity types", Status: 401, Reason: "invalid token"}}
		if _, err := open(h, true); err == nil || !core.IsFatal(err) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a corrupt checkpoint found later stops the poller", func(t *testing.T) {
		h := newHarness(t, 10, 10000)
		h.src.failOpen = []error{unavailable}
		if err := h.store.Save(context.Background(), h.name, []byte("{not json")); err != nil {
			t.Fatal(err)
		}
		p, err := open(h, true)
		if err != nil {
			t.Fatalf("NewPoller: %v", err)
		}
		defer p.Close(context.Background())
		var ce *core.CheckpointError
		if _, err := p.Next(context.Background()); !errors.As(err, &ce) || !core.IsFatal(err) {
			t.Fatalf("want a fatal CheckpointError, got %v", err)
		}
		if _, err := p.Next(context.Background()); !errors.As(err, &ce) {
			t.Fatalf("the failure must stick, got %v", err)
		}
	})
}

// A backfill reports how far it is: the history left, a 0–1 ratio and an
// ETA as gauges, and a log line at each tenth; all settle when it is live.
func TestBackfillProgressIsReportedAtEachTenthAndEndsAtOne(t *testing.T) {
	h := newHarness(t, 10, 10000)
	h.extra["start_time"] = t0.Add(-10 * 24 * time.Hour).Format(time.RFC3339)
	h.extra["max_window"] = "1d"
	for d := range 10 {
		ts := t0.Add(-time.Duration(d)*24*time.Hour - time.Hour)
		h.src.add(fmt.Sprintf("d%d", d), ts, ts)
	}
	// Each request takes a second of the poller's clock: an ETA needs a
	// rate, and without a budget it is the rate seen.
	h.src.onFetch = func(int) { h.clock.Advance(time.Second) }
	var mu sync.Mutex
	var lines []string
	log := core.NewLineLogger(slog.LevelInfo, func(_ slog.Level, line string) {
		mu.Lock()
		lines = append(lines, line)
		mu.Unlock()
	})
	cfg, err := core.ParseMap(map[string]any{"source": "fake", "stream": h.name, "checkpoint.type": "memory",
		"settle_delay": "1m", "poll_interval": "1h", "start_time": h.extra["start_time"], "max_window": "1d"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := core.NewPoller(context.Background(), cfg, core.Options{Store: h.store, Clock: h.clock, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	b, err := p.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b.Ack(nil)
	mid := p.Metrics().Snapshot()
	if r := mid["backfill_progress"]; r <= 0 || r >= 1 {
		t.Errorf("backfill_progress after the first day: %v, want between 0 and 1", r)
	}
	if mid["backfill_remaining_seconds"] < 8*24*3600 || mid["backfill_eta_seconds"] <= 0 {
		t.Errorf("after the first day: remaining %vs, eta %vs; want over 8 days left and an ETA",
			mid["backfill_remaining_seconds"], mid["backfill_eta_seconds"])
	}
	drain(t, p)
	end := p.Metrics().Snapshot()
	if end["backfill_progress"] != 1 || end["backfill_remaining_seconds"] != 0 || end["backfill_eta_seconds"] != 0 {
		t.Errorf("live: progress %v, remaining %v, eta %v; want 1, 0, 0", end["backfill_progress"], end["backfill_remaining_seconds"], end["backfill_eta_seconds"])
	}
	mu.Lock()
	defer mu.Unlock()
	var tenths []string
	done := false
	for _, l := range lines {
		if strings.HasPrefix(l, "backfill progress") {
			f := strings.Fields(l)
			tenths = append(tenths, f[3])
		}
		done = done || strings.HasPrefix(l, "backfill done")
	}
	if len(tenths) < 8 || !done {
		t.Fatalf("logged progress %v and done=%v; want a line per tenth, then done\n%s", tenths, done, strings.Join(lines, "\n"))
	}
}

// Two inputs configured with one stream would share its checkpoint: each
// would move it past pages only the other had delivered, and a restart of
// the slower one would skip them. The second is refused at start, naming
// the checkpoint, until the first has stopped.
func TestASecondInputOfTheSameStreamIsRefusedItsCheckpoint(t *testing.T) {
	h := newHarness(t, 10, 100)
	h.history(30, t0.Add(-2*time.Minute))
	dir := t.TempDir()
	cfg, err := core.ParseMap(map[string]any{"source": "fake", "stream": h.name, "checkpoint.type": "file",
		"checkpoint.path": dir, "settle_delay": "1m", "initial_lookback": "1d"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := core.NewPoller(context.Background(), cfg, core.Options{Clock: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	_, err = core.NewPoller(context.Background(), cfg, core.Options{Clock: h.clock})
	var ce *core.CheckpointError
	if !errors.As(err, &ce) || !errors.Is(err, checkpoint.ErrInUse) || !core.IsFatal(err) ||
		!strings.Contains(err.Error(), filepath.Join(dir, h.name)) || !strings.Contains(err.Error(), "stream") {
		t.Fatalf("want a fatal CheckpointError naming the checkpoint and the fix, got %v", err)
	}
	delivered := drain(t, first)
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	second, err := core.NewPoller(context.Background(), cfg, core.Options{Clock: h.clock})
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	defer second.Close(context.Background())
	if len(delivered) != 30 {
		t.Fatalf("the first input delivered %d of 30", len(delivered))
	}
	testkit.SameMultiset(t, drain(t, second), nil)
}

// A host whose poller failed for good waits, before closing it, for the
// pages already in its outputs: their acks must still move the checkpoint.
// WaitReported returns once every batch Next returned has its fate
// reported, whichever it is.
func TestWaitReportedReturnsOnceTheHostReportedEveryBatch(t *testing.T) {
	for _, fate := range []struct {
		name   string
		report func(*core.Batch)
	}{
		{"acked", func(b *core.Batch) { b.Ack(nil) }},
		{"rejected", func(b *core.Batch) { b.Ack(errors.New("output down")) }},
		{"released", func(b *core.Batch) { b.Release() }},
	} {
		t.Run(fate.name, func(t *testing.T) {
			h := newHarness(t, 10, 100)
			h.history(30, t0.Add(-2*time.Minute))
			p := h.poller()
			defer p.Close(context.Background())
			var held []*core.Batch
			for range 2 {
				b, err := p.Next(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, b)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if err := p.WaitReported(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("with two batches unreported: %v", err)
			}
			held[0].Ack(nil)
			done := make(chan error, 1)
			go func() { done <- p.WaitReported(context.Background()) }()
			select {
			case err := <-done:
				t.Fatalf("returned with a batch still unreported: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
			fate.report(held[1])
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(testkit.ReadLimit):
				t.Fatal("still waiting after the last report")
			}
		})
	}
}

// An output that batches more events than the read-ahead holds, with no
// period, never writes and never acks: reading cannot go on by itself, so
// the poller says why, once, and carries on as soon as the host reports.
func TestAHostThatReportsNothingWithTheReadAheadFullIsExplainedInTheLog(t *testing.T) {
	h := newHarness(t, 10, 100)
	h.history(30, t0.Add(-2*time.Minute))
	log := &testkit.LogSink{}
	cfg, err := core.ParseMap(map[string]any{"source": "fake", "stream": h.name, "checkpoint.type": "memory",
		"settle_delay": "1m", "initial_lookback": "1d", "max_undelivered_pages": 1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := core.NewPoller(context.Background(), cfg, core.Options{Store: h.store, Clock: h.clock, Logger: log, StallWarning: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	first, err := p.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	next := make(chan *core.Batch, 1)
	go func() {
		b, _ := p.Next(context.Background())
		next <- b
	}()
	const warning = "reading is paused: the host holds max_undelivered_pages pages and has reported none for 20ms"
	deadline := time.Now().Add(testkit.ReadLimit)
	for !strings.Contains(log.Text(), warning) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning; log:\n%s", log.Text())
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // several more periods of the same stall
	if n := strings.Count(log.Text(), "reading is paused"); n != 1 {
		t.Fatalf("warned %d times of one stall", n)
	}
	first.Ack(nil)
	select {
	case b := <-next:
		if b == nil {
			t.Fatal("Next failed after the ack")
		}
		b.Ack(nil)
	case <-time.After(testkit.ReadLimit):
		t.Fatal("reading did not go on after the ack")
	}
}

// An API may serve the records of one timestamp in a new order at every
// request: paging through a run that a page boundary splits then repeats
// some of its records and skips others. By offset, the run's instant is
// read again by itself once the read ends; where the cursor may name a
// record, the next query starts at the run's instant instead (no request
// more), and serves the run whole. What it holds beyond what was
// delivered goes out: every record once, two identical copies included,
// across a restart at any page.
func TestARunOfOneTimestampSplitByAPageBoundaryIsReadAgainWhole(t *testing.T) {
	run := t0.Add(-2 * time.Hour)
	for _, keyCursor := range []bool{false, true} {
		for stopAfter := range 5 {
			t.Run(fmt.Sprintf("key cursor %v/stopped after %d pages", keyCursor, stopAfter), func(t *testing.T) {
				h := newHarness(t, 10, 10000)
				h.src.shuffle, h.src.keyCursor = true, keyCursor
				var want []string
				for i := range 6 {
					ts := run.Add(time.Duration(i+1) * time.Minute)
					id := fmt.Sprintf("new%d", i)
					h.src.add(id, ts, ts)
					want = append(want, id)
				}
				for i := range 7 {
					id := fmt.Sprintf("tie%d", i)
					h.src.add(id, run, run)
					want = append(want, id)
				}
				h.src.add("same", run, run)
				h.src.add("same", run, run)
				want = append(want, "same", "same-2")
				for i := range 9 {
					ts := run.Add(-time.Duration(i+1) * time.Minute)
					id := fmt.Sprintf("old%d", i)
					h.src.add(id, ts, ts)
					want = append(want, id)
				}
				ctx := context.Background()
				var got []string
				if stopAfter > 0 {
					p := h.poller()
					for range stopAfter {
						b, err := testkit.NextOrCaughtUp(p, testkit.ReadLimit)
						if err != nil {
							t.Fatalf("page: %v", err)
						}
						if b == nil {
							break // fewer pages: the key cursor's read
						}
						for _, e := range b.Events {
							got = append(got, e.ID)
						}
						b.Ack(nil)
					}
					if err := p.Close(ctx); err != nil {
						t.Fatal(err)
					}
				}
				p := h.poller()
				defer p.Close(ctx)
				got = append(got, drain(t, p)...)
				testkit.SameMultiset(t, got, want)
				rechecked := slices.ContainsFunc(h.src.queries, func(q core.Query) bool {
					return q.From.Equal(run) && q.To.Equal(run.Add(time.Second))
				})
				narrowed := slices.ContainsFunc(h.src.queries, func(q core.Query) bool {
					return q.Cursor == "" && q.To.Equal(run.Add(time.Second)) && q.From.Before(run)
				})
				if rechecked == keyCursor || narrowed != keyCursor {
					t.Fatalf("the run's second read again %v, asked as the end of a new query %v: %v", rechecked, narrowed, h.src.queries)
				}
			})
		}
	}
}

// A query narrowed to the instant a page ended on serves that instant
// again; where the rest of its page holds records the source asked beyond
// the piece, it gets no further, and asking it once more would serve the
// same page for ever. The read goes on by the cursor instead.
func TestANarrowedQueryThatGetsNoFurtherGoesOnByItsCursor(t *testing.T) {
	start := t0.Add(-2 * time.Hour)
	h := newHarness(t, 10, 10000)
	h.src.keyCursor, h.src.widen = true, time.Second
	h.extra["start_time"] = start.Format(time.RFC3339)
	var want []string
	for i := range 5 {
		ts := start.Add(time.Duration(i+2) * time.Minute)
		h.src.add(fmt.Sprintf("new%d", i), ts, ts)
		want = append(want, fmt.Sprintf("new%d", i))
	}
	for i := range 3 {
		h.src.add(fmt.Sprintf("last%d", i), start.Add(time.Minute), start.Add(time.Minute))
		want = append(want, fmt.Sprintf("last%d", i))
	}
	for i := range 20 { // the second before the piece, served with it
		h.src.add(fmt.Sprintf("before%d", i), start.Add(-time.Second), start.Add(-time.Second))
	}
	p := h.poller()
	defer p.Close(context.Background())
	got := drain(t, p)
	testkit.SameMultiset(t, got, want)
	if n := len(h.src.queries); n > 6 {
		t.Fatalf("%d queries for 3 pages of the window: %v", n, h.src.queries)
	}
}

// A dry run (Options.ReadOnly) starts from the saved checkpoint, and
// neither acks nor a clean close move it: the next real run delivers the
// same events again. A file store's directory is left as it was.
func TestAReadOnlyPollerLoadsTheCheckpointAndNeverWritesIt(t *testing.T) {
	for _, store := range []string{"file", "host"} {
		t.Run(store, func(t *testing.T) {
			h := newHarness(t, 10, 10000)
			h.history(25, t0.Add(-time.Hour))
			dir := t.TempDir()
			open := func(readOnly bool) *core.Poller {
				t.Helper()
				m := map[string]any{"source": "fake", "stream": h.name, "checkpoint.type": "file", "checkpoint.path": dir,
					"settle_delay": "1m", "overlap": "5m", "poll_interval": "1h", "initial_lookback": "1d"}
				opts := core.Options{Clock: h.clock, ReadOnly: readOnly}
				if store == "host" {
					opts.Store = h.store
				}
				cfg, err := core.ParseMap(m)
				if err != nil {
					t.Fatal(err)
				}
				p, err := core.NewPoller(context.Background(), cfg, opts)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			ctx := context.Background()
			p := open(false)
			b, err := p.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			b.Ack(nil)
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			files := func() map[string]string {
				out := map[string]string{}
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
					out[e.Name()] = string(data)
				}
				return out
			}
			before := files()

			p = open(true)
			if got := drain(t, p); len(got) != 15 {
				t.Fatalf("the dry run delivered %d events, want the 15 after the checkpoint", len(got))
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if after := files(); !maps.Equal(before, after) {
				t.Fatalf("the dry run changed the checkpoint directory:\nbefore %v\nafter  %v", before, after)
			}
			p = open(false)
			defer p.Close(ctx)
			if got := drain(t, p); len(got) != 15 {
				t.Fatalf("after the dry run, a real run delivered %d events, want the same 15", len(got))
			}
		})
	}
}

// A checkpoint directory whose files go at a reboot or with the container
// loses the position without an error anyone sees: the next start reads
// the initial lookback again. The store says so when it opens.
func TestACheckpointPathInMemoryIsWarnedAbout(t *testing.T) {
	const shm = "/dev/shm"
	if checkpoint.Transient(shm) == "" {
		t.Skip(shm + " is not a tmpfs here")
	}
	dir, err := os.MkdirTemp(shm, "auditpull-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, c := range []struct {
		name string
		path string
		warn bool
	}{
		{"tmpfs", dir, true},
		{"an ordinary directory", t.TempDir(), checkpoint.Transient(os.TempDir()) != ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			log := &testkit.LogSink{}
			st, err := core.OpenStore(core.CheckpointConfig{Type: "file", Path: c.path}, log)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if got := strings.Contains(log.Text(), "checkpoint.path is on "); got != c.warn {
				t.Errorf("warned %v, want %v; log:\n%s", got, c.warn, log.Text())
			}
		})
	}
}
