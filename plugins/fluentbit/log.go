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

// maxQueued bounds the lines waiting for a callback; beyond it lines are
// counted and the count is logged instead (an input paused for a long time
// must not grow without bound).
const maxQueued = 1000

// logOut is where a logger without a host logger writes; one line is one
// Write.
var logOut = struct {
	sync.Mutex
	w io.Writer
}{w: os.Stderr}

// logger writes core.Logger messages the way Fluent Bit's own plugins do:
//
//	[input:auditpull:auditpull.0] message key=value
//
// through Fluent Bit's logger (log_print), which adds the time and level
// and honours log_file. Fluent Bit's logger routes a line through log_file
// only when it is called on a thread Fluent Bit started; from any other
// thread (a goroutine's) it writes to stderr. So lines wait in a queue
// until the next callback on the instance's thread (init, collect, pause,
// resume, exit) prints them with flush: at most a collect interval late.
//
// Without a host logger (print nil: the unit tests) lines go to logOut at
// once, in Fluent Bit's format. The level is the instance's log_level as
// Fluent Bit reports it. Values are printed with %v; secrets are
// core.Secret, which prints "[redacted]".
type logger struct {
	name  string
	level int
	print func(level int, line string)

	mu      sync.Mutex
	queue   []logLine
	dropped int
}

type logLine struct {
	level int
	text  string
}

func newLogger(name string, level int, print func(int, string)) *logger {
	if level < levelError || level > levelTrace {
		level = levelInfo
	}
	return &logger{name: name, level: level, print: print}
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
	fmt.Fprintf(&b, "[input:auditpull:%s] %s", l.name, msg)
	for i := 0; i < len(kv); i += 2 {
		var val any = "(missing)"
		if i+1 < len(kv) {
			val = kv[i+1]
		}
		fmt.Fprintf(&b, " %v=%s", kv[i], logValue(val))
	}
	if l.print == nil {
		line := fmt.Sprintf("[%s] [%s] %s\n", time.Now().Format("2006/01/02 15:04:05.000"), levelTags[level], b.String())
		logOut.Lock()
		_, _ = io.WriteString(logOut.w, line)
		logOut.Unlock()
		return
	}
	l.mu.Lock()
	if len(l.queue) < maxQueued {
		l.queue = append(l.queue, logLine{level, b.String()})
	} else {
		l.dropped++
	}
	l.mu.Unlock()
}

// flush prints the queued lines through Fluent Bit's logger. Call it only
// from a callback Fluent Bit made (on one of its threads).
func (l *logger) flush() {
	if l == nil || l.print == nil {
		return
	}
	l.mu.Lock()
	lines, dropped := l.queue, l.dropped
	l.queue, l.dropped = nil, 0
	l.mu.Unlock()
	for _, ln := range lines {
		l.print(ln.level, ln.text)
	}
	if dropped > 0 {
		l.print(levelWarn, fmt.Sprintf("[input:auditpull:%s] %d log lines dropped while Fluent Bit made no callback", l.name, dropped))
	}
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
