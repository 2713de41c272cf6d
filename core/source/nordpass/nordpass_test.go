package nordpass_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	_ "github.com/auditpull/auditpull/core/source/nordpass"
	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/test/sim"
)

var now0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

const token = "np-secret-token-1234"

// poller reads base on clock (the simulator's, where a test shares it),
// and is closed when the test ends.
func poller(t *testing.T, base string, clock *sim.FakeClock, extra map[string]any) *core.Poller {
	t.Helper()
	r := testkit.NewRig(t, clock, map[string]any{
		"source": "nordpass", "nordpass.base_url": base, "nordpass.token": token,
		"checkpoint.type": "memory", "rate_limit.enabled": false,
		"retry.initial_backoff": "1ms", "retry.max_backoff": "5ms",
	})
	r.CloseAtCleanup = true
	maps.Copy(r.Cfg, extra)
	return r.Poller()
}

func TestMoreThan500UserUUIDsAreQueriedInGroupsOf500(t *testing.T) {
	clock := sim.NewFakeClock(now0)
	np := sim.NewNordPass(sim.NordPassConfig{Seed: 3, Count: 6000, Users: 1300, From: now0.Add(-24 * time.Hour), To: now0, Clock: clock, RateLimit: -1})
	np.AddToken(token, sim.TokenValid)
	var mu sync.Mutex
	var sizes []int
	inner := sim.NewServer().Mount(sim.NordPassPrefix, np)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			UserUUIDs []string `json:"user_uuids"`
		}
		b := new(strings.Builder)
		tee := http.MaxBytesReader(w, r.Body, 1<<20)
		buf := make([]byte, 1<<20)
		n, _ := tee.Read(buf)
		for n > 0 {
			b.Write(buf[:n])
			n, _ = tee.Read(buf)
		}
		_ = jsonUnmarshal([]byte(b.String()), &body)
		mu.Lock()
		sizes = append(sizes, len(body.UserUUIDs))
		mu.Unlock()
		r.Body = ioNopCloser(strings.NewReader(b.String()))
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()

	users := np.UserUUIDs()[:1100] // three groups: 500, 500, 100
	filter := map[string]bool{}
	for _, u := range users {
		filter[u] = true
	}
	var want []string
	for _, r := range np.All() {
		if filter[r.UserUUID] && !r.Time.Before(now0.Add(-7*24*time.Hour)) && r.Time.Before(now0.Add(-time.Minute)) {
			want = append(want, string(r.JSON))
		}
	}
	anyUsers := make([]any, len(users))
	for i, u := range users {
		anyUsers[i] = u
	}
	p := poller(t, srv.URL+sim.NordPassPrefix, clock, map[string]any{"nordpass.user_uuids": anyUsers})
	got, err := testkit.Drain(p, -1)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %d events, want %d", len(got), len(want))
	}
	seen := map[int]bool{}
	for _, n := range sizes {
		if n > 500 {
			t.Fatalf("a request carried %d user_uuids", n)
		}
		seen[n] = true
	}
	if !seen[500] || !seen[100] {
		t.Fatalf("expected groups of 500 and 100, saw sizes %v", seen)
	}
}

func TestDocumentedErrorsBecomeActionableErrors(t *testing.T) {
	cases := []struct {
		name    string
		state   sim.TokenState
		extra   map[string]any
		class   any
		message string
	}{
		{"invalid token", sim.TokenInvalid, nil, &core.AuthError{}, "[authorization error] invalid token: the token is not valid"},
		{"expired or revoked token", sim.TokenExpired, nil, &core.AuthError{}, "token introspection failed: the token has expired or was revoked"},
		{"inactive organization", sim.TokenOrgInactive, nil, &core.AuthError{}, "organization UUID exchange failed: the organization is no longer active"},
		{"unknown user uuid", sim.TokenValid, map[string]any{"nordpass.user_uuids": []any{"00000000-0000-4000-8000-000000000000"}}, &core.RequestError{}, "Invalid request payload (user_uuids array contains non existing user_uuid value)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := sim.NewFakeClock(now0)
			np := sim.NewNordPass(sim.NordPassConfig{Seed: 1, Count: 100, Clock: clock, RateLimit: -1})
			np.AddToken(token, tc.state)
			srv := httptest.NewServer(sim.NewServer().Mount(sim.NordPassPrefix, np))
			defer srv.Close()
			p := poller(t, srv.URL+sim.NordPassPrefix, clock, tc.extra)
			_, err := p.Next(context.Background())
			if !core.IsFatal(err) {
				t.Fatalf("want a fatal error, got %v", err)
			}
			switch tc.class.(type) {
			case *core.AuthError:
				var ae *core.AuthError
				if !errors.As(err, &ae) {
					t.Fatalf("want AuthError, got %T", err)
				}
			case *core.RequestError:
				var re *core.RequestError
				if !errors.As(err, &re) {
					t.Fatalf("want RequestError, got %T", err)
				}
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("error %q lacks %q", err, tc.message)
			}
			if strings.Contains(err.Error(), token) {
				t.Fatal("the error leaks the token")
			}
		})
	}
}

