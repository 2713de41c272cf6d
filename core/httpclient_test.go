package core

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func testRequester(t *testing.T, attempts int) (*Requester, *[]time.Duration) {
	t.Helper()
	cfg := defaultConfig()
	cfg.Retry = RetryConfig{MaxAttempts: attempts, InitialBackoff: Duration(time.Millisecond), MaxBackoff: Duration(4 * time.Millisecond)}
	r, err := NewRequester(&cfg, Rate{}, "", &Metrics{}, NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	r.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	return r, &waits
}

func get(url string) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, "GET", url, nil)
	}
}

func TestRequesterRetries(t *testing.T) {
	cases := []struct {
		name      string
		responses []func(w http.ResponseWriter)
		wantErr   bool
		minWait   time.Duration
	}{
		{"5xx then success", []func(http.ResponseWriter){status(503), status(502), status(200)}, false, 0},
		{"429 waits at least Retry-After", []func(http.ResponseWriter){throttle("7"), status(200)}, false, 7 * time.Second},
		{"gives up after max attempts", []func(http.ResponseWriter){status(500), status(500), status(500), status(500)}, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				i := int(n.Add(1)) - 1
				tc.responses[min(i, len(tc.responses)-1)](w)
			}))
			defer srv.Close()
			r, waits := testRequester(t, 3)
			err := r.Do(context.Background(), "test", get(srv.URL), func(*Response) error { return nil })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if tc.minWait > 0 && (len(*waits) == 0 || (*waits)[0] < tc.minWait) {
				t.Fatalf("retried after %v, before the vendor's reset %v", *waits, tc.minWait)
			}
		})
	}
}

func TestRequesterLeavesClassificationToTheSource(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(403) }))
	defer srv.Close()
	r, waits := testRequester(t, 5)
	want := &AuthError{Op: "x", Status: 403, Reason: "no"}
	err := r.Do(context.Background(), "test", get(srv.URL), func(resp *Response) error { return want })
	if !errors.Is(err, want) || len(*waits) != 0 {
		t.Fatalf("want the source's error at once, got %v after %d retries", err, len(*waits))
	}
}

func TestOneBudgetPerHostAndCredential(t *testing.T) {
	a := sharedLimiter(LimiterKey("api.example", "tok-a"), Rate{Requests: 100, Period: time.Minute})
	b := sharedLimiter(LimiterKey("api.example", "tok-a"), Rate{Requests: 100, Period: time.Minute})
	c := sharedLimiter(LimiterKey("api.example", "tok-b"), Rate{Requests: 100, Period: time.Minute})
	if a != b || a == c {
		t.Fatal("streams with the same host and credential must share one bucket, others not")
	}
	// Never more than the documented number in any window of one period:
	// burst + refill over the period stays within the budget.
	if burst, per := a.Burst(), float64(a.Limit())*60; float64(burst)+per > 100.0001 {
		t.Fatalf("burst %d + refill %.1f exceeds 100 per minute", burst, per)
	}
}

func status(code int) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { w.WriteHeader(code) }
}

func throttle(v string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { w.Header().Set("Retry-After", v); w.WriteHeader(429) }
}
