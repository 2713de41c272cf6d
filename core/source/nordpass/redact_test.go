package nordpass_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/test/sim"
)

// An error page that echoes the request (a gateway, a WAF, a debugging
// proxy) shows the token it was sent: neither the error nor the log may.
func TestAnErrorEchoingTheRequestNeverShowsTheToken(t *testing.T) {
	const tok = `np-secret"tok/en+4242<x>`
	for _, status := range []int{400, 401, 403, 500, 502, 200} {
		for _, form := range testkit.EchoForms {
			t.Run(fmt.Sprintf("HTTP %d %s", status, form), func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					testkit.Echo(w, r, status, form, tok)
				}))
				defer srv.Close()
				r := testkit.NewRig(t, sim.NewFakeClock(now0), map[string]any{
					"source": "nordpass", "nordpass.base_url": srv.URL, "nordpass.token": tok,
					"checkpoint.type": "memory", "rate_limit.enabled": false,
					"retry.initial_backoff": "1ms", "retry.max_backoff": "2ms", "retry.max_attempts": 2,
				})
				r.CloseAtCleanup = true
				_, err := testkit.NextOrCaughtUp(r.Poller(), 5*time.Second)
				if err == nil {
					t.Fatal("no error")
				}
				// Scrubbing keeps the error's class.
				if fatal := status >= 400 && status < 500; core.IsFatal(err) != fatal {
					t.Errorf("fatal = %v, want %v: %v", core.IsFatal(err), fatal, err)
				}
				testkit.Hidden(t, err.Error()+"\n"+r.Log.Text(), tok)
			})
		}
	}
}
