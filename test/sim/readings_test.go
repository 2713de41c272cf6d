package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/internal/testkit/testkeys"
)

// gatewayCase is one vendor built with some Readings, reached in-process
// at its data endpoint.
type gatewayCase struct {
	name string
	h    http.Handler
	gw   *Gateway
	// request carries cred in the header the vendor reads it from.
	request func(cred string) *http.Request
}

// eachGateway builds every vendor with r, limit requests per minute timed
// by rateClock.
func eachGateway(r Readings, limit int, rateClock Clock) []gatewayCase {
	clock := NewFakeClock(t0)
	np := NewNordPass(NordPassConfig{Seed: 1, Count: 10, Clock: clock, RateLimit: limit, RateWindow: time.Minute, RateClock: rateClock, Readings: r})
	msp := NewNordPassMSP(NordPassMSPConfig{Seed: 1, Count: 10, Clock: clock, RateLimit: limit, RateWindow: time.Minute, RateClock: rateClock, Readings: r})
	ol := NewOLOID(OLOIDConfig{Seed: 1, Count: 10, Clock: clock, RateLimit: limit, RateWindow: time.Minute, RateClock: rateClock, Readings: r})
	qt := func() *Qualtrics {
		return NewQualtrics(QualtricsConfig{Seed: 1, Count: 10, Clock: clock, RateLimit: limit, RateWindow: time.Minute, RateClock: rateClock, Readings: r})
	}
	qtAPI, qtBearer := qt(), qt()
	post := func(path, header, prefix string) func(string) *http.Request {
		return func(cred string) *http.Request {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(header, prefix+cred)
			return req
		}
	}
	get := func(header, prefix string) func(string) *http.Request {
		return func(cred string) *http.Request {
			req := httptest.NewRequest(http.MethodGet, QualtricsLogsPath+"?activityType=login", nil)
			req.Header.Set(header, prefix+cred)
			return req
		}
	}
	return []gatewayCase{
		{"NordPass", np, np.Gateway, post(NordPassPath, "Authorization", "")},
		{"NordPass MSP", msp, msp.Gateway, post(msp.Path(), "Authorization", "Bearer ")},
		{"OLOID", ol, ol.Gateway, post(OLOIDActivityPath, "Authorization", "Bearer ")},
		{"Qualtrics API token", qtAPI, qtAPI.Gateway, get("X-API-TOKEN", "")},
		{"Qualtrics OAuth", qtBearer, qtBearer.Gateway, get("Authorization", "Bearer ")},
	}
}

func TestRateLimitScope(t *testing.T) {
	type step struct {
		ip, cred  string
		throttled bool
	}
	tests := []struct {
		name  string
		scope RateLimitScope
		steps []step
	}{
		{"per IP by default: a second token from the same IP shares the budget", RateLimitPerIP, []step{
			{"192.0.2.1", "tok-a", false}, {"192.0.2.1", "tok-a", false},
			{"192.0.2.1", "tok-b", true},
			{"192.0.2.2", "tok-a", false},
		}},
		{"per credential: two tokens from one IP each use the full budget", RateLimitPerCredential, []step{
			{"192.0.2.1", "tok-a", false}, {"192.0.2.1", "tok-a", false},
			{"192.0.2.1", "tok-a", true},
			{"192.0.2.1", "tok-b", false}, {"192.0.2.1", "tok-b", false},
			{"192.0.2.1", "tok-b", true},
			{"192.0.2.2", "tok-a", false},
		}},
	}
	for _, tt := range tests {
		for _, v := range eachGateway(Readings{RateLimitScope: tt.scope}, 2, NewFakeClock(t0)) {
			t.Run(tt.name+"/"+v.name, func(t *testing.T) {
				for i, s := range tt.steps {
					req := v.request(s.cred)
					req.RemoteAddr = s.ip + ":4000"
					w := httptest.NewRecorder()
					v.h.ServeHTTP(w, req)
					if got := w.Code == http.StatusTooManyRequests; got != s.throttled {
						t.Fatalf("step %d (%s, %s): status %d, want throttled %v", i, s.ip, s.cred, w.Code, s.throttled)
					}
				}
			})
		}
	}
}

func TestOmitRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		omit bool
	}{
		{"429 carries Retry-After by default", false},
		{"OmitRetryAfter sends 429 without Retry-After", true},
	}
	for _, tt := range tests {
		check := func(t *testing.T, what string, w *httptest.ResponseRecorder) {
			t.Helper()
			if w.Code != http.StatusTooManyRequests || (w.Header().Get("Retry-After") == "") != tt.omit {
				t.Fatalf("%s: got %d Retry-After %q", what, w.Code, w.Header().Get("Retry-After"))
			}
		}
		for _, v := range eachGateway(Readings{OmitRetryAfter: tt.omit}, 1, NewFakeClock(t0)) {
			t.Run(tt.name+"/"+v.name, func(t *testing.T) {
				// The first request passes the limiter and meets an injected
				// throttle; the second is the limiter's own refusal.
				v.gw.Faults().Next(1, Fault{Kind: FaultThrottle})
				for _, what := range []string{"injected throttle", "rate limit"} {
					w := httptest.NewRecorder()
					v.h.ServeHTTP(w, v.request("tok"))
					check(t, what, w)
				}
			})
		}
		t.Run(tt.name+"/OLOID login and Qualtrics token endpoints", func(t *testing.T) {
			ol := NewOLOID(OLOIDConfig{Seed: 1, Clock: NewFakeClock(t0), Readings: Readings{OmitRetryAfter: tt.omit}})
			ol.LoginFaults().Next(1, Fault{Kind: FaultThrottle})
			w := httptest.NewRecorder()
			ol.ServeHTTP(w, httptest.NewRequest(http.MethodPost, OLOIDLoginPath, strings.NewReader(`{}`)))
			check(t, "OLOID login", w)

			qt := NewQualtrics(QualtricsConfig{Seed: 1, Clock: NewFakeClock(t0), Readings: Readings{OmitRetryAfter: tt.omit}})
			qt.TokenFaults().Next(1, Fault{Kind: FaultThrottle})
			w = httptest.NewRecorder()
			qt.ServeHTTP(w, httptest.NewRequest(http.MethodPost, QualtricsTokenPath, nil))
			check(t, "Qualtrics token", w)
		})
	}
}

func TestClockSkewMovesTheAPIsNow(t *testing.T) {
	const (
		behind = -time.Minute
		ahead  = 10 * time.Minute
	)
	// Each probe asks the API something it answers by "now" and describes
	// the answer.
	nordPassTo := func(t *testing.T, skew time.Duration) string {
		f := newFixture(t, NordPassConfig{Seed: 1, Readings: Readings{ClockSkew: skew}})
		r := f.post(t, testToken, query{From: t0.Unix() - 60, To: t0.Unix()})
		return strconv.Itoa(r.status) + " " + string(r.body)
	}
	nordPassRecent := func(t *testing.T, skew time.Duration) string {
		f := newFixture(t, NordPassConfig{Seed: 1, Readings: Readings{ClockSkew: skew}})
		f.np.AddEvent(t0.Add(-30*time.Second), time.Time{}, "app_access", "app_login", 0)
		return fmt.Sprintf("%d visible", len(f.np.Truth(t0.Add(-time.Hour), t0.Add(time.Hour))))
	}
	mspToken := func(t *testing.T, skew time.Duration) string {
		key := testkeys.EC()
		f := newMSPFixture(t, NordPassMSPConfig{Seed: 1, Readings: Readings{ClockSkew: skew}}, key)
		status, body := f.post(t, "Bearer "+sign(t, key, goodClaims(t0), ""), query{From: t0.Unix() - 3600, To: t0.Unix() - 3000})
		return strconv.Itoa(status) + " " + string(body)
	}
	oloidDefaultEnd := func(t *testing.T, skew time.Duration) string {
		f := newOLOIDFixture(t, OLOIDConfig{Seed: 1, Readings: Readings{ClockSkew: skew}})
		f.o.AddEvent(t0.Add(-30*time.Second), time.Time{}, "LOGIN", 0)
		status, body := f.call(t, OLOIDActivityPath, "Bearer "+f.login(t), map[string]any{"start": t0.Add(-time.Hour).UnixMilli()})
		var p olPage
		if status != 200 || json.Unmarshal(body, &p) != nil {
			t.Fatalf("%d %s", status, body)
		}
		return fmt.Sprintf("%d served", len(p.Data.Activities))
	}
	qualtricsDefaultRange := func(t *testing.T, skew time.Duration) string {
		f := newQualtricsFixture(t, QualtricsConfig{Seed: 1, Readings: Readings{ClockSkew: skew}})
		f.q.AddEvent("login", t0.Add(-30*time.Second), time.Time{}, 0)
		return fmt.Sprintf("%d served", len(decodeQT(t, f.logs(t, qtParams("activityType", "login"))).Result.Elements))
	}
	future := `400 {"message":"Invalid request payload","reason":"timestamp_to is in the future"}`
	ok := `200 {"data":[],"metadata":{"total":0,"per_page":30,"current_page":1,"total_pages":0}}`
	tests := []struct {
		name  string
		probe func(*testing.T, time.Duration) string
		want  map[time.Duration]string
	}{
		{"NordPass: timestamp_to at the client's now is in the future for an API behind", nordPassTo,
			map[time.Duration]string{behind: future, 0: ok, ahead: ok}},
		{"NordPass: an event 30s old is not visible yet to an API a minute behind", nordPassRecent,
			map[time.Duration]string{behind: "0 visible", 0: "1 visible", ahead: "1 visible"}},
		{"NordPass MSP: a JWT issued at the client's now is from the future for an API behind, and expired for one ahead", mspToken,
			map[time.Duration]string{behind: `401 {"message":"` + mspMsgFuture + `"}`, 0: ok, ahead: `401 {"message":"` + mspMsgExpired + `"}`}},
		{"OLOID: without end, an event 30s old is not served by an API a minute behind", oloidDefaultEnd,
			map[time.Duration]string{behind: "0 served", 0: "1 served", ahead: "1 served"}},
		{"Qualtrics: without dates, an event 30s old is not served by an API a minute behind", qualtricsDefaultRange,
			map[time.Duration]string{behind: "0 served", 0: "1 served", ahead: "1 served"}},
	}
	for _, tt := range tests {
		for _, skew := range []time.Duration{behind, 0, ahead} {
			t.Run(fmt.Sprintf("%s/skew %v", tt.name, skew), func(t *testing.T) {
				if got := tt.probe(t, skew); got != tt.want[skew] {
					t.Fatalf("got %s, want %s", got, tt.want[skew])
				}
			})
		}
	}
}

