package qualtrics_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/internal/testkit"
)

// An error page that echoes the request (a gateway, a WAF, a debugging
// proxy) shows the credential it was sent: the API token, the OAuth
// client's Basic credentials, or the OAuth access token. Neither the error
// nor the log may.
func TestAnErrorEchoingTheRequestNeverShowsACredential(t *testing.T) {
	const token = `q-api"tok/en+4242<x>`
	const access = "q-access-token-5150"
	const secret = "q-oauth-secret-6060"
	basic := base64.StdEncoding.EncodeToString([]byte(clientID + ":" + secret))
	for _, c := range []struct {
		name     string
		oauth    bool
		endpoint string // the path that fails
		hidden   string
	}{
		{"API token, data", false, "/logs", token},
		{"OAuth, token endpoint", true, "/oauth2/token", basic},
		{"OAuth, data", true, "/logs", access},
	} {
		for _, status := range []int{400, 401, 500, 200} {
			for _, form := range testkit.EchoForms {
				t.Run(fmt.Sprintf("%s HTTP %d %s", c.name, status, form), func(t *testing.T) {
					srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if !strings.HasSuffix(r.URL.Path, c.endpoint) {
							fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, access)
							return
						}
						testkit.Echo(w, r, status, form, c.hidden)
					}))
					defer srv.Close()
					kv := []any{"qualtrics", map[string]any{"base_url": srv.URL + "/API/v3", "activity_types": []any{"login"}, "api_token": token}, "retry.max_attempts", 2}
					if c.oauth {
						kv[1] = map[string]any{"base_url": srv.URL + "/API/v3", "activity_types": []any{"login"}, "client_id": clientID, "client_secret": secret}
					}
					r := newRig(t, kv...)
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
					testkit.Hidden(t, text, c.hidden)
					if c.oauth {
						testkit.Hidden(t, text, secret)
					}
				})
			}
		}
	}
}
