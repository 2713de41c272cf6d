package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Fluent Bit's log levels (flb_log.h).
const (
	levelError = 1
	levelWarn  = 2
	levelInfo  = 3
	levelDebug = 4
	levelTrace = 5
)

var levelTags = map[int]string{levelError: "error", levelWarn: " warn", levelInfo: " info", levelDebug: "debug", levelTrace: "trace"}

// logOut is where every instance writes; one line is one Write.
var logOut = struct {
	sync.Mutex
	w io.Writer
}{w: os.Stderr}

// logger writes core.Logger messages to stderr the way Fluent Bit writes
// its own, so they interleave readably with the host's log:
//
//	[2026/01/31 12:00:00.000] [ info] [input:auditpull:auditpull.0] message key=value
//
// The level is the instance's log_level as Fluent Bit reports it. Values are
// printed with %v; secrets are core.Secret, which prints "[redacted]".
type logger struct {
	name  string
	level int
}

func newLogger(name string, level int) *logger {
	if level < levelError || level > levelTrace {
		level = levelInfo
	}
	return &logger{name: name, level: level}
}

func (l *logger) Debug(msg string, kv ...any) { l.log(levelDebug, msg, kv) }
func (l *logger) Info(msg string, kv ...any)  { l.log(levelInfo, msg, kv) }
func (l *logger) Warn(msg string, kv ...any)  { l.log(levelWarn, msg, kv) }
func (l *logger) Error(msg string, kv ...any) { l.log(levelError, msg, kv) }

func (l *logger) log(level int, msg string, kv []any) {
	if level > l.level {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] [%s] [input:auditpull:%s] %s", time.Now().Format("2006/01/02 15:04:05.000"), levelTags[level], l.name, msg)
	for i := 0; i < len(kv); i += 2 {
		key := fmt.Sprint(kv[i])
		var val any = "(missing)"
		if i+1 < len(kv) {
			val = kv[i+1]
		}
		b.WriteByte(' ')
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(logValue(val))
	}
	b.WriteByte('\n')
	logOut.Lock()
	_, _ = io.WriteString(logOut.w, b.String())
	logOut.Unlock()
}

func logValue(v any) string {
	var s string
	switch x := v.(type) {
	case error:
		s = x.Error()
	case time.Time:
		s = x.UTC().Format(time.RFC3339)
	default:
		s = fmt.Sprint(v)
	}
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