func TestClockSkewLeavesTheRateLimiterOnRateClock(t *testing.T) {
	rateClock := NewFakeClock(t0)
	np := NewNordPass(NordPassConfig{Seed: 1, Clock: NewFakeClock(t0), RateLimit: 1, RateWindow: time.Minute, RateClock: rateClock,
		Readings: Readings{ClockSkew: time.Hour}})
	send := func() int {
		w := httptest.NewRecorder()
		np.ServeHTTP(w, httptest.NewRequest(http.MethodPost, NordPassPath, strings.NewReader(`{}`)))
		return w.Code
	}
	send()
	if got := send(); got != http.StatusTooManyRequests {
		t.Fatalf("a skew of an hour let the window pass: %d", got)
	}
	rateClock.Advance(time.Minute)
	if got := send(); got == http.StatusTooManyRequests {
		t.Fatal("still throttled after RateClock passed the window")
	}
}

// tieRun is one vendor with a run of 30 records sharing one timestamp.
type tieRun struct {
	run [][]byte // in insertion order
	// read pages through the run's instant with pages of size, by offset
	// or by cursor as the vendor pages, and returns what it served.
	read func(t *testing.T, size int) [][]byte
}

const tieRunLen = 30

func TestTieOrders(t *testing.T) {
	at := t0.Add(-time.Hour)
	vendors := []struct {
		name  string
		build func(t *testing.T, ties TieOrder) tieRun
	}{
		{"NordPass", func(t *testing.T, ties TieOrder) tieRun {
			f := newFixture(t, NordPassConfig{Seed: 1, Readings: Readings{Ties: ties}})
			var tr tieRun
			for i := range tieRunLen {
				tr.run = append(tr.run, f.np.AddEvent(at, time.Time{}, "app_access", "app_login", i).JSON)
			}
			tr.read = func(t *testing.T, size int) [][]byte {
				var out [][]byte
				for q := (query{From: at.Unix(), To: at.Unix(), PerPage: size, Page: 1}); len(out) < tieRunLen; q.Page++ {
					for _, d := range f.fetch(t, q).Data {
						out = append(out, d)
					}
				}
				return out
			}
			return tr
		}},
		{"NordPass MSP", func(t *testing.T, ties TieOrder) tieRun {
			key := testkeys.EC()
			f := newMSPFixture(t, NordPassMSPConfig{Seed: 1, Readings: Readings{Ties: ties}}, key)
			var tr tieRun
			for i := range tieRunLen {
				tr.run = append(tr.run, f.m.AddEvent(at, time.Time{}, "msp_access", fmt.Sprintf("action_%d", i), 0, -1).JSON)
			}
			auth := "Bearer " + sign(t, key, goodClaims(t0), "")
			tr.read = func(t *testing.T, size int) [][]byte {
				var out [][]byte
				for q := (query{From: at.Unix(), To: at.Unix(), PerPage: size, Page: 1}); len(out) < tieRunLen; q.Page++ {
					status, body := f.post(t, auth, q)
					var p page
					if status != 200 || json.Unmarshal(body, &p) != nil {
						t.Fatalf("page %d: %d %s", q.Page, status, body)
					}
					for _, d := range p.Data {
						out = append(out, d)
					}
				}
				return out
			}
			return tr
		}},
		{"OLOID (keyset)", func(t *testing.T, ties TieOrder) tieRun {
			f := newOLOIDFixture(t, OLOIDConfig{Seed: 1, Readings: Readings{Ties: ties}})
			var tr tieRun
			for i := range tieRunLen {
				tr.run = append(tr.run, f.o.AddEvent(at, time.Time{}, "LOGIN", i).JSON)
			}
			tok := f.login(t)
			tr.read = func(t *testing.T, size int) [][]byte {
				got, _ := f.readAll(t, tok, at.UnixMilli(), at.UnixMilli(), size)
				return got
			}
			return tr
		}},
		{"Qualtrics", func(t *testing.T, ties TieOrder) tieRun {
			f := newQualtricsFixture(t, QualtricsConfig{Seed: 1, Readings: Readings{Ties: ties}, NextPageAsToken: true})
			var tr tieRun
			for i := range tieRunLen {
				tr.run = append(tr.run, f.q.AddEvent("login", at, time.Time{}, i).JSON)
			}
			tr.read = func(t *testing.T, size int) [][]byte {
				var out [][]byte
				p := qtParams("activityType", "login", "startDate", iso(at), "endDate", iso(at.Add(time.Millisecond)), "pageSize", strconv.Itoa(size))
				for {
					pg := decodeQT(t, f.logs(t, p))
					for _, e := range pg.Result.Elements {
						out = append(out, e)
					}
					if pg.Result.NextPage == nil {
						return out
					}
					p.Set("skipToken", *pg.Result.NextPage)
				}
			}
			return tr
		}},
	}
	reversed := func(xs [][]byte) [][]byte {
		ys := slices.Clone(xs)
		slices.Reverse(ys)
		return ys
	}
	tests := []struct {
		name  string
		ties  TieOrder
		check func(t *testing.T, tr tieRun)
	}{
		{"insertion order by default: newest first serves the last added first, on every page size", TiesInsertionOrder, func(t *testing.T, tr tieRun) {
			want := reversed(tr.run)
			for _, size := range []int{100, 100, 7} {
				if got := tr.read(t, size); !slices.EqualFunc(got, want, bytes.Equal) {
					t.Fatalf("pages of %d: not the reverse insertion order", size)
				}
			}
		}},
		{"reversed: newest first serves the first added first, on every page size", TiesReversed, func(t *testing.T, tr tieRun) {
			for _, size := range []int{100, 100, 7} {
				if got := tr.read(t, size); !slices.EqualFunc(got, tr.run, bytes.Equal) {
					t.Fatalf("pages of %d: not the insertion order", size)
				}
			}
		}},
		{"shuffled: two identical requests see the run in different orders", TiesShuffled, func(t *testing.T, tr tieRun) {
			one, two := tr.read(t, 100), tr.read(t, 100)
			if slices.EqualFunc(one, two, bytes.Equal) {
				t.Fatal("two requests served the run in the same order")
			}
			if !mapsEqual(multiset(one), multiset(tr.run)) || !mapsEqual(multiset(two), multiset(tr.run)) {
				t.Fatal("a single page does not hold the run exactly once")
			}
		}},
		{"shuffled: paging through the run repeats some records and misses others", TiesShuffled, func(t *testing.T, tr tieRun) {
			got := multiset(tr.read(t, 7))
			missing := 0
			for _, r := range tr.run {
				if got[string(r)] == 0 {
					missing++
				}
			}
			if missing == 0 {
				t.Fatal("pages of 7 delivered the whole run")
			}
		}},
	}
	for _, v := range vendors {
		for _, tt := range tests {
			t.Run(v.name+"/"+tt.name, func(t *testing.T) { tt.check(t, v.build(t, tt.ties)) })
		}
	}
}