func TestTokenIsSentAloneAndNeverOverPlainHTTPToRemoteHosts(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		fmt.Fprint(w, `{"data":[],"metadata":{"total":0,"per_page":100,"current_page":1,"total_pages":0}}`)
	}))
	defer srv.Close()
	p := poller(t, srv.URL, sim.NewFakeClock(now0), nil)
	if _, err := testkit.Drain(p, -1); err != nil {
		t.Fatal(err)
	}
	if got != token {
		t.Fatalf("Authorization = %q, want the bare token", got)
	}
	_, err := core.ParseMap(map[string]any{"source": "nordpass", "nordpass.base_url": "http://10.1.2.3:8080", "nordpass.token": token})
	if err == nil || !strings.Contains(err.Error(), "must be https") {
		t.Fatalf("want a refusal of plain http, got %v", err)
	}
}

func TestBrokenResponsesAreRetriedNotDelivered(t *testing.T) {
	bodies := []string{
		`{"data":[{"type":"user","action":"login","timestamp":`, // truncated
		`<html>bad gateway</html>`,
		`{"metadata":{"total":0}}`,                          // no data
		`{"data":[{"type":"user"}],"metadata":{"total":1}}`, // no timestamp
	}
	for _, body := range bodies {
		t.Run(body[:min(20, len(body))], func(t *testing.T) {
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				if calls == 1 {
					fmt.Fprint(w, body)
					return
				}
				fmt.Fprint(w, `{"data":[],"metadata":{"total":0,"per_page":100,"current_page":1,"total_pages":0}}`)
			}))
			defer srv.Close()
			p := poller(t, srv.URL, sim.NewFakeClock(now0), nil)
			got, err := testkit.Drain(p, -1)
			if err != nil || len(got) != 0 || calls < 2 {
				t.Fatalf("got %v, %v after %d calls", got, err, calls)
			}
			if p.Metrics().Retries.Load() == 0 {
				t.Fatal("the broken response should have been retried")
			}
		})
	}
}

// An answer the source cannot count pages by is retried, never taken for
// the window's last page: the record on it is delivered from the answer
// that can be counted, or not at all, and nothing after it is skipped.
func TestAnswersThatCannotBeCountedAreRetriedNeverTakenForTheLastPage(t *testing.T) {
	rec := fmt.Sprintf(`{"type":"user","action":"login","timestamp":%d}`, now0.Add(-time.Hour).Unix())
	cases := []struct{ name, body string }{
		{"total null", `{"data":[` + rec + `],"metadata":{"total":null,"per_page":100,"current_page":1,"total_pages":3}}`},
		{"total not a number", `{"data":[` + rec + `],"metadata":{"total":"n/a","per_page":100,"current_page":1,"total_pages":3}}`},
		{"a page short of the size asked while more follow, without per_page", `{"data":[` + rec + `],"metadata":{"total":150}}`},
		{"a page short of its per_page while more follow", `{"data":[` + rec + `],"metadata":{"total":150,"per_page":100}}`},
		{"data null while the total counts records", `{"data":null,"metadata":{"total":1,"per_page":100,"current_page":1,"total_pages":1}}`},
		{"a timestamp in microseconds", fmt.Sprintf(`{"data":[{"type":"user","timestamp":%d}],"metadata":{"total":1}}`, now0.Add(-time.Hour).UnixMicro())},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					fmt.Fprint(w, c.body)
					return
				}
				fmt.Fprint(w, `{"data":[],"metadata":{"total":0,"per_page":100,"current_page":1,"total_pages":0}}`)
			}))
			defer srv.Close()
			p := poller(t, srv.URL, sim.NewFakeClock(now0), map[string]any{"initial_lookback": "2h"})
			got, err := testkit.Drain(p, -1)
			if err != nil || len(got) != 0 || calls.Load() < 2 || p.Metrics().Retries.Load() == 0 {
				t.Fatalf("delivered %v, %v after %d calls; want the answer retried", got, err, calls.Load())
			}
		})
	}
}

// Backends that render an empty list as null answer an empty window with
// "data": null; with a total of 0 that is all it says.
func TestAnEmptyWindowAnsweredWithDataNullCompletes(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		fmt.Fprint(w, `{"data":null,"metadata":{"total":0,"per_page":100,"current_page":1,"total_pages":0}}`)
	}))
	defer srv.Close()
	p := poller(t, srv.URL, sim.NewFakeClock(now0), map[string]any{"initial_lookback": "2h", "retry.max_attempts": 2})
	got, err := testkit.Drain(p, -1)
	if err != nil || len(got) != 0 || calls.Load() != 1 || p.Metrics().Retries.Load() != 0 {
		t.Fatalf("delivered %v, %v after %d calls; want the window read in one", got, err, calls.Load())
	}
}

