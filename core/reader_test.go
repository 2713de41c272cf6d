package core_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
	"github.com/auditpull/auditpull/internal/testkit"
)

// revokedAfter makes every fetch after the nth fail as a revoked token does.
func revokedAfter(h *harness, n int) {
	h.src.onFetch = func(done int) {
		if done == n {
			h.src.mu.Lock()
			h.src.fail = []error{&core.AuthError{Op: "fake", Status: 403, Reason: "token introspection failed"}}
			h.src.mu.Unlock()
		}
	}
}

// newReader's sessions read h's source, each with the store that store
// returns (h's own when nil).
func newReader(h *harness, store func() checkpoint.Store) *core.Reader {
	return core.NewReader(func(ctx context.Context) (*core.Poller, error) {
		cfg, err := core.ParseMap(map[string]any{"source": "fake", "stream": h.name, "checkpoint.type": "memory",
			"settle_delay": "1m", "overlap": "5m", "poll_interval": "1h", "initial_lookback": "1d"})
		if err != nil {
			return nil, err
		}
		opts := core.Options{Store: h.store, Clock: h.clock}
		if store != nil {
			opts.Store = store()
		}
		return core.NewPoller(ctx, cfg, opts)
	}, core.ReaderOptions{FatalRetry: time.Minute})
}

// firstPage connects r and reads its first page; ids are the page's.
func firstPage(t *testing.T, r *core.Reader) (b *core.Batch, ids []string) {
	t.Helper()
	ctx := context.Background()
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Events {
		ids = append(ids, e.ID)
	}
	return b, ids
}

// readAll reads the reader's session until it has nothing due, acking
// every page.
func readAll(t *testing.T, r *core.Reader) []string {
	t.Helper()
	var got []string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		b, err := r.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Events {
			got = append(got, e.ID)
		}
		b.Ack(nil)
	}
}

// A token revoked while a page is in the host's output: the failure is
// reported once the page's fate is known, once, and the next session
// starts from a checkpoint that covers the page, so it is neither lost nor
// sent twice.
func TestAFailedSessionEndsOnlyOnceThePagesInTheHostAreAcknowledged(t *testing.T) {
	h := newHarness(t, 10, 10000)
	ids := h.history(30, t0.Add(-time.Hour))
	revokedAfter(h, 1)
	r := newReader(h, nil)
	defer r.Close()
	ctx := context.Background()
	first, got := firstPage(t, r)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := r.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with a page still in the host: %v, want a wait for its acknowledgement", err)
	}
	first.Ack(nil)
	if _, err := r.Next(ctx); !errors.Is(err, core.ErrReconnect) {
		t.Fatalf("Next after the token was revoked: %v, want ErrReconnect", err)
	}
	if err := r.Connect(ctx); !core.IsFatal(err) {
		t.Fatalf("the first Connect after the failure: %v, want the failure itself", err)
	}
	if err := r.Connect(ctx); err != nil { // the token is fixed
		t.Fatal(err)
	}
	got = append(got, readAll(t, r)...)
	testkit.SameMultiset(t, got, ids)
}

// Close writes the checkpoint of what was acknowledged, and the Reader
// connects no more; the next run goes on from there.
func TestCloseSavesTheCheckpointAndEndsTheReader(t *testing.T) {
	h := newHarness(t, 10, 10000)
	ids := h.history(30, t0.Add(-time.Hour))
	r := newReader(h, nil)
	ctx := context.Background()
	b, got := firstPage(t, r)
	b.Ack(nil)
	r.Close()
	if err := r.Connect(ctx); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Connect after Close: %v, want ErrClosed", err)
	}
	if _, err := r.Next(ctx); !errors.Is(err, core.ErrReconnect) {
		t.Fatalf("Next after Close: %v, want ErrReconnect", err)
	}
	next := newReader(h, nil)
	defer next.Close()
	if err := next.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	testkit.SameMultiset(t, append(got, readAll(t, next)...), ids)
}

// A session whose lease another process took ends at once: its checkpoint
// is the other's now, and pages it handed out and were not acknowledged are
// the other's to read. Connect then waits until the lease is free, and the
// next session goes on from the checkpoint: nothing acknowledged is read
// again, nothing unacknowledged is lost.
func TestALostLeaseEndsTheSessionAndConnectWaitsToTakeItBack(t *testing.T) {
	h := newHarness(t, 10, 10000)
	ids := h.history(30, t0.Add(-time.Hour))
	kv := checkpoint.NewMemoryKV()
	setup := checkpoint.KVSetup{Name: "kv", Prefix: "test:", LeaseTTL: 400 * time.Millisecond}
	r := newReader(h, func() checkpoint.Store { st, _ := checkpoint.OpenKV(kv, setup); return st })
	defer r.Close()
	ctx := context.Background()
	first, got := firstPage(t, r)
	first.Ack(nil)

	// Long beside the renewal period (100ms), so that the loss is noticed
	// and Connect is seen waiting well before the lease expires, however
	// loaded the machine.
	const hold = 3 * time.Second
	intruder := fmt.Sprintf(`{"owner":"intruder","expires":%q}`, time.Now().Add(hold).UTC().Format(time.RFC3339Nano))
	if err := kv.Set(ctx, setup.LeaseKey(h.name), []byte(intruder), hold); err != nil {
		t.Fatal(err)
	}
	// Pages read before the loss is noticed are never acknowledged here:
	// the output failed them, as far as the test can tell.
	for {
		_, err := r.Next(ctx)
		if errors.Is(err, core.ErrReconnect) {
			break
		}
		if err != nil {
			t.Fatalf("Next after the lease was taken: %v, want ErrReconnect", err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := r.Connect(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect while another process holds the lease: %v, want a wait", err)
	}
	if err := r.Connect(ctx); err != nil { // once the intruder's lease expires
		t.Fatal(err)
	}
	testkit.SameMultiset(t, append(got, readAll(t, r)...), ids)
}
