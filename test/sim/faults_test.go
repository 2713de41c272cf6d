package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 1, Count: 200})
	q := query{From: t0.Add(-72 * time.Hour).Unix(), To: t0.Unix(), PerPage: 100}
	intact := f.post(t, testToken, q)

	tests := []struct {
		name  string
		fault Fault
		check func(t *testing.T, r response, elapsed time.Duration)
	}{
		{"latency delays an intact response", Fault{Kind: FaultLatency, Delay: 60 * time.Millisecond},
			func(t *testing.T, r response, elapsed time.Duration) {
				if r.status != 200 || !bytes.Equal(r.body, intact.body) || elapsed < 60*time.Millisecond {
					t.Fatalf("got %d after %v", r.status, elapsed)
				}
			}},
		{"5xx defaults to 503 with a short text body", Fault{Kind: FaultStatus5xx},
			func(t *testing.T, r response, _ time.Duration) {
				if r.status != 503 || len(r.body) > 100 || json.Valid(r.body) {
					t.Fatalf("got %d %q", r.status, r.body)
				}
			}},
		{"5xx uses the given status", Fault{Kind: FaultStatus5xx, Status: 502},
			func(t *testing.T, r response, _ time.Duration) {
				if r.status != 502 {
					t.Fatalf("got %d", r.status)
				}
			}},
		{"throttle is 429 with Retry-After 1 by default", Fault{Kind: FaultThrottle},
			func(t *testing.T, r response, _ time.Duration) {
				if r.status != 429 || r.header.Get("Retry-After") != "1" {
					t.Fatalf("got %d Retry-After %q", r.status, r.header.Get("Retry-After"))
				}
			}},
		{"throttle rounds Retry-After up to whole seconds", Fault{Kind: FaultThrottle, RetryAfter: 2100 * time.Millisecond},
			func(t *testing.T, r response, _ time.Duration) {
				if r.status != 429 || r.header.Get("Retry-After") != "3" {
					t.Fatalf("got %d Retry-After %q", r.status, r.header.Get("Retry-After"))
				}
			}},
		{"truncated is a well-formed 200 with half the JSON", Fault{Kind: FaultTruncated},
			func(t *testing.T, r response, _ time.Duration) {
				if r.status != 200 || !bytes.Equal(r.body, intact.body[:len(intact.body)/2]) || json.Valid(r.body) {
					t.Fatalf("got %d with %d of %d bytes", r.status, len(r.body), len(intact.body))
				}
			}},
		{"invalid JSON is a 200 with garbage", Fault{Kind: FaultInvalidJSON},
			func(t *testing.T, r response, _ time.Duration) {
				if r.status != 200 || r.header.Get("Content-Type") != "application/json" || json.Valid(r.body) {
					t.Fatalf("got %d %q", r.status, r.body)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.np.Faults().Next(1, tt.fault)
			start := time.Now()
			r := f.post(t, testToken, q)
			tt.check(t, r, time.Since(start))
			if r := f.post(t, testToken, q); r.status != 200 || !bytes.Equal(r.body, intact.body) {
				t.Fatalf("request after the fault: %d", r.status)
			}
		})
	}

	t.Run("reset closes the connection without a response", func(t *testing.T) {
		f.np.Faults().Next(1, Fault{Kind: FaultReset})
		body, _ := json.Marshal(q)
		req, _ := http.NewRequest(http.MethodPost, f.url, bytes.NewReader(body))
		req.Header.Set("Authorization", testToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := f.srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got a response (%d), want a connection error", resp.StatusCode)
		}
		if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("error %v is neither EOF nor a reset", err)
		}
		if r := f.post(t, testToken, q); r.status != 200 {
			t.Fatalf("next request on a new connection: %d", r.status)
		}
	})
}

func TestFaultsScriptedInOrder(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 1, Count: 10})
	faults := f.np.Faults()
	faults.Next(1, Fault{Kind: FaultStatus5xx, Status: 500})
	faults.Next(2, Fault{Kind: FaultThrottle})
	faults.Next(0, Fault{Kind: FaultStatus5xx}) // nothing
	faults.Next(1, Fault{Kind: FaultStatus5xx, Status: 504})

	var got []int
	for range 5 {
		got = append(got, f.post(t, testToken, query{}).status)
	}
	if want := []int{500, 429, 429, 504, 200}; !slices.Equal(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	inj := faults.Injected()
	if inj[FaultStatus5xx] != 2 || inj[FaultThrottle] != 2 || len(inj) != 2 {
		t.Fatalf("injected %v", inj)
	}
	if f.np.Requests() != 5 || f.np.Served() != 1 {
		t.Fatalf("requests %d served %d", f.np.Requests(), f.np.Served())
	}
}

func TestFaultsRandomAreReproducible(t *testing.T) {
	run := func(seed int64) []int {
		f := newFixture(t, NordPassConfig{Seed: 1, Count: 10})
		f.np.Faults().Random(0.3, seed, Fault{Kind: FaultStatus5xx}, Fault{Kind: FaultThrottle}, Fault{Kind: FaultInvalidJSON})
		var got []int
		for range 60 {
			r := f.post(t, testToken, query{})
			if r.status == 200 && !json.Valid(r.body) {
				r.status = -1 // invalid JSON
			}
			got = append(got, r.status)
		}
		f.np.Faults().Clear()
		for range 10 {
			if r := f.post(t, testToken, query{}); r.status != 200 {
				t.Fatalf("fault after Clear: %d", r.status)
			}
		}
		return got
	}
	a, b, c := run(5), run(5), run(6)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds, same faults")
	}
	faulted := 0
	for _, s := range a {
		if s != 200 {
			faulted++
		}
	}
	if faulted < 6 || faulted > 30 {
		t.Fatalf("%d of 60 requests faulted at rate 0.3", faulted)
	}
}

func TestOnServeSkipsDamagedPages(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 1, Count: 10})
	var calls atomic.Int32
	f.np.OnServe(func(int) { calls.Add(1) })
	f.np.Faults().Next(1, Fault{Kind: FaultTruncated})
	f.np.Faults().Next(1, Fault{Kind: FaultInvalidJSON})
	f.np.Faults().Next(1, Fault{Kind: FaultStatus5xx})
	for range 4 {
		f.post(t, testToken, query{})
	}
	if calls.Load() != 1 || f.np.Served() != 1 {
		t.Fatalf("hook called %d times, served %d; want 1 (only the intact page)", calls.Load(), f.np.Served())
	}
}

func TestFaultKindString(t *testing.T) {
	if FaultReset.String() != "reset" || FaultKind(99).String() != "FaultKind(99)" {
		t.Fatal(FaultReset.String(), FaultKind(99).String())
	}
}
