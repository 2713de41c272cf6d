package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The tests run on real time: a TTL of one second leaves half a second of
// slack for a loaded machine before a renewal comes too late.
const testTTL = time.Second

// Two processes share a store: the first takes the stream's lease, the
// second waits for it, then something happens to the first. Throughout,
// at most one of them may hold the lease.
func TestLeaseHandOver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// ignoreTTL makes the shared store keep entries until deleted, as
		// the Benthos file cache does.
		ignoreTTL bool
		// then happens to the first owner once the second waits.
		then func(first *Leaser, store *faultyKV)
		// Bounds on the time from the end of then to the hand-over; zero
		// max: the second must still be waiting three TTLs later.
		min, max time.Duration
		firstErr string // in the first owner's Err, once lost
		log      string // in the second owner's log
	}{
		{
			name: "two owners: the second waits while the first renews",
			then: func(*Leaser, *faultyKV) {},
		},
		{
			name: "a dead owner's lease expires and the other takes over",
			then: func(first *Leaser, _ *faultyKV) { crash(first) },
			// The entry was last written about a quarter TTL before the
			// crash at worst; the lower bounds leave room for a late tick.
			min: testTTL / 2, max: 2 * testTTL,
			log: "took over the stream's lease",
		},
		{
			name:      "a store that ignores TTLs hands a dead owner's stream over one TTL after the recorded expiry",
			ignoreTTL: true,
			then:      func(first *Leaser, _ *faultyKV) { crash(first) },
			min:       testTTL * 3 / 2, max: 3 * testTTL,
			log: "took over a lease that had expired without being removed",
		},
		{
			name: "an owner that cannot renew counts its lease as lost before another can take over",
			then: func(_ *Leaser, store *faultyKV) { store.fail.Store(true) },
			min:  testTTL / 2, max: 2 * testTTL,
			firstErr: "could not be renewed in time",
			log:      "took over the stream's lease",
		},
		{
			name: "a slow reply from the store does not stretch the hold past the entry's expiry",
			then: func(first *Leaser, store *faultyKV) {
				// Writes land at once and are acknowledged just before the
				// renewal would time out: a hold counted from the reply
				// would outlast the entry.
				store.slowAck.Store(int64(testTTL * 45 / 100))
				time.Sleep(testTTL)
				crash(first)
			},
			max: 2 * testTTL,
			log: "took over the stream's lease",
		},
		{
			name: "a clean stop hands over at the next check",
			then: func(first *Leaser, _ *faultyKV) { first.Close() },
			max:  testTTL / 2,
			log:  "took over the stream's lease",
		},
		{
			name:      "a clean stop hands over at the next check in a store that ignores TTLs",
			ignoreTTL: true,
			then:      func(first *Leaser, _ *faultyKV) { first.Close() },
			max:       testTTL / 2,
			log:       "took over the stream's lease",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var shared KV = NewMemoryKV()
			if tc.ignoreTTL {
				shared = ttlIgnoringKV{shared}
			}
			first, firstKV, _ := newTestLeaser(t, shared)
			second, _, secondLog := newTestLeaser(t, shared)
			const stream = "nordpass/eu"
			if err := first.Acquire(context.Background(), stream); err != nil {
				t.Fatal(err)
			}
			stopWatch := watchOneHolder(t, stream, first, second)
			defer stopWatch()

			ctx, cancel := context.WithTimeout(context.Background(), 4*testTTL+tc.max)
			defer cancel()
			acquired := make(chan error, 1)
			go func() { acquired <- second.Acquire(ctx, stream) }()
			time.Sleep(testTTL / 2)
			if !secondLog.has("another process reads this stream") {
				t.Errorf("the second owner does not say that it waits")
			}
			tc.then(first, firstKV)
			start := time.Now()

			if tc.max == 0 {
				select {
				case err := <-acquired:
					t.Fatalf("the second owner stopped waiting: %v", err)
				case <-time.After(3 * testTTL):
				}
				cancel()
				if err := <-acquired; !errors.Is(err, context.Canceled) {
					t.Fatalf("the second owner's wait ended with %v", err)
				}
				if !first.Holds(stream) || first.Err() != nil {
					t.Fatalf("the first owner lost its lease: %v", first.Err())
				}
				return
			}
			if err := <-acquired; err != nil {
				t.Fatalf("no hand-over after %s: %v", time.Since(start), err)
			}
			took := time.Since(start)
			if took < tc.min || took > tc.max {
				t.Errorf("handed over after %s; want between %s and %s", took, tc.min, tc.max)
			}
			if !second.Holds(stream) {
				t.Errorf("the second owner took the lease but does not hold it")
			}
			if !secondLog.has(tc.log) {
				t.Errorf("the second owner's log lacks %q:\n%s", tc.log, secondLog)
			}
			// Any hold of the first owner's ends within 3/4 TTL of its last
			// confirmation: watch until then.
			time.Sleep(testTTL * 3 / 4)
			if tc.firstErr != "" {
				select {
				case <-first.Lost():
				case <-time.After(testTTL):
					t.Fatal("Lost is still open")
				}
				if err := first.Err(); err == nil || !strings.Contains(err.Error(), tc.firstErr) {
					t.Errorf("the first owner's error %v; want %q", err, tc.firstErr)
				}
			}
		})
	}
}

