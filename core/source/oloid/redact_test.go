package oloid_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/internal/testkit"
)

// An error page that echoes the request (a gateway, a WAF, a debugging
// proxy) shows the client secret sent to /login, or the access token sent
// to /filterActivity: neither the error nor the log may.
func TestAnErrorEchoingTheRequestNeverShowsACredential(t *testing.T) {
	const access = "oloid-access-token-9876"
	const clientSecret = `oloid-secret"val/ue+4242<x>`
	for _, endpoint := range []string{"/login", "/filterActivity"} {
		for _, status := range []int{400, 401, 500, 200} {
			for _, form := range testkit.EchoForms {
				t.Run(fmt.Sprintf("%s HTTP %d %s", endpoint, status, form), func(t *testing.T) {
					hidden := clientSecret
					if endpoint != "/login" {
						hidden = access
					}
					srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if r.URL.Path != endpoint {
							fmt.Fprintf(w, `{"cognitoToken":{"AccessToken":%q,"ExpiresIn":3600}}`, access)
							return
						}
						testkit.Echo(w, r, status, form, hidden)
					}))
					defer srv.Close()
					r := newRig(t, srv.URL, "oloid.client_secret", clientSecret, "retry.max_attempts", 2)
					r.CloseAtCleanup = true
					_, err := testkit.NextOrCaughtUp(r.Poller(), 5*time.Second)
					if err == nil {
						t.Fatal("no error")
					}
					// Scrubbing keeps the error's class.
					if fatal := status >= 400 && status < 500; core.IsFatal(err) != fatal {
						t.Errorf("fatal = %v, want %v: %v", core.IsFatal(err), fatal, err)
					}
					testkit.Hidden(t, err.Error()+"\n"+r.Log.Text(), hidden)
				})
			}
		}
	}
}
