package core_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
	"github.com/auditpull/auditpull/internal/testkit"
)

// replica is one process of a fleet sharing tenants through a KV: a poller
// and the host loop that delivers its pages, slowly, like an output.
type replica struct {
	p    *core.Poller
	kv   *testkit.CutKV
	stop chan struct{}
	done chan struct{}

	mu  sync.Mutex
	got map[string][]string // acknowledged events, by stream
	log testkit.SyncBuffer
}

func startReplica(t *testing.T, r *tenantRig, shared checkpoint.KV, ttl, perPage time.Duration) *replica {
	t.Helper()
	rep := &replica{kv: &testkit.CutKV{KV: shared}, stop: make(chan struct{}), done: make(chan struct{}), got: map[string][]string{}}
	cfg, err := core.ParseMap(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := core.NewLineLogger(slog.LevelDebug, func(_ slog.Level, line string) {
		fmt.Fprintf(&rep.log, "%s %s\n", time.Now().Format("15:04:05.000"), line)
	})
	rep.p, err = core.NewPoller(context.Background(), cfg, core.Options{
		Clock:  r.clock,
		Logger: log,
		Store:  checkpoint.NewKVStore(rep.kv, checkpoint.KVStoreOptions{}),
		Share:  checkpoint.NewShare(rep.kv, "fleet", ttl, checkpoint.ShareOptions{Log: log}),
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(rep.done)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			b, err := rep.p.Next(ctx)
			cancel()
			switch {
			case errors.Is(err, core.ErrClosed):
				return
			case err != nil:
				select {
				case <-rep.stop:
					return
				default:
					continue
				}
			}
			time.Sleep(perPage)
			select {
			case <-rep.stop:
				return // killed with a page in flight: never acknowledged
			default:
			}
			rep.mu.Lock()
			for _, e := range b.Events {
				rep.got[b.Stream] = append(rep.got[b.Stream], e.ID)
			}
			rep.mu.Unlock()
			b.Ack(nil)
		}
	}()
	t.Cleanup(func() {
		rep.close()
		if t.Failed() {
			t.Logf("replica log:\n%s", rep.log.String())
		}
	})
	return rep
}

// kill stops the replica as kill -9 does: its loop ends with pages in
// flight, and it is cut off from the store, giving nothing back.
func (rep *replica) kill() {
	rep.kv.Cut()
	select {
	case <-rep.stop:
	default:
		close(rep.stop)
	}
	<-rep.done
}

// close stops the replica as an operator does: its loop ends, then the
// poller writes its checkpoints and gives its tenants back.
func (rep *replica) close() {
	select {
	case <-rep.stop:
	default:
		close(rep.stop)
	}
	<-rep.done
	_ = rep.p.Close(context.Background())
}

func (rep *replica) read() int {
	return int(rep.p.Metrics().Snapshot()["tenants_read"])
}

func (rep *replica) delivered() map[string][]string {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	out := map[string][]string{}
	for k, v := range rep.got {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func TestReplicasDivideTheTenantsAndAKilledOnesAreTakenOverWithNothingLost(t *testing.T) {
	const (
		tenants = 30 // enough that no replica's fair share is empty by chance
		ttl     = time.Second
	)
	r := newTenantRig(t, tenants, 200) // 20 pages each
	shared := checkpoint.NewMemoryKV()

	a := startReplica(t, r, shared, ttl, 5*time.Millisecond)
	testkit.WaitFor(t, 5*time.Second, "replica A to read every tenant", func() bool { return a.read() == tenants })
	b := startReplica(t, r, shared, ttl, 5*time.Millisecond)
	c := startReplica(t, r, shared, ttl, 5*time.Millisecond)
	all := []*replica{a, b, c}
	testkit.WaitFor(t, 5*time.Second, "the three replicas to divide the tenants", func() bool {
		sum := 0
		for _, rep := range all {
			if rep.read() == 0 {
				return false
			}
			sum += rep.read()
		}
		return sum == tenants
	})

	// B dies part-way through its tenants' history.
	testkit.WaitFor(t, 10*time.Second, "replica B to deliver pages", func() bool { return len(b.delivered()) > 0 })
	held := b.read()
	b.kill()
	killed := time.Now()
	testkit.WaitFor(t, 6*ttl, "A and C to read all the tenants", func() bool { return a.read()+c.read() == tenants })
	takeover := time.Since(killed)

	// Everything arrives; a kill may repeat what B acknowledged but had
	// not yet written to its checkpoint, never less.
	union := func() map[string][]string {
		u := map[string][]string{}
		for _, rep := range all {
			for k, v := range rep.delivered() {
				u[k] = append(u[k], v...)
			}
		}
		return u
	}
	testkit.WaitFor(t, 20*time.Second, "every event", func() bool {
		u := union()
		for name, want := range r.want {
			if len(testkit.Minus(want, u[name])) > 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond) // nothing more may come
	twice := 0
	for name, want := range r.want {
		got := union()[name]
		if missing := testkit.Minus(want, got); len(missing) > 0 {
			t.Fatalf("%s: %d events lost, the first: %v", name, len(missing), missing[:min(len(missing), 3)])
		}
		twice += len(testkit.Minus(got, want))
	}
	if twice > 0 {
		// Only the kill may repeat events: hand-overs on join wait for
		// every page to be acknowledged and written.
		t.Logf("%d events delivered twice after the kill", twice)
	}
	if twice > held*10 {
		t.Errorf("%d events delivered twice; want at most a page per tenant B held (%d)", twice, held*10)
	}
	if takeover > 3*ttl {
		t.Errorf("B's tenants were read again %s after the kill; want within about a lease TTL (%s)", takeover, ttl)
	}
	t.Logf("B held %d of %d tenants; read again %s after the kill; %d events repeated", held, tenants, takeover.Round(time.Millisecond), twice)

	// C stops cleanly: its tenants go to A at once, not a TTL later.
	stopped := time.Now()
	c.close()
	testkit.WaitFor(t, ttl, "A to read every tenant after C stopped", func() bool { return a.read() == tenants })
	t.Logf("C's tenants taken over %s after it stopped", time.Since(stopped).Round(time.Millisecond))
}

// A replica that joins takes its share from the others without a single
// event lost or repeated: the others hand each tenant over only once its
// pages are acknowledged and its checkpoint written.
func TestAJoiningReplicaTakesItsShareWithoutLossOrRepeats(t *testing.T) {
	r := newTenantRig(t, 8, 400)
	shared := checkpoint.NewMemoryKV()
	a := startReplica(t, r, shared, time.Second, 3*time.Millisecond)
	testkit.WaitFor(t, 5*time.Second, "replica A to read", func() bool { return len(a.delivered()) == 8 })
	b := startReplica(t, r, shared, time.Second, 3*time.Millisecond)
	testkit.WaitFor(t, 5*time.Second, "B to take its share", func() bool { return b.read() > 0 && a.read()+b.read() == 8 })
	u := map[string][]string{}
	testkit.WaitFor(t, 30*time.Second, "every event", func() bool {
		u = map[string][]string{}
		for _, rep := range []*replica{a, b} {
			for k, v := range rep.delivered() {
				u[k] = append(u[k], v...)
			}
		}
		n := 0
		for _, v := range u {
			n += len(v)
		}
		return n >= 8*400
	})
	time.Sleep(300 * time.Millisecond)
	for name, want := range r.want {
		var got []string
		for _, rep := range []*replica{a, b} {
			got = append(got, rep.delivered()[name]...)
		}
		testkit.SameMultiset(t, got, want)
	}
	if n := len(b.delivered()); n == 0 {
		t.Fatal("B delivered nothing")
	}
	t.Logf("A read %d tenants, B %d", a.read(), b.read())
}

// A single stream leased whole: once another process holds the lease, Next
// stops reading at once — a blocked call as well as every later one — with
// an error the host can tell from a failure of the stream.
func TestALostLeaseEndsABlockedNextAndEveryLaterOne(t *testing.T) {
	h := newHarness(t, 10, 10000)
	ts := t0.Add(-time.Hour)
	h.src.add("only", ts, ts)
	kv := checkpoint.NewMemoryKV()
	key := func(string) string { return "lease" }
	lease := checkpoint.NewLeaser(kv, time.Second, checkpoint.LeaseOptions{Key: key})
	cfg, err := core.ParseMap(map[string]any{"source": "fake", "stream": h.name, "checkpoint.type": "memory",
		"settle_delay": "1m", "overlap": "5m", "poll_interval": "1h", "initial_lookback": "1d"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := core.NewPoller(context.Background(), cfg, core.Options{Clock: h.clock,
		Store: checkpoint.NewKVStore(kv, checkpoint.KVStoreOptions{Lease: lease})})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if got := drain(t, p); len(got) != 1 {
		t.Fatalf("got %v", got)
	}

	done := make(chan error, 1)
	go func() { _, err := p.Next(context.Background()); done <- err }()
	// Another process's entry, as if this one had stalled past the TTL.
	other := fmt.Sprintf(`{"owner":"elsewhere","expires":%q}`, time.Now().Add(time.Hour).Format(time.RFC3339Nano))
	if err := kv.Set(context.Background(), key(""), []byte(other), 0); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, checkpoint.ErrLeaseLost) {
			t.Fatalf("blocked Next after the lease was lost: %v; want ErrLeaseLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a lost lease did not end the blocked Next")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.Next(ctx); !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Fatalf("Next after the loss: %v; want ErrLeaseLost at once", err)
	}
}
