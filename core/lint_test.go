package core_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/auditpull/auditpull/core"
	_ "github.com/auditpull/auditpull/core/source/all"
)

func TestLintTakesSecretsItCannotReadAsGivenAndChecksTheRest(t *testing.T) {
	msp := func(key string) map[string]any {
		return map[string]any{"source": "nordpass_msp", "nordpass_msp": map[string]any{
			"base_url": "https://msp.example.com", "path": "/v1/activities", "private_key": key,
			"jwt": map[string]any{"issuer": "auditpull"}}}
	}
	nordpass := func(section map[string]any) map[string]any {
		return map[string]any{"source": "nordpass", "nordpass": section}
	}
	cases := []struct {
		name string
		conf map[string]any
		key  string // the key the error names; "" for no error
	}{
		{"a token from an unset variable (empty)", nordpass(map[string]any{"token": ""}), ""},
		{"a token from the environment", nordpass(map[string]any{"token": "env:AUDITPULL_LINT_UNSET"}), ""},
		{"a token from a file only the server has", nordpass(map[string]any{"token": "file:/run/secrets/np"}), ""},
		{"a token given inline is checked", nordpass(map[string]any{"token": "Bearer abc"}), "nordpass.token"},
		{"the rest is checked", nordpass(map[string]any{"token": "", "region": "mars"}), "nordpass.region"},
		{"a private key from a file stands in as a key", msp("file:/run/secrets/msp.pem"), ""},
		{"a private key inline is parsed", msp("not a key"), "nordpass_msp.private_key"},
		{"tenants' secrets too", map[string]any{"source": "nordpass", "tenants": []any{
			map[string]any{"stream": "a", "nordpass": map[string]any{"token": "env:AUDITPULL_LINT_UNSET"}},
			map[string]any{"stream": "b", "nordpass": map[string]any{"token": ""}},
		}}, ""},
		{"a tenant's inline token is checked", map[string]any{"source": "nordpass", "tenants": []any{
			map[string]any{"stream": "a", "nordpass": map[string]any{"token": "Bearer abc"}},
		}}, "token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := json.Marshal(tc.conf)
			err := core.Lint(tc.conf)
			switch {
			case tc.key == "" && err != nil:
				t.Fatalf("lint error: %v", err)
			case tc.key != "" && (err == nil || !strings.Contains(err.Error(), tc.key)):
				t.Fatalf("lint gave %v; want an error naming %s", err, tc.key)
			case err != nil && strings.Contains(err.Error(), "abc"):
				t.Fatalf("lint error shows the secret: %v", err)
			}
			if after, _ := json.Marshal(tc.conf); string(after) != string(before) {
				t.Fatalf("Lint changed its argument: %s", after)
			}
		})
	}
}
