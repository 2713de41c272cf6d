package main

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
)

// captureLog redirects every logger to a buffer for the test.
func captureLog(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	logOut.Lock()
	prev := logOut.w
	logOut.w = &buf
	logOut.Unlock()
	t.Cleanup(func() {
		logOut.Lock()
		logOut.w = prev
		logOut.Unlock()
	})
	return &buf
}

func TestLogLinesLookLikeFluentBits(t *testing.T) {
	buf := captureLog(t)
	l := newLogger("auditpull.0", levelInfo, nil)
	l.Info("started", "source", "nordpass", "wait", 2*time.Second, "token", core.NewSecret("hunter2"))
	l.Warn("poll failed", "error", errors.New(`HTTP 503: "busy"`))
	l.Error("odd", "path", "/var/lib/two words")
	l.Debug("not shown")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`^\[\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3}\] \[ info\] \[input:auditpull:auditpull\.0\] started source=nordpass wait=2s token=\[redacted\]$`,
		`^\[[^]]+\] \[ warn\] \[input:auditpull:auditpull\.0\] poll failed error="HTTP 503: \\"busy\\""$`,
		`^\[[^]]+\] \[error\] \[input:auditpull:auditpull\.0\] odd path="/var/lib/two words"$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), buf)
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d\n%s\ndoes not match %s", i, lines[i], re)
		}
	}
}

func TestLogLevelFollowsTheInstance(t *testing.T) {
	buf := captureLog(t)
	newLogger("a", levelError, nil).Warn("hidden")
	newLogger("b", levelDebug, nil).Debug("shown")
	newLogger("c", 0, nil).Info("default is info")
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "shown") || !strings.Contains(s, "default is info") {
		t.Errorf("log:\n%s", s)
	}
}

// Through Fluent Bit's logger, lines wait for a callback on the instance's
// thread: log_print honours log_file only there.
func TestHostLoggerPrintsOnlyWhenFlushed(t *testing.T) {
	var got []string
	l := newLogger("auditpull.1", levelInfo, func(level int, msg string) {
		got = append(got, fmt.Sprintf("%d %s", level, msg))
	})
	l.Warn("from a goroutine", "n", 1)
	if len(got) != 0 {
		t.Fatalf("printed before a flush: %q", got)
	}
	l.flush()
	want := []string{"2 [input:auditpull:auditpull.1] from a goroutine n=1"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	got = nil
	for range maxQueued + 5 {
		l.Info("x")
	}
	l.flush()
	if len(got) != maxQueued+1 || !strings.Contains(got[maxQueued], "5 log lines dropped") {
		t.Fatalf("%d lines, last %q; want %d and a count of the dropped", len(got), got[len(got)-1], maxQueued+1)
	}
}
