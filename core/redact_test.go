package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSecretsAreFoundAnywhereInTheCheckedSection(t *testing.T) {
	type tenant struct {
		Key Secret
	}
	type settings struct {
		Token   Secret
		Nested  struct{ Pass *Secret }
		Tenants []tenant
		ByName  map[string]Secret
		Plain   string
	}
	type checked struct {
		*settings
		signer any
		self   *checked
	}
	pass := NewSecret("nested-pass")
	s := &settings{Token: NewSecret("top-token"), Tenants: []tenant{{NewSecret("tenant-key")}}, ByName: map[string]Secret{"a": NewSecret("mapped")}, Plain: "not-secret"}
	s.Nested.Pass = &pass
	c := &checked{settings: s, signer: &tenant{NewSecret("behind-interface")}}
	c.self = c
	got := strings.Join(secretsOf(c), ",")
	for _, want := range []string{"top-token", "nested-pass", "tenant-key", "mapped", "behind-interface"} {
		if !strings.Contains(got, want) {
			t.Errorf("%s not found in %s", want, got)
		}
	}
	if strings.Contains(got, "not-secret") {
		t.Errorf("a plain string taken for a secret: %s", got)
	}
	if secretsOf(nil) != nil {
		t.Error("secrets in nothing")
	}
}

