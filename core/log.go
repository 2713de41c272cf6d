package core

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/auditpull/auditpull/core/checkpoint"
)

// Logger is how the core and its sources log. *slog.Logger satisfies it:
// a host supplies a slog.Handler (or a LineHandler for hosts whose loggers
// take one line of text) and passes slog.New(handler). The interface is
// declared in checkpoint, below the core, because the leaser logs too.
type Logger = checkpoint.Logger

// NopLogger discards everything.
type NopLogger = checkpoint.NopLogger

var _ Logger = (*slog.Logger)(nil)

// LineHandler is a slog.Handler for hosts whose loggers take a line of
// text (Telegraf's telegraf.Logger, Fluent Bit's log_print): it renders a
// record as
//
//	message key=value key="two words"
//
// and passes it, with the record's level, to Print. Values print with %v,
// so a Secret prints "[redacted]"; times print in RFC 3339, UTC.
type LineHandler struct {
	// Level is the least level passed on; records below it are dropped
	// before they are rendered.
	Level slog.Leveler
	Print func(level slog.Level, line string)

	attrs string // rendered With attributes, each with a leading space
	group string // With group prefix, "a.b."
}

// NewLineLogger is slog.New over a LineHandler.
func NewLineLogger(level slog.Leveler, print func(slog.Level, string)) *slog.Logger {
	return slog.New(&LineHandler{Level: level, Print: print})
}

// LevelPrinter is a host logger with one method per level, each taking
// the line (telegraf.Logger is one).
type LevelPrinter interface {
	Error(args ...any)
	Warn(args ...any)
	Info(args ...any)
	Debug(args ...any)
}

// NewPrinterLogger logs each record as one line through the printer's
// method of the record's level; the host's logger filters the levels.
func NewPrinterLogger(p LevelPrinter) *slog.Logger {
	return NewLineLogger(nil, func(level slog.Level, line string) {
		switch {
		case level >= slog.LevelError:
			p.Error(line)
		case level >= slog.LevelWarn:
			p.Warn(line)
		case level >= slog.LevelInfo:
			p.Info(line)
		default:
			p.Debug(line)
		}
	})
}

func (h *LineHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.Level == nil || l >= h.Level.Level()
}

func (h *LineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, h.group, a)
		return true
	})
	h.Print(r.Level, b.String())
	return nil
}

func (h *LineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	for _, a := range as {
		writeAttr(&b, h.group, a)
	}
	c := *h
	c.attrs += b.String()
	return &c
}

func (h *LineHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.group += name + "."
	return &c
}

func writeAttr(b *strings.Builder, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			writeAttr(b, prefix+a.Key+".", g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	var s string
	switch v.Kind() {
	case slog.KindTime:
		s = v.Time().UTC().Format(time.RFC3339)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			s = err.Error()
		} else {
			s = fmt.Sprint(v.Any())
		}
	default:
		s = v.String()
	}
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		s = fmt.Sprintf("%q", s)
	}
	b.WriteByte(' ')
	b.WriteString(prefix)
	b.WriteString(a.Key)
	b.WriteByte('=')
	b.WriteString(s)
}
