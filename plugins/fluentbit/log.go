package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/auditpull/auditpull/core"
)

// Fluent Bit's log levels (flb_log.h).
const (
	levelError = 1
	levelWarn  = 2
	levelInfo  = 3
	levelDebug = 4
	levelTrace = 5
)

// slog's levels are 4 apart where Fluent Bit's are 1 apart, counting the
// other way: error 1 is slog's 8, info 3 is 0, trace 5 is -8.
func slogLevel(level int) slog.Level { return slog.Level(4 * (levelInfo - level)) }

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

// logger prints core.LineHandler lines the way Fluent Bit's own plugins
// do, "[input:auditpull:auditpull.0] message key=value", through Fluent
// Bit's logger (log_print), which adds the time and level and honours
// log_file. Fluent Bit's logger routes a line through log_file only when it
// is called on a thread Fluent Bit started; from any other thread (a
// goroutine's) it writes to stderr. So lines wait in a queue until the next
// callback on the instance's thread (init, collect, pause, resume, exit)
// prints them with flush: at most a collect interval late.
//
// Without a host logger (print nil: the unit tests) lines go to logOut at
// once, in Fluent Bit's format.
type logger struct {
	*slog.Logger
	prefix string
	print  func(level int, line string)

	mu      sync.Mutex
	queue   []logLine
	dropped int
}

type logLine struct {
	level int
	text  string
}

// newLogger logs at the instance's log_level, as Fluent Bit reports it.
func newLogger(name string, level int, print func(int, string)) *logger {
	if level < levelError || level > levelTrace {
		level = levelInfo
	}
	l := &logger{prefix: "[input:auditpull:" + name + "] ", print: print}
	l.Logger = core.NewLineLogger(slogLevel(level), l.add)
	return l
}

func (l *logger) add(sl slog.Level, text string) {
	level := min(max(levelInfo-int(sl)/4, levelError), levelDebug)
	if l.print == nil {
		tag := [...]string{levelError: "error", levelWarn: " warn", levelInfo: " info", levelDebug: "debug"}[level]
		logOut.Lock()
		_, _ = fmt.Fprintf(logOut.w, "[%s] [%s] %s%s\n", time.Now().Format("2006/01/02 15:04:05.000"), tag, l.prefix, text)
		logOut.Unlock()
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) < maxQueued {
		l.queue = append(l.queue, logLine{level, l.prefix + text})
	} else {
		l.dropped++
	}
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
		l.print(levelWarn, fmt.Sprintf("%s%d log lines dropped while Fluent Bit made no callback", l.prefix, dropped))
	}
}
