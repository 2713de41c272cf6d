package sim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRateLimiterSlidingWindow(t *testing.T) {
	clock := NewFakeClock(t0)
	l := NewRateLimiter(3, 10*time.Second, clock)
	step := func(d time.Duration, client string, wantOK bool, wantWait time.Duration) {
		t.Helper()
		clock.Advance(d)
		ok, wait := l.Allow(client)
		if ok != wantOK || wait != wantWait {
			t.Fatalf("at +%v %s: got %v %v, want %v %v", clock.Now().Sub(t0), client, ok, wait, wantOK, wantWait)
		}
	}
	step(0, "a", true, 0)
	step(2*time.Second, "a", true, 0)
	step(2*time.Second, "a", true, 0)
	step(time.Second, "a", false, 5*time.Second) // the first slot frees at +10s
	step(0, "b", true, 0)                        // other clients are not affected
	step(4*time.Second, "a", false, time.Second) // refused requests take no slot
	step(time.Second, "a", true, 0)              // +10s: exactly one window later
	step(0, "a", false, 2*time.Second)
	if l.Throttled() != 3 {
		t.Fatalf("throttled %d, want 3", l.Throttled())
	}
	if ok, _ := NewRateLimiter(0, time.Second, clock).Allow("a"); !ok {
		t.Fatal("limit 0 must admit everything")
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int64
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {time.Second + 1, 2}, {299 * time.Second, 299}} {
		if got := retryAfterSeconds(tt.d); got != tt.want {
			t.Errorf("%v: got %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestNordPassRateLimitPerClient(t *testing.T) {
	rateClock := NewFakeClock(t0)
	np := NewNordPass(NordPassConfig{Seed: 1, Count: 10, Clock: NewFakeClock(t0),
		RateLimit: 2, RateWindow: 3 * time.Second, RateClock: rateClock})
	np.AddToken(testToken, TokenValid)
	send := func(remote string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, NordPassPath, strings.NewReader(`{}`))
		req.RemoteAddr = remote
		req.Header.Set("Authorization", testToken)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		np.ServeHTTP(w, req)
		return w
	}
	tests := []struct {
		name       string
		advance    time.Duration
		remote     string
		status     int
		retryAfter string
	}{
		{"first request", 0, "10.0.0.1:1000", 200, ""},
		{"second request from another port of the same IP", 0, "10.0.0.1:2000", 200, ""},
		{"third request within the window", 500 * time.Millisecond, "10.0.0.1:1000", 429, "3"},
		{"another IP has its own quota", 0, "10.0.0.2:1000", 200, ""},
		{"still over the limit, wait rounded up", 2 * time.Second, "10.0.0.1:1000", 429, "1"},
		{"slot freed after the window", 500 * time.Millisecond, "10.0.0.1:1000", 200, ""},
	}
	for _, tt := range tests {
		rateClock.Advance(tt.advance)
		w := send(tt.remote)
		if w.Code != tt.status || w.Header().Get("Retry-After") != tt.retryAfter {
			t.Fatalf("%s: got %d Retry-After %q, want %d %q", tt.name, w.Code, w.Header().Get("Retry-After"), tt.status, tt.retryAfter)
		}
	}
	if np.Throttled() != 2 || np.Requests() != 6 || np.Served() != 4 {
		t.Fatalf("throttled %d requests %d served %d", np.Throttled(), np.Requests(), np.Served())
	}
}

func TestNordPassRateLimitInRealTime(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 1, Count: 10, RateLimit: 3, RateWindow: 200 * time.Millisecond})
	for i := range 3 {
		if r := f.post(t, testToken, query{}); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := f.post(t, testToken, query{})
	if r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("got %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	time.Sleep(250 * time.Millisecond)
	if r := f.post(t, testToken, query{}); r.status != 200 {
		t.Fatalf("after the window: %d", r.status)
	}
}

func TestFakeClock(t *testing.T) {
	c := NewFakeClock(t0)
	if !c.Now().Equal(t0) || !c.Advance(time.Minute).Equal(t0.Add(time.Minute)) {
		t.Fatal("Advance")
	}
	c.Set(t0.Add(-time.Hour))
	if !c.Now().Equal(t0.Add(-time.Hour)) {
		t.Fatal("Set")
	}
}