func TestRedactTextScrubsEveryFormOfASecret(t *testing.T) {
	const sec = `pa"ss/w+rd<1>`
	forms := redactForms([]string{sec, "abc"})
	cases := []struct{ name, in, want string }{
		{"as it is", "body: " + sec + " end", "body: [redacted] end"},
		{"in a JSON string", `{"Password":"pa\"ss/w+rd\u003c1\u003e"}`, `{"Password":"[redacted]"}`},
		{"in a JSON string without HTML escaping", `{"Password":"pa\"ss/w+rd<1>"}`, `{"Password":"[redacted]"}`},
		{"in JSON quoted in JSON", `"{\"Password\":\"pa\\\"ss/w+rd\\u003c1\\u003e\"}"`, `"{\"Password\":\"[redacted]\"}"`},
		{"in a URL query", "q=pa%22ss%2Fw%2Brd%3C1%3E&x", "q=[redacted]&x"},
		{"cut by Snippet", "HTTP 502: token pa\"ss/…", "HTTP 502: token [redacted]…"},
		{"cut in a JSON form, then more text", `"pa\"ss…: check the token`, `"[redacted]…: check the token`},
		{"a cut too short to tell", "x pa\"…", "x pa\"…"},
		{"a secret under 4 bytes is left alone", "abc abc", "abc abc"},
		{"nothing to scrub", "HTTP 500: oops…", "HTTP 500: oops…"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := redactText(tc.in, forms); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	t.Run("a multi-byte secret cut inside a rune", func(t *testing.T) {
		body := strings.Repeat("-", 250) + "ключ-секрет"
		got := redactText("HTTP 500: "+Snippet([]byte(body)), redactForms([]string{"ключ-секрет"}))
		if !strings.HasSuffix(got, "-[redacted]…") {
			t.Errorf("got %q", got)
		}
	})
}

func TestHeaderCredentialsAreTheOnesAHeaderNameSays(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "Bearer bearer-cred")
	h.Set("Cookie", "session=cookie-cred; theme=dark")
	h.Set("X-API-TOKEN", "api-token-cred")
	h.Set("X-Api-Key", "api-key-cred")
	h.Set("Accept", "application/json")
	got := strings.Join(headerSecrets(h), "|")
	for _, want := range []string{"Bearer bearer-cred", "bearer-cred", "session=cookie-cred; theme=dark", "cookie-cred", "api-token-cred", "api-key-cred"} {
		if !strings.Contains("|"+got+"|", "|"+want+"|") {
			t.Errorf("%q not a credential: %s", want, got)
		}
	}
	if strings.Contains(got, "application/json") {
		t.Errorf("Accept taken for a credential: %s", got)
	}
}

// The scrubbed error is still what it was: callers classify it, and read
// the classified error's fields scrubbed.
func TestARedactedErrorKeepsItsClass(t *testing.T) {
	forms := redactForms([]string{"s3cret-value"})
	auth := &AuthError{Op: "login", Status: 400, Reason: "bad: s3cret-value", Expired: true}
	trans := &TransientError{Op: "query", Err: fmt.Errorf("HTTP 502: s3cret-value")}
	req := &RequestError{Op: "query", Status: 400, Reason: "echo s3cret-value"}
	for _, inner := range []error{auth, trans, req} {
		err := fmt.Errorf("giving up: %w", redactError(inner, forms))
		if strings.Contains(err.Error(), "s3cret-value") {
			t.Errorf("not scrubbed: %v", err)
		}
		if !errors.Is(err, inner) {
			t.Errorf("errors.Is lost %T", inner)
		}
		if IsFatal(err) != IsFatal(inner) {
			t.Errorf("IsFatal changed for %T", inner)
		}
	}
	var a *AuthError
	if err := redactError(auth, forms); !errors.As(err, &a) || !a.Expired || a.Status != 400 || a.Reason != "bad: [redacted]" {
		t.Errorf("AuthError read through the chain: %+v", a)
	}
	var te *TransientError
	if err := redactError(trans, forms); !errors.As(err, &te) || strings.Contains(te.Err.Error(), "s3cret") {
		t.Errorf("TransientError read through the chain: %v", te)
	}
	var re *RequestError
	if err := redactError(req, forms); !errors.As(err, &re) || re.Reason != "echo [redacted]" {
		t.Errorf("RequestError read through the chain: %+v", re)
	}
	var th *ThrottledError
	if errors.As(redactError(auth, forms), &th) {
		t.Error("an AuthError read as throttling")
	}
	if plain := errors.New("nothing secret"); redactError(plain, forms) != plain {
		t.Error("an error without a secret was wrapped")
	}
}

type logLines struct {
	NopLogger
	lines []string
}

func (l *logLines) Warn(msg string, kv ...any) { l.lines = append(l.lines, fmt.Sprint(msg, kv)) }

// Each attempt's error is scrubbed before the retry's warning logs it: of
// the configured secrets (the section the source checked) and of the
// headers that attempt sent.
func TestRequesterScrubsWhatItLogsAndReturns(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, "upstream said: Authorization: %s; X-Session-Key: %s; config-secret-1; via proxy-pass-1", r.Header.Get("Authorization"), r.Header.Get("X-Session-Key"))
	}))
	defer srv.Close()
	cfg := defaultConfig()
	cfg.Retry = RetryConfig{MaxAttempts: 3, InitialBackoff: Duration(1), MaxBackoff: Duration(1)}
	cfg.checked = &struct{ Password Secret }{NewSecret("config-secret-1")}
	// The server is its own proxy: plain http requests reach it through
	// the proxy URL as absolute-form requests, which it serves alike.
	cfg.HTTP.ProxyURL = NewSecret("http://proxy-user:proxy-pass-1@" + srv.Listener.Addr().String())
	log := &logLines{}
	r, err := NewRequester(&cfg, Rate{}, "", &Metrics{}, log)
	if err != nil {
		t.Fatal(err)
	}
	r.sleep = func(context.Context, time.Duration) error { return nil }
	err = r.Do(context.Background(), "test", func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer header-token-1")
			req.Header.Set("X-Session-Key", "session-key-1")
		}
		return req, err
	}, func(*Response) error { return nil })
	var te *TransientError
	if !errors.As(err, &te) {
		t.Fatalf("want a TransientError, got %v", err)
	}
	text := err.Error() + "\n" + strings.Join(log.lines, "\n")
	if len(log.lines) != 2 {
		t.Errorf("want 2 retry warnings, got %q", log.lines)
	}
	for _, s := range []string{"header-token-1", "session-key-1", "config-secret-1", "proxy-pass-1"} {
		if strings.Contains(text, s) {
			t.Errorf("%s shows in:\n%s", s, text)
		}
	}
}
