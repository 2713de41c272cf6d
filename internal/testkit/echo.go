package testkit

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// EchoForms are the ways error pages of servers, gateways and debugging
// proxies show the request they failed: as it is, escaped in a JSON
// string, escaped in a URL query, and cut (by core.Snippet's 256 bytes)
// a few bytes into a secret.
var EchoForms = []string{"raw", "json", "query", "cut"}

// Echo answers r with status and a body showing r's headers and body in
// form; secret is where "cut" cuts.
func Echo(w http.ResponseWriter, r *http.Request, status int, form, secret string) {
	body, _ := io.ReadAll(r.Body)
	var dump strings.Builder
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range r.Header[name] {
			fmt.Fprintf(&dump, "%s: %s\n", name, v)
		}
	}
	dump.Write(body)
	var out string
	switch form {
	case "json":
		b, _ := json.Marshal(dump.String())
		out = "<html>request " + string(b) + "</html>"
	case "query":
		out = "<html>request=" + url.QueryEscape(dump.String()) + "</html>"
	case "cut":
		out = strings.Repeat("-", 256-8) + secret
	default:
		out = "<html>request:\n" + dump.String() + "</html>"
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, out)
}

// Hidden fails t if text shows secret in any of the forms Echo renders it
// in, or its first 8 bytes, which a cut echo shows.
func Hidden(t testing.TB, text, secret string) {
	t.Helper()
	js, _ := json.Marshal(secret)
	var plain strings.Builder
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(secret)
	pj := strings.TrimSpace(plain.String())
	forms := []string{secret, string(js[1 : len(js)-1]), pj[1 : len(pj)-1], url.QueryEscape(secret), secret[:8]}
	for _, f := range forms {
		if strings.Contains(text, f) {
			t.Errorf("%q shows in:\n%s", f, text)
			return
		}
	}
}