// An API that serves fewer records a page than asked numbers its pages in
// the size served: counted in the size asked, every page after the first
// few would be skipped.
func TestPagesAreCountedInTheSizeTheAPIServes(t *testing.T) {
	for _, served := range []int{24, 50} {
		t.Run(fmt.Sprintf("at most %d of the 100 asked", served), func(t *testing.T) {
			clock := sim.NewFakeClock(now0)
			org := testkit.NewOrg(t, sim.NordPassConfig{Seed: 4, Count: 1000, From: now0.Add(-24 * time.Hour), To: now0.Add(-time.Hour),
				Clock: clock, RateLimit: -1, NordPassReadings: sim.NordPassReadings{ServedPerPage: served}}, token)
			got, err := testkit.Drain(poller(t, org.Base, clock, nil), -1)
			if err != nil {
				t.Fatal(err)
			}
			testkit.SameMultiset(t, got, org.Truth())
		})
	}
}

// The document says `"timestamp": integer` and names no unit. Read as
// seconds, a millisecond timestamp lies 50,000 years ahead and every
// record would be dropped as outside its window, with nothing said.
func TestMillisecondTimestampsAreReadAsMilliseconds(t *testing.T) {
	clock := sim.NewFakeClock(now0)
	org := testkit.NewOrg(t, sim.NordPassConfig{Seed: 4, Count: 500, From: now0.Add(-24 * time.Hour), To: now0.Add(-time.Hour),
		Clock: clock, RateLimit: -1, NordPassReadings: sim.NordPassReadings{MillisecondTimestamps: true}}, token)
	got, err := testkit.Drain(poller(t, org.Base, clock, nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	testkit.SameMultiset(t, got, org.Truth())
}

// NordPass does not say whether user_uuids matches a record's user alone,
// its user or its initiator (an admin acting on a member), or whoever
// acted. Sent in groups of 500, a record whose user and initiator are in
// different groups may come from both queries, or from either: every
// reading delivers each record the whole filter matches once, a restart
// between two groups' queries included.
func TestEveryReadingOfUserUUIDsDeliversEachRecordOnce(t *testing.T) {
	readings := []struct {
		name  string
		match sim.UserMatch
	}{
		{"the record's user", sim.MatchUser},
		{"its user or its initiator", sim.MatchUserOrInitiator},
		{"whoever acted", sim.MatchActor},
	}
	for _, rd := range readings {
		for _, stopAfter := range []int{0, 30, 70} {
			t.Run(fmt.Sprintf("%s, stopped after %d pages", rd.name, stopAfter), func(t *testing.T) {
				clock := sim.NewFakeClock(now0)
				np := sim.NewNordPass(sim.NordPassConfig{Seed: 3, Count: 6000, Users: 1300, From: now0.Add(-24 * time.Hour), To: now0, Clock: clock,
					RateLimit: -1, NordPassReadings: sim.NordPassReadings{UserFilter: rd.match}})
				np.AddToken(token, sim.TokenValid)
				srv := httptest.NewServer(sim.NewServer().Mount(sim.NordPassPrefix, np))
				defer srv.Close()
				users := np.UserUUIDs()
				// Admins (the first members) act on members of every group.
				for i := range 40 {
					np.AddInitiated(now0.Add(-time.Duration(i+1)*time.Minute), time.Time{}, "member_management", "member_suspended", 600+i*17, i%3)
				}
				filter := map[string]bool{}
				anyUsers := make([]any, 1100) // three groups: 500, 500, 100
				for i, u := range users[:1100] {
					filter[u], anyUsers[i] = true, u
				}
				var want []string
				cross := 0
				for _, r := range np.All() {
					if r.Time.Before(now0.Add(-7*24*time.Hour)) || !r.Time.Before(now0.Add(-time.Minute)) {
						continue
					}
					matched := filter[r.UserUUID]
					switch {
					case rd.match == sim.MatchUserOrInitiator:
						matched = matched || filter[r.InitiatorUUID]
					case rd.match == sim.MatchActor && r.InitiatorUUID != "":
						matched = filter[r.InitiatorUUID]
					}
					if matched {
						want = append(want, string(r.JSON))
					}
					if r.InitiatorUUID != "" && r.InitiatorUUID != r.UserUUID && filter[r.UserUUID] && filter[r.InitiatorUUID] {
						cross++
					}
				}
				r := testkit.NewRig(t, clock, map[string]any{
					"source": "nordpass", "nordpass.base_url": srv.URL + sim.NordPassPrefix, "nordpass.token": token,
					"nordpass.user_uuids": anyUsers, "checkpoint.type": "memory", "rate_limit.enabled": false, "page_size": 50,
				})
				got, _ := r.DrainAcrossRestart(stopAfter)
				sort.Strings(got)
				sort.Strings(want)
				if cross < 40 || !slices.Equal(got, want) {
					t.Fatalf("delivered %d records (%d distinct), want %d; %d records name a user and an initiator of the filter",
						len(got), len(slices.Compact(slices.Clone(got))), len(want), cross)
				}
			})
		}
	}
}
