package core_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/test/sim"
)

func TestATokenURLIsCheckedWithoutEchoingItsSecrets(t *testing.T) {
	cases := []struct {
		name, raw string
		msg       string // in the error
		hidden    []string
	}{
		{"credentials in the URL", "https://proxyuser:pr0xy-pass@api.example.com", "credentials do not belong in the URL", []string{"proxyuser", "pr0xy-pass"}},
		{"a user without a password", "https://np-token-as-user@api.example.com/", "credentials do not belong in the URL", []string{"np-token-as-user"}},
		{"an unparsable URL with a password", "https://user:pa%zzword@api.example.com", `"https://[redacted]@api.example.com" is not an http(s) URL`, []string{"user", "pa%zzword"}},
		{"another scheme with a password", "ftp://user:password-xyz@api.example.com/x?y", `"ftp://[redacted]@api.example.com/x" is not an http(s) URL`, []string{"user", "password-xyz"}},
		{"a password with a slash", "https://user:pa/ss@api.example.com", `"https://[redacted]@api.example.com" is not an http(s) URL`, []string{"user", "pa/ss"}},
		{"a key in the query", "ftp://api.example.com/logs?api_key=k3y-value#frag", `"ftp://api.example.com/logs" is not an http(s) URL`, []string{"k3y-value", "frag"}},
		{"no scheme at all", "user:pw-value@api.example.com", `"[redacted]@api.example.com" is not an http(s) URL`, []string{"pw-value"}},
		{"clear text to a remote host", "http://api.example.com", "must be https", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := core.CheckTokenURL("nordpass.base_url", tc.raw)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Key != "nordpass.base_url" {
				t.Fatalf("want a ConfigError naming nordpass.base_url, got %v", err)
			}
			if !strings.Contains(ce.Msg, tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			for _, h := range tc.hidden {
				if strings.Contains(err.Error(), h) {
					t.Errorf("error shows %q: %v", h, err)
				}
			}
		})
	}
	for _, ok := range []string{"https://api.example.com", "http://127.0.0.1:8080/api", "http://localhost"} {
		if _, err := core.CheckTokenURL("k", ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
}

// mspKey is a PEM private key nordpass_msp accepts.
func mspKey(t *testing.T) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// sourceConfigs is a minimal valid configuration of every source, with
// its API at base.
func sourceConfigs(t *testing.T, base string) map[string]map[string]any {
	return map[string]map[string]any{
		"nordpass": {"source": "nordpass", "nordpass.base_url": base, "nordpass.token": "np-token"},
		"nordpass_msp": {"source": "nordpass_msp", "nordpass_msp.base_url": base, "nordpass_msp.path": "/logs",
			"nordpass_msp.private_key": mspKey(t), "nordpass_msp.jwt.issuer": "msp-1"},
		"oloid":     {"source": "oloid", "oloid.base_url": base, "oloid.client_id": "cid", "oloid.tenant": "acme", "oloid.client_secret": "oloid-secret"},
		"qualtrics": {"source": "qualtrics", "qualtrics.base_url": base, "qualtrics.api_token": "q-token", "qualtrics.activity_types": []any{"login"}},
	}
}

// A user:password in a base URL would name the checkpoint (a file name)
// and show in every log line: every source refuses it, and so does
// Qualtrics' token_url.
func TestEverySourceRefusesCredentialsInItsURL(t *testing.T) {
	const url = "https://proxyuser:pr0xy-pass@api.example.com"
	cases := sourceConfigs(t, url)
	cases["qualtrics token_url"] = map[string]any{"source": "qualtrics", "qualtrics.base_url": "https://api.example.com",
		"qualtrics.client_id": "cid", "qualtrics.client_secret": "cs", "qualtrics.token_url": url + "/oauth2/token", "qualtrics.activity_types": []any{"login"}}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			key := m["source"].(string) + ".base_url"
			if _, ok := m["qualtrics.token_url"]; ok {
				key = "qualtrics.token_url"
			}
			_, err := core.ParseMap(m)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Key != key || !strings.Contains(ce.Msg, "credentials do not belong in the URL") {
				t.Fatalf("want a ConfigError naming %s, got %v", key, err)
			}
			if strings.Contains(err.Error(), "pr0xy-pass") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// Default stream names are checkpoint keys: taking them from the parsed
// URL must name the streams of an ordinary base URL as before.
func TestDefaultStreamNamesAreTheURLsHostAndPath(t *testing.T) {
	want := map[string][]string{
		"nordpass":     {"nordpass-127.0.0.1_9_api"},
		"nordpass_msp": {"nordpass_msp-127.0.0.1_9_api_logs"},
		"oloid":        {"oloid-127.0.0.1_9_api-acme"},
		"qualtrics":    {"qualtrics-127.0.0.1_9-login"},
	}
	for name, m := range sourceConfigs(t, "http://127.0.0.1:9/api/") {
		t.Run(name, func(t *testing.T) {
			m["checkpoint.type"] = "memory"
			r := testkit.NewRig(t, sim.NewFakeClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), m)
			r.CloseAtCleanup = true
			p := r.Poller()
			if got := p.Streams(); !slices.Equal(got, want[name]) {
				t.Errorf("streams %q, want %q", got, want[name])
			}
		})
	}
}
