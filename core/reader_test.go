package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
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

func newReader(h *harness) *core.Reader {
	return core.NewReader(func(ctx context.Context) (*core.Poller, error) {
		cfg, err := core.ParseMap(map[string]any{"source": "fake", "stream": h.name, "checkpoint.type": "memory",
			"settle_delay": "1m", "overlap": "5m", "poll_interval": "1h", "initial_lookback": "1d"})
		if err != nil {
			return nil, err
		}
		return core.NewPoller(ctx, cfg, core.Options{Store: h.store, Clock: h.clock})
	}, core.ReaderOptions{FatalRetry: time.Minute})
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
	r := newReader(h)
	defer r.Close()
	ctx := context.Background()
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := r.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with a page still in the host: %v, want a wait for its acknowledgement", err)
	}
	var got []string
	for _, e := range first.Events {
		got = append(got, e.ID)
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
	r := newReader(h)
	ctx := context.Background()
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range b.Events {
		got = append(got, e.ID)
	}
	b.Ack(nil)
	r.Close()
	if err := r.Connect(ctx); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Connect after Close: %v, want ErrClosed", err)
	}
	if _, err := r.Next(ctx); !errors.Is(err, core.ErrReconnect) {
		t.Fatalf("Next after Close: %v, want ErrReconnect", err)
	}
	next := newReader(h)
	defer next.Close()
	if err := next.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	testkit.SameMultiset(t, append(got, readAll(t, next)...), ids)
}
