package core_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
)

func TestLineHandlerRendersKeyValueLinesAndRedactsSecrets(t *testing.T) {
	var gotLevel slog.Level
	var got string
	log := core.NewLineLogger(slog.LevelInfo, func(l slog.Level, line string) { gotLevel, got = l, line })
	tests := []struct {
		name  string
		log   func()
		level slog.Level
		want  string
	}{
		{"plain values", func() { log.Info("started", "source", "nordpass", "pages", 3) }, slog.LevelInfo, "started source=nordpass pages=3"},
		{"quoted when needed", func() { log.Warn("poll failed", "error", errors.New("503 from api"), "empty", "") }, slog.LevelWarn, `poll failed error="503 from api" empty=""`},
		{"secrets redacted", func() { log.Error("login", "token", core.NewSecret("s3cr3t")) }, slog.LevelError, "login token=[redacted]"},
		{"times in UTC", func() { log.Info("at", "t", time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))) }, slog.LevelInfo, "at t=2026-01-02T02:04:05Z"},
		{"with attributes and groups", func() { log.With("stream", "a").WithGroup("req").Info("sent", "n", 1) }, slog.LevelInfo, "sent stream=a req.n=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got = ""
			tc.log()
			if got != tc.want || gotLevel != tc.level {
				t.Fatalf("got %v %q, want %v %q", gotLevel, got, tc.level, tc.want)
			}
		})
	}
	got = ""
	log.Debug("hidden")
	if got != "" {
		t.Fatalf("a debug line passed an info level: %q", got)
	}
}

// printer is a host logger with a method per level (telegraf.Logger's shape).
type printer []string

func (p *printer) Error(args ...any) { *p = append(*p, "E "+fmt.Sprint(args...)) }
func (p *printer) Warn(args ...any)  { *p = append(*p, "W "+fmt.Sprint(args...)) }
func (p *printer) Info(args ...any)  { *p = append(*p, "I "+fmt.Sprint(args...)) }
func (p *printer) Debug(args ...any) { *p = append(*p, "D "+fmt.Sprint(args...)) }

func TestPrinterLoggerPrintsEachLineThroughTheMethodOfItsLevel(t *testing.T) {
	var p printer
	log := core.NewPrinterLogger(&p)
	log.Error("e", "k", 1)
	log.Warn("w")
	log.Info("i", "token", core.NewSecret("s3cr3t"))
	log.Debug("d")
	log.Log(context.Background(), slog.LevelDebug-4, "t") // below debug: the host filters, as for debug
	want := printer{"E e k=1", "W w", "I i token=[redacted]", "D d", "D t"}
	if !slices.Equal(p, want) {
		t.Fatalf("got %q, want %q", p, want)
	}
}
