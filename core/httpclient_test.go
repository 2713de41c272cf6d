package core

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
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

func TestATenantsRequestFailsAtOnceInsteadOfSleepingInTheSharedLoop(t *testing.T) {
	for name, respond := range map[string]func(http.ResponseWriter){"5xx": status(503), "429": throttle("30")} {
		t.Run(name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { n.Add(1); respond(w) }))
			defer srv.Close()
			r, waits := testRequester(t, 5)
			err := r.Do(withoutRetryWaits(context.Background()), "test", get(srv.URL), func(*Response) error { return nil })
			if err == nil || IsFatal(err) || len(*waits) != 0 || n.Load() != 1 {
				t.Fatalf("want one attempt and a transient error, got %v after %d requests, waits %v", err, n.Load(), *waits)
			}
		})
	}
}

// A header net/http cannot send fails every attempt alike: the request is
// a fatal error naming the header (the value is a credential), not a
// transient one retried for ever.
func TestARequestWithAnUnsendableHeaderFailsForGoodNamingTheHeader(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { n.Add(1) }))
	defer srv.Close()
	r, waits := testRequester(t, 5)
	err := r.Do(context.Background(), "test", func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		if err == nil {
			req.Header.Set("Authorization", "np-token-value\n")
		}
		return req, err
	}, func(*Response) error { return nil })
	var re *RequestError
	if !errors.As(err, &re) || !IsFatal(err) || !strings.Contains(err.Error(), "Authorization header") {
		t.Fatalf("want a fatal RequestError naming the header, got %v", err)
	}
	if strings.Contains(err.Error(), "np-token-value") {
		t.Errorf("the error shows the value: %v", err)
	}
	if n.Load() != 0 || len(*waits) != 0 {
		t.Errorf("%d requests sent, %d retries; want none", n.Load(), len(*waits))
	}
}

func TestOneBudgetPerHostAndCredential(t *testing.T) {
	a := sharedBudget(LimiterKey("api.example", "tok-a"), Rate{Requests: 100, Period: time.Minute})
	b := sharedBudget(LimiterKey("api.example", "tok-a"), Rate{Requests: 100, Period: time.Minute})
	c := sharedBudget(LimiterKey("api.example", "tok-b"), Rate{Requests: 100, Period: time.Minute})
	if a != b || a == c {
		t.Fatal("streams with the same host and credential must share one bucket, others not")
	}
	// Never more than the documented number in any window of one period:
	// burst + refill over the period stays within the budget.
	if burst, per := a.lim.Burst(), float64(a.lim.Limit())*60; float64(burst)+per > 100.0001 {
		t.Fatalf("burst %d + refill %.1f exceeds 100 per minute", burst, per)
	}
}

// A 429 the budget let through means the real limit is lower (or shared
// with others behind the address): the budget halves at each one, down to
// a floor, every stream on it waits out the Retry-After, and it recovers by
// a twentieth of the documented rate per quiet period.
func TestA429LowersTheBudgetWhichRecoversSlowly(t *testing.T) {
	b := newBudget(Rate{Requests: 2000, Period: 5 * time.Minute})
	full := b.perSecond()
	b.throttled(0)
	if got := b.perSecond(); math.Abs(got-full/2) > 1e-9 {
		t.Fatalf("after a 429: %.3f/s, want half of %.3f", got, full)
	}
	for range 20 {
		b.throttled(0)
	}
	if got := b.perSecond(); math.Abs(got-full*minBudgetFactor) > 1e-9 {
		t.Fatalf("after many 429s: %.4f/s, want the floor %.4f", got, full*minBudgetFactor)
	}
	b.mu.Lock()
	b.factor, b.changed = 0.5, time.Now().Add(-3*b.base.Period-time.Second)
	b.recover(time.Now())
	got := b.factor
	b.mu.Unlock()
	if math.Abs(got-0.65) > 1e-9 {
		t.Fatalf("after three quiet periods at half the budget: %.2f of it, want 0.65", got)
	}
	b.throttled(300 * time.Millisecond)
	start := time.Now()
	if err := b.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Fatalf("the next request went after %s; every stream must wait out the Retry-After", waited)
	}
}

func status(code int) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { w.WriteHeader(code) }
}

func throttle(v string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { w.Header().Set("Retry-After", v); w.WriteHeader(429) }
}
