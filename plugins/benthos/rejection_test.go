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
