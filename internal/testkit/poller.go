package testkit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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

// Drain reads up to n batches from p (n < 0: until it is idle), acking
// each, and returns the raw events. Idle — no batch within idle — counts as
// caught up; any other error ends the read and is returned with what came
// before it.
func Drain(p *core.Poller, n int, idle time.Duration) ([]string, error) {
	var got []string
	for i := 0; n < 0 || i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), idle)
		b, err := p.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return got, nil
		}
		if err != nil {
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
