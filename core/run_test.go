package core_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/internal/testkit"
)

// Run is the loop of the hosts that push: what it hands over, reports and
// returns decides what those hosts deliver.
func TestRunDeliversEveryEventOnceAndReportsTransientErrors(t *testing.T) {
	h := newHarness(t, 10, 10000)
	h.extra["retry.max_backoff"] = "100ms"
	h.extra["retry.initial_backoff"] = "10ms"
	want := h.history(25, t0.Add(-time.Hour))
	h.src.fail = []error{&core.TransientError{Op: "fake", Err: errors.New("503")}}
	p := h.poller()
	defer p.Close(context.Background())

	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var got []string
	var reported []error
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(_ context.Context, b *core.Batch) error {
			mu.Lock()
			defer mu.Unlock()
			if len(b.Events) == 0 {
				t.Error("Run handed over an empty batch")
			}
			for _, e := range b.Events {
				got = append(got, e.ID)
			}
			b.Ack(nil)
			if len(got) == len(want) {
				cancel()
			}
			return nil
		}, func(err error) {
			mu.Lock()
			reported = append(reported, err)
			mu.Unlock()
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run ended with %v after its context ended; want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not deliver every event")
	}
	mu.Lock()
	defer mu.Unlock()
	testkit.SameMultiset(t, got, want)
	if len(reported) != 1 || core.IsFatal(reported[0]) {
		t.Fatalf("reported %v; want the one transient error", reported)
	}
}

func TestRunReturnsAFatalErrorAndADeliverError(t *testing.T) {
	stop := errors.New("host gone")
	tests := []struct {
		name    string
		fail    error
		deliver error
		want    func(error) bool
	}{
		{"fatal", &core.AuthError{Op: "fake", Status: 401, Reason: "revoked"}, nil, core.IsFatal},
		{"deliver", nil, stop, func(err error) bool { return errors.Is(err, stop) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 10, 10000)
			h.history(5, t0.Add(-time.Hour))
			if tc.fail != nil {
				h.src.fail = []error{tc.fail}
			}
			p := h.poller()
			defer p.Close(context.Background())
			err := p.Run(context.Background(), func(_ context.Context, b *core.Batch) error {
				b.Ack(nil)
				return tc.deliver
			}, func(err error) { t.Errorf("reported %v as transient", err) })
			if !tc.want(err) {
				t.Fatalf("Run returned %v", err)
			}
		})
	}
}