// TestStoreTieOrdersKeepPagesInPlace checks every way of paging a Store
// against the reference under each tie order: a reordered page holds the
// records the reference holds at those positions, up to the order within
// each run of equal times, and a stable reordering is the reference with
// every run reversed.
func TestStoreTieOrdersKeepPagesInPlace(t *testing.T) {
	for _, tc := range []struct {
		name string
		ties TieOrder
	}{{"reversed", TiesReversed}, {"shuffled", TiesShuffled}} {
		ties := tc.ties
		t.Run(tc.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(9, uint64(ties)))
			for round := range 20 {
				clock := NewFakeClock(t0)
				s, refs := randomStore(rnd, clock)
				s.ties = ties
				timeOf := map[string]time.Time{}
				for _, r := range refs {
					timeOf[string(r.json)] = r.t
				}
				// runsOf replaces every record by its time, so pages can be
				// compared whatever the order inside a run.
				runsOf := func(js [][]byte) []time.Time {
					out := make([]time.Time, len(js))
					for i, j := range js {
						out[i] = timeOf[string(j)]
					}
					return out
				}
				sameRuns := func(what string, got, want [][]byte) {
					t.Helper()
					if !slices.EqualFunc(runsOf(got), runsOf(want), time.Time.Equal) || !mapsEqual(multiset(got), multiset(want)) {
						t.Fatalf("round %d %s: got %s, want %s up to ties", round, what, got, want)
					}
					if ties == TiesReversed && !slices.EqualFunc(got, reverseRuns(want, timeOf), bytes.Equal) {
						t.Fatalf("round %d %s: got %s, want the runs of %s reversed", round, what, got, want)
					}
				}
				for range 20 {
					clock.Set(t0.Add(time.Duration(rnd.IntN(200)-50) * time.Second))
					from := t0.Add(-time.Duration(rnd.IntN(110)) * time.Second)
					to := from.Add(time.Duration(rnd.IntN(110)) * time.Second)
					desc := rnd.IntN(2) == 0
					offset, limit := rnd.IntN(50), 1+rnd.IntN(40)
					var keep func(string) bool
					if rnd.IntN(2) == 0 {
						keep = func(s string) bool { return s == "u1" || s == "u3" }
					}
					all := matching(refs, from, to, clock.Now(), desc, keep)
					// A page whose edges cut a run holds some of the run,
					// which part depending on the order: compare times, and
					// the records themselves where the order is stable.
					page := func(all [][]byte) [][]byte { return all[min(offset, len(all)):min(offset+limit, len(all))] }
					want, exact := page(all), page(reverseRuns(all, timeOf))
					inPlace := func(what string, got [][]byte) {
						t.Helper()
						if !slices.EqualFunc(runsOf(got), runsOf(want), time.Time.Equal) || ties == TiesReversed && !slices.EqualFunc(got, exact, bytes.Equal) {
							t.Fatalf("round %d %s: got %s, want %s up to ties", round, what, got, want)
						}
					}
					var got [][]byte
					total := s.filtered(from, to, desc, keep, offset, limit, func(j []byte) { got = append(got, j) })
					if total != len(all) {
						t.Fatalf("round %d filtered: total %d, want %d", round, total, len(all))
					}
					inPlace("filtered", got)
					if keep == nil {
						got = nil
						total = s.Query(Query{From: from, To: to, Ascending: !desc, Offset: offset, Limit: limit}, func(j []byte) { got = append(got, j) })
						if total != len(all) {
							t.Fatalf("round %d Query: total %d, want %d", round, total, len(all))
						}
						inPlace("Query", got)
					}
					// One page holding everything holds every run whole.
					got = nil
					s.filtered(from, to, desc, keep, 0, len(all)+1, func(j []byte) { got = append(got, j) })
					sameRuns("one page", got, all)
					if ties == TiesReversed {
						got = nil
						var after *storeKey
						for more := true; more; {
							var last storeKey
							_, more = s.seek(from, to, desc, after, limit, keep, func(j []byte, k storeKey) { got, last = append(got, j), k })
							after = &last
						}
						sameRuns("keyset", got, all)
					}
				}
			}
		})
	}
}

// reverseRuns reverses the order inside every run of equal times of js.
func reverseRuns(js [][]byte, timeOf map[string]time.Time) [][]byte {
	out := slices.Clone(js)
	for i := 0; i < len(out); {
		j := i + 1
		for j < len(out) && timeOf[string(out[j])].Equal(timeOf[string(out[i])]) {
			j++
		}
		slices.Reverse(out[i:j])
		i = j
	}
	return out
}