// A lease taken over behind the holder's back (a partition longer than the
// TTL) is lost at the next renewal, and the holder's Close leaves the new
// entry alone.
func TestLeaseTakenByAnotherOwnerIsLostAtTheNextRenewal(t *testing.T) {
	t.Parallel()
	kv := NewMemoryKV()
	l, _, log := newTestLeaser(t, kv)
	ctx := context.Background()
	if err := l.Acquire(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	intruder := fmt.Sprintf(`{"owner":"intruder","expires":%q}`, time.Now().Add(testTTL).UTC().Format(time.RFC3339Nano))
	if err := kv.Set(ctx, l.key("s"), []byte(intruder), testTTL); err != nil {
		t.Fatal(err)
	}
	taken := time.Now()
	select {
	case <-l.Lost():
	case <-time.After(testTTL):
		t.Fatal("Lost is still open")
	}
	if d := time.Since(taken); d > testTTL/2 {
		t.Errorf("noticed after %s; want within a renewal period (%s)", d, testTTL/4)
	}
	if l.Holds("s") {
		t.Errorf("still holds a lost lease")
	}
	if err := l.Err(); err == nil || !strings.Contains(err.Error(), "now held by intruder") {
		t.Errorf("Err: %v", err)
	}
	if !log.has("lost the stream's lease") {
		t.Errorf("the loss is not logged:\n%s", log)
	}
	l.Close()
	if v, err := kv.Get(ctx, l.key("s")); err != nil || string(v) != intruder {
		t.Errorf("Close changed the new holder's entry: %q, %v", v, err)
	}
}

// Once a holder declares a lease lost, nothing more of the stream's
// checkpoint is written: a write in progress when the loss is noticed ends
// before the declaration, and no write starts after it. Both ways of
// losing are covered: the whole Leaser, and one stream of a Share's.
func TestNoCheckpointWriteOutlivesTheDeclaredLossOfTheLease(t *testing.T) {
	t.Parallel()
	for _, perStream := range []bool{false, true} {
		t.Run(fmt.Sprintf("per_stream=%v", perStream), func(t *testing.T) {
			t.Parallel()
			kv := NewMemoryKV()
			var declared atomic.Bool
			lostStream := make(chan struct{})
			opts := LeaseOptions{Log: &testLog{}}
			if perStream {
				opts.OnLost = func(string, error) { declared.Store(true); close(lostStream) }
			}
			l := NewLeaser(kv, testTTL, opts)
			t.Cleanup(l.Close)
			lost := l.Lost()
			if perStream {
				lost = lostStream
			}
			ctx := context.Background()
			if err := l.Acquire(ctx, "s"); err != nil {
				t.Fatal(err)
			}
			writing, release := make(chan struct{}), make(chan struct{})
			var endedBeforeLoss atomic.Bool
			go func() {
				_ = l.Write("s", func() error {
					close(writing)
					<-release
					if !perStream {
						declared.Store(isClosed(l.Lost()))
					}
					endedBeforeLoss.Store(!declared.Load())
					return nil
				})
			}()
			<-writing
			intruder := fmt.Sprintf(`{"owner":"intruder","expires":%q}`, time.Now().Add(testTTL).UTC().Format(time.RFC3339Nano))
			if err := kv.Set(ctx, l.key("s"), []byte(intruder), testTTL); err != nil {
				t.Fatal(err)
			}
			// At the next renewal the loss is noticed: no write starts from
			// then on, but the loss is not declared while the write runs.
			deadline := time.Now().Add(testTTL)
			for !errors.Is(l.Write("s", func() error { return nil }), ErrLeaseLost) {
				if time.Now().After(deadline) {
					t.Fatal("writes are still allowed a TTL after the lease was taken")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if isClosed(lost) {
				t.Fatal("the loss was declared while a checkpoint write was in progress")
			}
			close(release)
			select {
			case <-lost:
			case <-time.After(testTTL):
				t.Fatal("the loss was not declared after the write ended")
			}
			if !endedBeforeLoss.Load() {
				t.Error("the write ended after the loss was declared")
			}
		})
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestLeaseAcquire(t *testing.T) {
	t.Parallel()
	t.Run("an unreachable store is an error, not a wait", func(t *testing.T) {
		l, kv, _ := newTestLeaser(t, NewMemoryKV())
		kv.fail.Store(true)
		err := l.Acquire(context.Background(), "s")
		if !errors.Is(err, errUnreachable) {
			t.Fatalf("want the store's error, got %v", err)
		}
	})
	t.Run("a waiter gives up when its context ends", func(t *testing.T) {
		kv := NewMemoryKV()
		first, _, _ := newTestLeaser(t, kv)
		second, _, _ := newTestLeaser(t, kv)
		if err := first.Acquire(context.Background(), "s"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), testTTL/4)
		defer cancel()
		if err := second.Acquire(ctx, "s"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a closed leaser takes nothing and leaves no entry", func(t *testing.T) {
		kv := NewMemoryKV()
		l, _, _ := newTestLeaser(t, kv)
		l.Close()
		if err := l.Acquire(context.Background(), "s"); err == nil {
			t.Fatal("a closed leaser took a lease")
		}
		if v, err := kv.Get(context.Background(), l.key("s")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("entry left behind: %q, %v", v, err)
		}
	})
	t.Run("the entry names the owner and its expiry under the escaped stream name", func(t *testing.T) {
		kv := NewMemoryKV()
		l, _, _ := newTestLeaser(t, kv)
		if err := l.Acquire(context.Background(), "qualtrics/a b"); err != nil {
			t.Fatal(err)
		}
		v, err := kv.Get(context.Background(), "lease:qualtrics%2Fa%20b")
		if err != nil || !strings.Contains(string(v), `"owner":"`+l.owner+`"`) || !strings.Contains(string(v), `"expires":"`) {
			t.Fatalf("entry %q, %v", v, err)
		}
	})
}

func TestMemoryKV(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kv := NewMemoryKV()
	if _, err := kv.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of nothing: %v", err)
	}
	if err := kv.Add(ctx, "k", []byte("a"), 0); err != nil {
		t.Fatal(err)
	}
	if err := kv.Add(ctx, "k", []byte("b"), 0); !errors.Is(err, ErrExists) {
		t.Fatalf("Add over a value: %v", err)
	}
	v, _ := kv.Get(ctx, "k")
	v[0] = 'x'
	if v, _ := kv.Get(ctx, "k"); string(v) != "a" {
		t.Fatalf("the store shares its bytes with callers: %q", v)
	}
	if err := kv.Set(ctx, "k", []byte("c"), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if v, _ := kv.Get(ctx, "k"); string(v) != "c" {
		t.Fatalf("after Set: %q", v)
	}
	time.Sleep(60 * time.Millisecond)
	if _, err := kv.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an expired entry is still there: %v", err)
	}
	if err := kv.Add(ctx, "k", []byte("d"), 0); err != nil {
		t.Fatalf("Add over an expired entry: %v", err)
	}
	if err := kv.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
}

// A stop gives the leases back within one TTL in all, however many there
// are: a cache that hangs must not hold it for a TTL per stream.
func TestCloseGivesTheLeasesBackWithinOneTTLWhenTheCacheHangs(t *testing.T) {
	shared := NewMemoryKV()
	l, kv, log := newTestLeaser(t, shared)
	ctx := context.Background()
	const n = 20
	for i := range n {
		if err := l.Acquire(ctx, fmt.Sprintf("s%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	kv.hang.Store(true)
	start := time.Now()
	l.Close()
	if d := time.Since(start); d > 3*testTTL {
		t.Fatalf("Close took %s for %d leases with a hung cache; want about one TTL (%s), not one each", d, n, testTTL)
	}
	if !log.has("could not remove the stream's lease") {
		t.Errorf("no warning for the leases left in the cache; log:\n%s", log)
	}
}

// newTestLeaser returns a leaser over its own view of shared, which the
// test can make fail or slow, and its log.
func newTestLeaser(t *testing.T, shared KV) (*Leaser, *faultyKV, *testLog) {
	kv := &faultyKV{KV: shared}
	log := &testLog{}
	l := NewLeaser(kv, testTTL, LeaseOptions{Log: log})
	t.Cleanup(l.Close)
	return l, kv, log
}

// crash stops l's renewals without giving its leases back, as when the
// process is killed.
func crash(l *Leaser) {
	l.mu.Lock()
	l.closed = true
	started := l.started
	l.mu.Unlock()
	close(l.stop)
	if started {
		<-l.done
	}
}

// watchOneHolder fails the test if two leasers ever hold the stream at
// once, until the returned function is called.
func watchOneHolder(t *testing.T, stream string, ls ...*Leaser) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			n := 0
			for _, l := range ls {
				if l.Holds(stream) {
					n++
				}
			}
			if n > 1 {
				t.Errorf("%d owners hold the lease at once", n)
				return
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

var errUnreachable = errors.New("store unreachable")

// faultyKV is one process's connection to a shared store.
type faultyKV struct {
	KV
	fail    atomic.Bool  // every operation fails
	slowAck atomic.Int64 // a Set is acknowledged this long after it lands
	hang    atomic.Bool  // a Get answers only when its context ends
}

func (k *faultyKV) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if k.fail.Load() {
		return errUnreachable
	}
	return k.KV.Add(ctx, key, value, ttl)
}

func (k *faultyKV) Get(ctx context.Context, key string) ([]byte, error) {
	if k.fail.Load() {
		return nil, errUnreachable
	}
	if k.hang.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return k.KV.Get(ctx, key)
}

func (k *faultyKV) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if k.fail.Load() {
		return errUnreachable
	}
	err := k.KV.Set(ctx, key, value, ttl)
	if d := time.Duration(k.slowAck.Load()); d > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	return err
}

func (k *faultyKV) Delete(ctx context.Context, key string) error {
	if k.fail.Load() {
		return errUnreachable
	}
	return k.KV.Delete(ctx, key)
}

// ttlIgnoringKV keeps every entry until it is deleted.
type ttlIgnoringKV struct{ KV }

func (k ttlIgnoringKV) Add(ctx context.Context, key string, value []byte, _ time.Duration) error {
	return k.KV.Add(ctx, key, value, 0)
}

func (k ttlIgnoringKV) Set(ctx context.Context, key string, value []byte, _ time.Duration) error {
	return k.KV.Set(ctx, key, value, 0)
}

type testLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *testLog) add(level, msg string, kv []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, "%s %s %v\n", level, msg, kv)
}

func (l *testLog) Debug(msg string, kv ...any) { l.add("DEBUG", msg, kv) }
func (l *testLog) Info(msg string, kv ...any)  { l.add("INFO", msg, kv) }
func (l *testLog) Warn(msg string, kv ...any)  { l.add("WARN", msg, kv) }
func (l *testLog) Error(msg string, kv ...any) { l.add("ERROR", msg, kv) }

func (l *testLog) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.b.String(), s)
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
