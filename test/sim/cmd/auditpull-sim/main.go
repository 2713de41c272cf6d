// Command auditpull-sim runs the vendor API simulator as a standalone HTTP
// server, for the examples, the host end-to-end tests and benchmarks.
//
// Once it listens it prints exactly one line to stdout,
//
//	auditpull-sim listening on http://127.0.0.1:PORT
//
// which scripts read to find the port (with -listen 127.0.0.1:0). The APIs
// are then at
//
//	http://127.0.0.1:PORT/nordpass                NordPass Enterprise (-token)
//	http://127.0.0.1:PORT/oloid                   OLOID (-oloid-client-id, -oloid-tenant, -oloid-client-secret)
//	http://127.0.0.1:PORT/qualtrics/API/v3        Qualtrics (-qualtrics-token, or OAuth with -qualtrics-client-id/-secret)
//	http://127.0.0.1:PORT/nordpass-msp + -msp-path NordPass MSP, only with -msp-public-key
//
// Each holds -events events over -span. Tokens, secrets and keys are never
// printed or logged.
package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/auditpull/auditpull/test/sim"
)

// shutdownWait is how long a stop waits for requests in progress.
var shutdownWait = 5 * time.Second

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
		// OLOID and Qualtrics document no number: unlimited unless asked.
		oloidRate     = fs.Int("oloid-rate-limit", 0, "OLOID: requests per rate window per client IP on /filterActivity; 0 disables the limit")
		qualtricsRate = fs.Int("qualtrics-rate-limit", 0, "Qualtrics: requests per rate window per client IP on the API; 0 disables the limit")
		token         = fs.String("token", "demo-token", "the valid NordPass token")
		liveRate      = fs.Float64("live-rate", 0, "events per second appended to each API at the current time while running")
		faultRate     = fs.Float64("fault-rate", 0, "fraction of requests answered with a random fault (latency, 5xx, 429, reset, truncated or invalid JSON)")
		verbose       = fs.Bool("v", false, "log requests to stderr")

		oloidClient     = fs.String("oloid-client-id", "demo-client", "OLOID: the API client id (login UserName)")
		oloidTenant     = fs.String("oloid-tenant", "demo", "OLOID: the tenant (login TenantName)")
		oloidSecret     = fs.String("oloid-client-secret", "demo-secret", "OLOID: the client secret (login Password)")
		qualtricsToken  = fs.String("qualtrics-token", "demo-token", "Qualtrics: the valid API token (X-API-TOKEN)")
		qualtricsClient = fs.String("qualtrics-client-id", "demo-client", "Qualtrics: an OAuth client id (client credentials)")
		qualtricsSecret = fs.String("qualtrics-client-secret", "demo-secret", "Qualtrics: that OAuth client's secret")
		mspKey          = fs.String("msp-public-key", "", "NordPass MSP: PEM file with the key that verifies the JWTs (a public key, or the private key itself); the MSP API is served only with it")
		mspIssuer       = fs.String("msp-issuer", "demo-msp", "NordPass MSP: the iss claim the JWTs must carry")
		mspPath         = fs.String("msp-path", sim.NordPassMSPDefaultPath, "NordPass MSP: the endpoint path")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *events < 0 || *span <= 0 || *liveRate < 0 || *faultRate < 0 || *faultRate > 1 || *oloidRate < 0 || *qualtricsRate < 0 {
		return errors.New("-events, -span, -live-rate, -fault-rate and the rate limits must be non-negative (span positive, fault rate at most 1)")
	}
	for name, v := range map[string]string{
		"-token": *token, "-oloid-client-id": *oloidClient, "-oloid-tenant": *oloidTenant, "-oloid-client-secret": *oloidSecret,
		"-qualtrics-token": *qualtricsToken, "-qualtrics-client-id": *qualtricsClient, "-qualtrics-client-secret": *qualtricsSecret,
		"-msp-issuer": *mspIssuer,
	} {
		if v == "" {
			return errors.New(name + " must not be empty")
		}
	}
	if !strings.HasPrefix(*mspPath, "/") {
		return errors.New("-msp-path must start with /")
	}
	var mspPub crypto.PublicKey
	if *mspKey != "" {
		k, err := readPublicKey(*mspKey)
		if err != nil {
			return err
		}
		mspPub = k
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
	ol := sim.NewOLOID(sim.OLOIDConfig{Seed: *seed, Count: *events, From: now.Add(-*span), To: now,
		RateLimit: *oloidRate, RateWindow: *rateWindow})
	ol.AddClient(*oloidClient, *oloidTenant, *oloidSecret)
	qt := sim.NewQualtrics(sim.QualtricsConfig{Seed: *seed, Count: *events, From: now.Add(-*span), To: now,
		RateLimit: *qualtricsRate, RateWindow: *rateWindow})
	qt.AddAPIToken(*qualtricsToken)
	qt.AddClient(*qualtricsClient, *qualtricsSecret)
	mux := sim.NewServer().Mount(sim.NordPassPrefix, np).Mount(sim.OLOIDPrefix, ol).Mount(sim.QualtricsPrefix, qt)
	gateways := []*sim.Gateway{np.Gateway, ol.Gateway, qt.Gateway}
	live := []liveAdder{np, ol, qt}
	var msp *sim.NordPassMSP
	if mspPub != nil {
		msp = sim.NewNordPassMSP(sim.NordPassMSPConfig{
			Seed: *seed, Count: *events, From: now.Add(-*span), To: now,
			RateLimit: *rateLimit, RateWindow: *rateWindow,
			Path: *mspPath, PublicKey: mspPub, Issuer: *mspIssuer,
		})
		mux.Mount(sim.NordPassMSPPrefix, msp)
		gateways = append(gateways, msp.Gateway)
		live = append(live, msp)
	}
	if *faultRate > 0 {
		for _, g := range gateways {
			g.Faults().Random(*faultRate, *seed)
		}
	}

	var handler http.Handler = mux
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
		logger.Printf("oloid: http://%s%s", ln.Addr(), sim.OLOIDPrefix)
		logger.Printf("qualtrics: http://%s%s%s (activity types %s)", ln.Addr(), sim.QualtricsPrefix, sim.QualtricsAPIPath, strings.Join(qt.ActivityTypes(), ", "))
		if msp != nil {
			logger.Printf("nordpass_msp: base_url http://%s%s, path %s, issuer %s", ln.Addr(), sim.NordPassMSPPrefix, msp.Path(), *mspIssuer)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if *liveRate > 0 {
		go appendLive(ctx, live, *liveRate)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, done := context.WithTimeout(context.Background(), shutdownWait)
	defer done()
	if err := srv.Shutdown(shutdownCtx); errors.Is(err, context.DeadlineExceeded) {
		// Shutdown counts a connection accepted but not yet sent a request
		// as busy for its first 5 s: a client that connected just before
		// the signal is no reason to fail the stop.
		_ = srv.Close()
	} else if err != nil {
		return err
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// liveAdder is a simulated vendor that can add an event at a given time.
type liveAdder interface{ AddRandom(time.Time) sim.Record }

// readPublicKey reads the PEM key that verifies MSP JWTs: a public key, or
// a private key whose public half is used.
func readPublicKey(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("-msp-public-key %s: no PEM block", path)
	}
	if k, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
		return k, nil
	}
	var priv any
	if priv, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if priv, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
			if priv, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
				return nil, fmt.Errorf("-msp-public-key %s: not a PEM public or private key", path)
			}
		}
	}
	if s, ok := priv.(crypto.Signer); ok {
		return s.Public(), nil
	}
	return nil, fmt.Errorf("-msp-public-key %s: unsupported key type", path)
}

// appendLive adds rate events per second to each vendor, at the current
// time, until ctx is done, carrying fractions over so low rates still
// produce events.
func appendLive(ctx context.Context, vendors []liveAdder, rate float64) {
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
				for _, v := range vendors {
					v.AddRandom(now)
				}
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
