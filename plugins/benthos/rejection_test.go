package benthos

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/test/sim"
)

// With auto_replay_nacks: false, an output whose own HTTP request timed out
// (what http_client and other HTTP outputs reject with) has rejected the
// page, as Benthos' own inputs see it: dropped, not replayed, though
// net/http's timeout matches context.DeadlineExceeded.
func TestAnOutputsTimeoutIsARejectionNotAShutdown(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	client := &http.Client{Timeout: 50 * time.Millisecond} // http_client's `timeout`

	s := startSim(t, 600, 2)
	var mu sync.Mutex
	var rejected []bag
	out := newCollector()
	out.decide = func(_ context.Context, call int, b batchInfo) error {
		if call == 2 {
			mu.Lock()
			rejected = append(rejected, b.bag())
			mu.Unlock()
			resp, err := client.Post(slow.URL, "application/json", strings.NewReader("{}"))
			if err == nil {
				resp.Body.Close()
				t.Fatal("expected a timeout")
			}
			return fmt.Errorf("%s: %w", slow.URL, err) // as Benthos' httpclient wraps it
		}
		return nil
	}
	conf := inputConf(s.srv.baseURL(), s.start, "checkpoint: {type: memory}", "max_undelivered_pages: 2", "auto_replay_nacks: false")
	r := startRun(t, conf, "", out)
	waitFor(t, 30*time.Second, "every page but the rejected one", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(rejected) == 1 && out.ackedCount() >= len(s.truth)-rejected[0].size()
	})
	time.Sleep(1500 * time.Millisecond)
	r.stop(5 * time.Second)
	for _, b := range out.ackedBatches() {
		if reflect.DeepEqual(b.bag(), rejected[0]) {
			t.Errorf("the page the output rejected (its HTTP request timed out) was delivered again, though auto_replay_nacks is false")
		}
	}
	if !strings.Contains(r.logs.String(), "dropped (auto_replay_nacks: false)") {
		t.Errorf("no drop logged for the rejected page")
	}
	if n := r.metrics.get("auditpull_redeliveries"); n != 0 {
		t.Errorf("auditpull_redeliveries = %v; the README says it stays 0 with auto_replay_nacks: false", n)
	}
}

// A page the output rejects after the credential was refused is sent again
// from memory before the stream reports its stop: left to the next run, it
// would be read again with every page acknowledged after it.
func TestAPageRejectedAfterATokenIsRevokedIsSentAgainNotReadAgain(t *testing.T) {
	s := startSim(t, 800, 11)
	conf := inputConf(s.srv.baseURL(), s.start, "checkpoint: {path: "+t.TempDir()+"}", "max_undelivered_pages: 8")
	releaseOne, release := make(chan struct{}), make(chan struct{})
	var nacked bag
	out1 := newCollector()
	out1.decide = func(ctx context.Context, call int, b batchInfo) error {
		gate := release
		switch {
		case call <= 2:
			return nil
		case call == 3:
			gate = releaseOne
		}
		select {
		case <-gate:
			if call == 4 {
				nacked = b.bag()
				return errNack
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r1 := startRun(t, conf, "", out1)
	waitFor(t, 30*time.Second, "a full read-ahead in the output", func() bool {
		out1.mu.Lock()
		defer out1.mu.Unlock()
		return len(out1.seen) >= 10
	})
	s.np.SetTokenState(testToken, sim.TokenInvalid)
	close(releaseOne)
	waitFor(t, 30*time.Second, "the stop", func() bool { return strings.Contains(r1.logs.String(), "stream stopped; the checkpoint stays") })
	close(release)
	waitFor(t, 10*time.Second, "the held pages reported", func() bool { return len(out1.ackedBatches()) >= 9 })
	time.Sleep(500 * time.Millisecond)
	r1.stop(5 * time.Second)
	got1 := out1.ackedBag()

	s.np.SetTokenState(testToken, sim.TokenValid)
	out2 := newCollector()
	r2 := startRun(t, conf, "", out2)
	waitFor(t, 30*time.Second, "the rest", func() bool { return got1.size()+out2.ackedCount() >= len(s.truth) })
	time.Sleep(1500 * time.Millisecond)
	r2.stop(5 * time.Second)
	all := got1.add(out2.ackedBag())
	twice := 0
	for k, n := range all {
		if n > bagOf(s.truth)[k] {
			twice += n - bagOf(s.truth)[k]
		}
	}
	if twice > 0 {
		t.Errorf("%d events delivered twice (the rejected page held %d)", twice, nacked.size())
	}
}
