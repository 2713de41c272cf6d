// Command auditpull-sim runs the vendor API simulator as a standalone HTTP
// server, for the examples, the host end-to-end tests and benchmarks.
//
// Once it listens it prints exactly one line to stdout,
//
//	auditpull-sim listening on http://127.0.0.1:PORT
//
// which scripts read to find the port (with -listen 127.0.0.1:0). The
// NordPass Enterprise API is then at http://127.0.0.1:PORT/nordpass. Tokens
// are never printed or logged.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/auditpull/auditpull/test/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "auditpull-sim:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("auditpull-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen     = fs.String("listen", "127.0.0.1:0", "address to listen on (port 0 picks a free port)")
		seed       = fs.Int64("seed", 1, "seed of the generated histories")
		events     = fs.Int("events", 20000, "number of events in the generated NordPass history")
		span       = fs.Duration("span", 7*24*time.Hour, "length of the history, ending now")
		users      = fs.Int("users", 50, "number of NordPass organization members")
		rateLimit  = fs.Int("rate-limit", 2000, "requests per rate window per client IP; 0 disables the limit")
		rateWindow = fs.Duration("rate-window", 5*time.Minute, "rate limit window")
		token      = fs.String("token", "demo-token", "the valid NordPass token")
		liveRate   = fs.Float64("live-rate", 0, "events per second appended at the current time while running")
		faultRate  = fs.Float64("fault-rate", 0, "fraction of requests answered with a random fault (latency, 5xx, 429, reset, truncated or invalid JSON)")
		verbose    = fs.Bool("v", false, "log requests to stderr")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *events < 0 || *span <= 0 || *liveRate < 0 || *faultRate < 0 || *faultRate > 1 {
		return errors.New("-events, -span, -live-rate and -fault-rate must be non-negative (span positive, fault rate at most 1)")
	}
	if *token == "" {
		return errors.New("-token must not be empty")
	}
	if *rateLimit <= 0 {
		*rateLimit = -1 // NordPassConfig: negative means unlimited
	}

	now := time.Now()
	np := sim.NewNordPass(sim.NordPassConfig{
		Seed: *seed, Count: *events, From: now.Add(-*span), To: now, Users: *users,
		RateLimit: *rateLimit, RateWindow: *rateWindow,
	})
	np.AddToken(*token, sim.TokenValid)
	if *faultRate > 0 {
		np.Faults().Random(*faultRate, *seed)
	}

	var handler http.Handler = sim.NewServer().Mount(sim.NordPassPrefix, np)
	logger := log.New(stderr, "", log.LstdFlags|log.Lmicroseconds)
	if *verbose {
		handler = logRequests(logger, handler)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: logger}
	fmt.Fprintf(stdout, "auditpull-sim listening on http://%s\n", ln.Addr())
	if *verbose {
		logger.Printf("nordpass: http://%s%s (%d events, seed %d)", ln.Addr(), sim.NordPassPrefix, *events, *seed)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if *liveRate > 0 {
		go appendLive(ctx, np, *liveRate)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// appendLive adds rate events per second at the current time until ctx is
// done, carrying fractions over so low rates still produce events.
func appendLive(ctx context.Context, np *sim.NordPass, rate float64) {
	const tick = 100 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	due := 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			due += rate * tick.Seconds()
			for ; due >= 1; due-- {
				np.AddRandom(now)
			}
		}
	}
}

// logRequests logs method, path, status, size and duration of each request.
// Headers are deliberately left out: they carry the token.
func logRequests(l *log.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			l.Printf("%s %s %s %d %dB %v", r.RemoteAddr, r.Method, r.URL.Path, sw.status, sw.size, time.Since(start).Round(time.Microsecond))
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter records the status and size of a response for the log.
// Unwrap keeps hijacking reachable, so connection-reset faults work under -v.
type statusWriter struct {
	http.ResponseWriter
	status int
	size   int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.size += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
