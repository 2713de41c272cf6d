package main

import (
	"bytes"
	"errors"
	"regexp"
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
	l := newLogger("auditpull.0", levelInfo)
	l.Info("started", "source", "nordpass", "wait", 2*time.Second, "token", core.NewSecret("hunter2"))
	l.Warn("poll failed", "error", errors.New(`HTTP 503: "busy"`))
	l.Error("odd", "dangling")
	l.Debug("not shown")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`^\[\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3}\] \[ info\] \[input:auditpull:auditpull\.0\] started source=nordpass wait=2s token=\[redacted\]$`,
		`^\[[^]]+\] \[ warn\] \[input:auditpull:auditpull\.0\] poll failed error="HTTP 503: \\"busy\\""$`,
		`^\[[^]]+\] \[error\] \[input:auditpull:auditpull\.0\] odd dangling=\(missing\)$`,
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
	newLogger("a", levelError).Warn("hidden")
	newLogger("b", levelDebug).Debug("shown")
	newLogger("c", 0).Info("default is info")
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "shown") || !strings.Contains(s, "default is info") {
		t.Errorf("log:\n%s", s)
	}
}
