package testkit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
)

// LogSink is a core.Logger that keeps every line, so that a test can show
// what was logged, or that a secret never was.
type LogSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *LogSink) add(level, msg string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprint(append([]any{level, msg}, kv...)...))
}

func (l *LogSink) Debug(msg string, kv ...any) { l.add("debug", msg, kv...) }
func (l *LogSink) Info(msg string, kv ...any)  { l.add("info", msg, kv...) }
func (l *LogSink) Warn(msg string, kv ...any)  { l.add("warn", msg, kv...) }
func (l *LogSink) Error(msg string, kv ...any) { l.add("error", msg, kv...) }

// Text is every line so far, one per line.
func (l *LogSink) Text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// Lines is a copy of the lines so far.
func (l *LogSink) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// errCaughtUp ends a Next call that waits with every stream caught up.
var errCaughtUp = errors.New("caught up")

// NextOrCaughtUp returns p's next batch, or nil once a Next call waits with
// every stream caught up (core.Poller.CaughtUp). A read that takes long —
// retries, a Retry-After, a busy machine — is waited for, not mistaken for
// the end as a quiet period would be; only limit without either is an
// error. Next's other errors are returned as they are.
func NextOrCaughtUp(p *core.Poller, limit time.Duration) (*core.Batch, error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	ctx, stop := context.WithTimeout(ctx, limit)
	defer stop()
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if p.CaughtUp() {
					cancel(errCaughtUp)
					return
				}
			}
		}
	}()
	b, err := p.Next(ctx)
	switch {
	case err == nil:
		return b, nil
	case errors.Is(context.Cause(ctx), errCaughtUp):
		return nil, nil
	case errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("neither a batch nor caught up within %s", limit)
	}
	return nil, err
}

// ReadLimit bounds how long a test waits for one batch or for the poller
// to catch up: far beyond any read on a slow machine, so that only a
// poller that is stuck fails.
const ReadLimit = 2 * time.Minute

// Drain reads up to n batches from p (n < 0: until it is caught up), acking
// each, and returns the raw events. Any error ends the read and is returned
// with what came before it.
func Drain(p *core.Poller, n int) ([]string, error) {
	var got []string
	for i := 0; n < 0 || i < n; i++ {
		b, err := NextOrCaughtUp(p, ReadLimit)
		if err != nil || b == nil {
			return got, err
		}
		for _, e := range b.Events {
			got = append(got, string(e.Raw))
		}
		b.Ack(nil)
	}
	return got, nil
}

// Strings converts raw events (a simulator's truth) to strings.
func Strings(b [][]byte) []string {
	out := make([]string, len(b))
	for i, x := range b {
		out[i] = string(x)
	}
	return out
}

// SameMultiset fails t unless got holds exactly want's events, each as
// many times: a lost and a doubled event are both failures, and the
// message names the first few of each, so a failure says which it was.
func SameMultiset(t testing.TB, got, want []string) {
	t.Helper()
	missing, extra := Minus(want, got), Minus(got, want)
	if len(missing)+len(extra) > 0 {
		t.Fatalf("delivered %d events, want %d\nmissing (%d): %s\nextra or doubled (%d): %s",
			len(got), len(want), len(missing), head(missing), len(extra), head(extra))
	}
}

// Minus is the multiset a − b: a's events, each as many times as a holds
// it more often than b does.
func Minus(a, b []string) []string {
	n := make(map[string]int, len(b))
	for _, s := range b {
		n[s]++
	}
	var out []string
	for _, s := range a {
		if n[s] > 0 {
			n[s]--
		} else {
			out = append(out, s)
		}
	}
	return out
}

func head(s []string) string {
	if len(s) > 3 {
		s = append(s[:3:3], "…")
	}
	return strings.Join(s, "\n  ")
}
