package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/internal/testkit"
)

func TestRunServesNordPassAndStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	var stderr testkit.SyncBuffer
	const token = "s3cret-token-value"
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-events", "500", "-token", token, "-rate-limit", "0", "-live-rate", "50", "-v"}, outW, &stderr)
		outW.Close()
	}()

	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "auditpull-sim listening on ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("ready line %q", line)
	}
	go io.Copy(io.Discard, outR) // nothing else is expected on stdout

	post := func(tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/nordpass/activities/query", strings.NewReader(`{"per_page":5}`))
		req.Header.Set("Authorization", tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := post(token); status != 200 || !strings.Contains(body, `"total_pages"`) {
		t.Fatalf("valid token: %d %s", status, body)
	}
	if status, _ := post("wrong"); status != 403 {
		t.Fatalf("wrong token: %d", status)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	logs := stderr.String()
	if !strings.Contains(logs, "POST /nordpass/activities/query 200") {
		t.Errorf("request not logged with -v:\n%s", logs)
	}
	if strings.Contains(logs, token) {
		t.Error("the token appears in the logs")
	}
}

// A client that has connected but not sent a request yet (Shutdown counts
// it as busy for 5 s) must not turn a stop into a failure.
func TestRunStopsCleanlyWithAConnectionNotYetUsed(t *testing.T) {
	defer func(d time.Duration) { shutdownWait = d }(shutdownWait)
	shutdownWait = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-events", "10"}, outW, io.Discard)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, outR)
	base, _ := strings.CutPrefix(strings.TrimSpace(line), "auditpull-sim listening on ")
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(50 * time.Millisecond) // accepted by the server

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v; want a clean stop", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-events", "-1"}, {"-fault-rate", "2"}, {"-token", ""}, {"extra"}, {"-nope"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
