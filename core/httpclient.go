package core

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// maxBody bounds what one response may hold; a page of audit events is far
// smaller, so anything bigger is a broken server, not data.
const maxBody = 64 << 20

// Response is what a source's decode function sees.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Requester sends a source's requests: it waits for the shared rate budget,
// retries what is worth retrying with capped exponential backoff and jitter,
// honours 429 Retry-After, and leaves classification of everything else to
// the source, which knows the vendor's error format.
type Requester struct {
	client  *http.Client
	budget  *budget // nil: unlimited
	retry   RetryConfig
	timeout time.Duration
	metrics *Metrics
	log     Logger
	clock   Clock
	api     *apiClock
	before  func(context.Context) error // Options.BeforeRequest
	sleep   func(ctx context.Context, d time.Duration) error
	// secrets are the source's configured secrets, as error text may hold
	// them (redactForms).
	secrets []string
}

// Rate is a request budget: Requests per Period.
type Rate struct {
	Requests int
	Period   time.Duration
}

// NewRequester builds the transport from cfg.HTTP. limiterKey identifies
// the API host and credential whose budget is shared process-wide.
func NewRequester(cfg *Config, budget Rate, limiterKey string, m *Metrics, log Logger) (*Requester, error) {
	tr, err := newTransport(cfg.HTTP, log)
	if err != nil {
		return nil, err
	}
	r := &Requester{
		client:  &http.Client{Transport: tr, CheckRedirect: noRedirect},
		retry:   cfg.Retry,
		timeout: cfg.RequestTimeout.D(),
		metrics: m,
		log:     log,
		clock:   RealClock,
		sleep:   sleepCtx,
		secrets: redactForms(append(secretsOf(cfg.checked), proxySecrets(cfg.HTTP.ProxyURL)...)),
	}
	if cfg.RateLimit.Requests > 0 {
		budget = Rate{Requests: cfg.RateLimit.Requests, Period: cfg.RateLimit.Period.D()}
	}
	if (cfg.RateLimit.Enabled == nil || *cfg.RateLimit.Enabled) && budget.Requests > 0 && budget.Period > 0 {
		r.budget = sharedBudget(limiterKey, budget)
	}
	return r, nil
}

// Redirects would carry credentials to wherever the server points; audit
// APIs do not redirect data requests, so a redirect is an error.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// LimiterKey derives a budget key from the API host and the credential,
// without keeping the credential itself.
func LimiterKey(host string, credential string) string {
	sum := sha256.Sum256([]byte(credential))
	return host + "|" + hex.EncodeToString(sum[:8])
}

var (
	transportsMu sync.Mutex
	transports   = map[HTTPConfig]*http.Transport{}
)

// newTransport returns the process-wide transport for h: streams with the
// same proxy and TLS settings share connections (and their memory), which
// matters when one process polls a thousand tenants.
func newTransport(h HTTPConfig, log Logger) (*http.Transport, error) {
	transportsMu.Lock()
	defer transportsMu.Unlock()
	if tr, ok := transports[h]; ok {
		return tr, nil
	}
	tr, err := buildTransport(h, log)
	if err != nil {
		return nil, err
	}
	transports[h] = tr
	return tr, nil
}

var hostTLSTransports = map[*tls.Config]*http.Transport{} // guarded by transportsMu

// hostTLSTransport is newTransport with a host's TLS configuration (Options.TLS)
// in place of the http.* certificate options, which must be unset: two
// sources of one setting would leave the user guessing which one won.
func hostTLSTransport(h HTTPConfig, c *tls.Config) (*http.Transport, error) {
	for _, o := range []struct {
		key string
		set bool
	}{{"http.ca_file", h.CAFile != ""}, {"http.cert_file", h.CertFile != ""}, {"http.key_file", h.KeyFile != ""}, {"http.insecure_skip_verify", h.InsecureSkipVerify}} {
		if o.set {
			return nil, &ConfigError{Key: o.key, Msg: "must be unset when the host configures TLS (Benthos: the tls block)"}
		}
	}
	transportsMu.Lock()
	defer transportsMu.Unlock()
	if tr, ok := hostTLSTransports[c]; ok {
		return tr, nil
	}
	tr, err := buildTransport(HTTPConfig{ProxyURL: h.ProxyURL}, NopLogger{})
	if err != nil {
		return nil, err
	}
	tr.TLSClientConfig = c.Clone()
	if tr.TLSClientConfig.MinVersion == 0 {
		tr.TLSClientConfig.MinVersion = tls.VersionTLS12
	}
	hostTLSTransports[c] = tr
	return tr, nil
}

