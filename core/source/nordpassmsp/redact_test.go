package nordpassmsp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/internal/testkit/testkeys"
	"github.com/auditpull/auditpull/test/sim"
)

// An error page that echoes the request (a gateway, a WAF, a debugging
// proxy) shows the signed token it was sent: neither the error nor the log
// may, nor the private key.
func TestAnErrorEchoingTheRequestNeverShowsTheToken(t *testing.T) {
	key := testkeys.PKCS8(testkeys.EC())
	for _, status := range []int{400, 401, 500, 200} {
		for _, form := range testkit.EchoForms {
			t.Run(fmt.Sprintf("HTTP %d %s", status, form), func(t *testing.T) {
				var mu sync.Mutex
				var sent []string
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					jwt := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
					mu.Lock()
					sent = append(sent, jwt)
					mu.Unlock()
					testkit.Echo(w, r, status, form, jwt)
				}))
				defer srv.Close()
				r := testkit.NewRig(t, sim.NewFakeClock(now0), map[string]any{
					"source": "nordpass_msp", "nordpass_msp.base_url": srv.URL, "nordpass_msp.path": "/activity-log/query",
					"nordpass_msp.private_key": key, "nordpass_msp.jwt.issuer": issuer,
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
				text := err.Error() + "\n" + r.Log.Text()
				mu.Lock()
				defer mu.Unlock()
				if len(sent) == 0 {
					t.Fatal("no request sent")
				}
				for _, jwt := range sent {
					testkit.Hidden(t, text, jwt)
				}
				testkit.Hidden(t, text, strings.TrimSpace(strings.Split(key, "\n")[1]))
			})
		}
	}
}