func buildTransport(h HTTPConfig, log Logger) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if h.ProxyURL.IsSet() {
		u, err := url.Parse(h.ProxyURL.Reveal())
		if err != nil || u.Host == "" {
			return nil, &ConfigError{Key: "http.proxy_url", Msg: "not a URL (e.g. http://proxy.internal:3128)"}
		}
		tr.Proxy = http.ProxyURL(u)
	}
	if h.CAFile != "" {
		pem, err := os.ReadFile(h.CAFile)
		if err != nil {
			return nil, &ConfigError{Key: "http.ca_file", Msg: err.Error()}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &ConfigError{Key: "http.ca_file", Msg: "no PEM certificate found in " + h.CAFile}
		}
		tlsCfg.RootCAs = pool
	}
	if h.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(h.CertFile, h.KeyFile)
		if err != nil {
			return nil, &ConfigError{Key: "http.cert_file", Msg: err.Error()}
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	if h.InsecureSkipVerify {
		log.Warn("http.insecure_skip_verify is on: TLS certificates are NOT verified; anyone on the path can read the API token. Use http.ca_file instead.")
		tlsCfg.InsecureSkipVerify = true
	}
	tr.TLSClientConfig = tlsCfg
	return tr, nil
}

// Do sends the request build makes, retrying transient failures, and hands
// every other response to decode. decode returns nil when the response was
// used, a *TransientError to retry (e.g. a body that does not parse), or a
// classified error to give up with. Every error Do logs or returns is
// scrubbed of the source's secrets and of the credentials in the failed
// request's headers, which error bodies may echo.
func (r *Requester) Do(ctx context.Context, op string, build func(ctx context.Context) (*http.Request, error), decode func(*Response) error) error {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = r.retry.InitialBackoff.D()
	bo.MaxInterval = r.retry.MaxBackoff.D()
	bo.RandomizationFactor = 0.5
	bo.MaxElapsedTime = 0
	bo.Reset()

	var last error
	for attempt := 1; ; attempt++ {
		err := r.once(ctx, op, build, decode)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var te *TransientError
		var th *ThrottledError
		wait := bo.NextBackOff()
		switch {
		case errors.As(err, &th):
			r.metrics.Throttled.Add(1)
			if r.budget != nil {
				r.budget.throttled(th.RetryAfter)
				r.metrics.setBudget(r.budget.perSecond())
			}
			// Never come back before the vendor's reset time.
			wait = max(wait, th.RetryAfter)
		case errors.As(err, &te):
		default:
			return err
		}
		last = err
		if noRetryWaits(ctx) {
			return err
		}
		if attempt >= r.retry.MaxAttempts {
			return fmt.Errorf("giving up after %d attempts: %w", attempt, last)
		}
		r.metrics.Retries.Add(1)
		r.log.Warn("request failed, retrying", "op", op, "attempt", attempt, "wait", wait.String(), "error", err.Error())
		if err := r.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// once sends one attempt; its error is scrubbed (see Do).
func (r *Requester) once(ctx context.Context, op string, build func(context.Context) (*http.Request, error), decode func(*Response) error) (err error) {
	var sent http.Header
	defer func() {
		if err != nil {
			err = r.redact(err, sent)
		}
	}()
	if r.budget != nil {
		if err := r.budget.wait(ctx); err != nil {
			return err
		}
		r.metrics.setBudget(r.budget.perSecond())
	}
	if r.before != nil {
		if err := r.before(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &TransientError{Op: op + ": host rate limit", Err: err}
		}
	}
	rctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	req, err := build(rctx)
	if err != nil {
		return err
	}
	sent = req.Header
	if err := checkHeaders(op, req.Header); err != nil {
		return err
	}
	r.metrics.Requests.Add(1)
	resp, err := r.client.Do(req)
	if err != nil {
		// url.Error repeats the URL, which is not secret; headers are never
		// part of it.
		return &TransientError{Op: op, Err: scrubURLError(err)}
	}
	defer resp.Body.Close()
	r.api.observe(r.clock.Now(), resp.Header.Get("Date"))
	body, err := readBody(resp)
	if err != nil {
		return &TransientError{Op: op, Err: fmt.Errorf("reading response: %w", err)}
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return &ThrottledError{Op: op, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), r.clock.Now())}
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return &TransientError{Op: op, Err: fmt.Errorf("HTTP %d: %s", resp.StatusCode, Snippet(body))}
	}
	if err := decode(&Response{Status: resp.StatusCode, Header: resp.Header, Body: body}); err != nil {
		return err
	}
	r.metrics.success(r.clock.Now())
	return nil
}

// proxySecrets are the credentials a proxy URL carries: the URL whole and
// its password, which a proxy's error page may quote.
func proxySecrets(proxy Secret) []string {
	if !proxy.IsSet() {
		return nil
	}
	out := []string{proxy.Reveal()}
	if u, err := url.Parse(proxy.Reveal()); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw)
		}
	}
	return out
}

// redact scrubs err of the configured secrets and of the credentials in
// the headers of the request that failed (nil if none was built).
func (r *Requester) redact(err error, sent http.Header) error {
	forms := r.secrets
	if cred := headerSecrets(sent); len(cred) > 0 {
		forms = append(redactForms(cred), r.secrets...)
		slices.SortStableFunc(forms, longestFirst)
	}
	return redactError(err, forms)
}

// checkHeaders refuses a request whose header cannot be sent: net/http
// would fail it as a transport error, which is retried for ever, while only
// the setting it came from (a token with a line break) can be fixed. The
// value is a credential more often than not: only the header is named.
func checkHeaders(op string, h http.Header) error {
	for name, vs := range h {
		for _, v := range vs {
			if !validHeaderValue(v) {
				return &RequestError{Op: op, Reason: fmt.Sprintf("the %s header holds a line break or another control character, which no request can carry; check the setting it comes from (the source's credential)", name)}
			}
		}
	}
	return nil
}

// readBody reads the whole body into one exactly sized buffer when the
// length is announced (events are sliced from it and passed on, so it is
// never reused), growing one otherwise; a body shorter than announced is an
// error (the connection broke), one longer than maxBody is refused.
func readBody(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n > 0 && n <= maxBody {
		body := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxBody))
}

// retryAfter parses seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now))
	}
	return 0
}

func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		u, perr := url.Parse(ue.URL)
		if perr == nil {
			u.RawQuery = "" // query strings may carry tokens for some APIs
			u.User = nil
			return fmt.Errorf("%s %s: %w", ue.Op, u.String(), ue.Err)
		}
		return ue.Err
	}
	return err
}

// Snippet is a short, single-line excerpt of a body for error messages.
func Snippet(b []byte) string {
	const n = 256
	s := string(b)
	if len(s) > n {
		s = s[:n] + "…"
	}
	out := make([]rune, 0, len(s))
	for _, c := range s {
		if c == '\n' || c == '\r' || c == '\t' {
			c = ' '
		}
		out = append(out, c)
	}
	return string(out)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CheckTokenURL refuses to send a credential in clear text anywhere but to
// this machine: tokens go only over https, except to loopback addresses.
// It refuses credentials in the URL itself (user:password@): sources name
// streams, checkpoint files and log lines after the URL.
func CheckTokenURL(key, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, &ConfigError{Key: key, Msg: fmt.Sprintf("%q is not an http(s) URL", redactURL(raw))}
	}
	if u.User != nil {
		return nil, &ConfigError{Key: key, Msg: "credentials do not belong in the URL (user:password@host): the URL names the stream's checkpoint and shows in logs; give the API's credentials in the source's own settings, a proxy's in http.proxy_url"}
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, &ConfigError{Key: key, Msg: "must be https: credentials are sent in clear text over http (http is allowed only to loopback addresses)"}
	}
	return u, nil
}

// redactURL is raw fit to quote in an error, even when it does not parse:
// whatever stands between "://" and the last "@" (a user and password) is
// replaced, and the query and fragment, which may carry keys, are dropped.
// An "@" further on (in a path or query) redacts more than the userinfo,
// which only costs an error message some detail.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		scheme, rest = "", raw
	} else {
		scheme += "://"
	}
	user := ""
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		user, rest = "[redacted]@", rest[at+1:]
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	return scheme + user + rest
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
