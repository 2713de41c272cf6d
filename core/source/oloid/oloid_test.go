package oloid_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	_ "github.com/auditpull/auditpull/core/source/oloid"
	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/test/sim"
)

var now0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

const (
	clientID = "api-client-7"
	tenant   = "acme"
	secret   = "oloid-secret-value-4242"
)

// newRig is a rig with OLOID's defaults, and kv set. base may be "" where
// the simulator, which runs on the rig's clock, is served afterwards.
func newRig(t *testing.T, base string, kv ...any) *testkit.Rig {
	return testkit.NewRig(t, sim.NewFakeClock(now0), map[string]any{
		"source": "oloid", "oloid.base_url": base, "oloid.client_id": clientID,
		"oloid.tenant": tenant, "oloid.client_secret": secret,
		"checkpoint.type": "memory", "rate_limit.enabled": false, "settle_delay": "1m", "overlap": "5m",
		"retry.initial_backoff": "1ms", "retry.max_backoff": "5ms", "retry.max_attempts": 4,
	}).Set(kv...)
}

// simServer serves sim OLOID behind an optional request observer.
func simServer(t *testing.T, o *sim.OLOID, observe func(r *http.Request, body []byte)) string {
	t.Helper()
	inner := sim.NewServer().Mount(sim.OLOIDPrefix, o)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if observe != nil {
			b, _ := io.ReadAll(r.Body)
			observe(r, b)
			r.Body = io.NopCloser(strings.NewReader(string(b)))
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + sim.OLOIDPrefix
}

// refusingServer serves sim OLOID, but answers 400 with the message
// refuse returns for a request it does not want ("" passes it on); refused
// counts those answers.
func refusingServer(t *testing.T, o *sim.OLOID, refuse func(r *http.Request, body []byte) string) (base string, refused *atomic.Int32) {
	t.Helper()
	inner := sim.NewServer().Mount(sim.OLOIDPrefix, o)
	refused = new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if msg := refuse(req, b); msg != "" {
			refused.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"message":%q}`, msg)
			return
		}
		req.Body = io.NopCloser(strings.NewReader(string(b)))
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + sim.OLOIDPrefix, refused
}

// neighbouredBurst adds 900 activities at one millisecond and 200 at each
// millisecond beside it: the three together pass the 1,000 a query
// returns, the middle one alone does not.
func neighbouredBurst(o *sim.OLOID, at time.Time) {
	for i := range 200 {
		o.AddEvent(at.Add(-time.Millisecond), time.Time{}, "LOGIN", i%10)
		o.AddEvent(at.Add(time.Millisecond), time.Time{}, "LOGOUT", i%10)
	}
	for i := range 900 {
		o.AddEvent(at, time.Time{}, "LOGIN", i%10)
	}
}

func TestLogsInWithTheAPIClientAndSendsTheTokenAsBearer(t *testing.T) {
	r := newRig(t, "", "initial_lookback", "1h", "page_size", 25)
	o := sim.NewOLOID(sim.OLOIDConfig{Seed: 1, Count: 100, From: now0.Add(-time.Hour), To: now0, Clock: r.Clock})
	o.AddClient(clientID, tenant, secret)
	var mu sync.Mutex
	var logins []map[string]any
	var queries []map[string]any
	var auths []string
	r.Cfg["oloid.base_url"] = simServer(t, o, func(req *http.Request, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("request body %q: %v", body, err)
		}
		switch {
		case strings.HasSuffix(req.URL.Path, "/login"):
			logins = append(logins, m)
		case strings.HasSuffix(req.URL.Path, "/filterActivity"):
			queries = append(queries, m)
			auths = append(auths, req.Header.Get("Authorization"))
		}
	})
	p := r.Poller()
	defer p.Close(context.Background())
	if _, err := testkit.Drain(p, -1); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]any{"UserName": clientID, "TenantName": tenant, "Password": secret}
	if len(logins) != 1 || fmt.Sprint(logins[0]) != fmt.Sprint(want) {
		t.Fatalf("logins %v", logins)
	}
	if len(queries) < 4 {
		t.Fatalf("%d queries for 100 events in pages of 25", len(queries))
	}
	end := float64(now0.Add(-time.Minute).UnixMilli())
	for i, q := range queries {
		if !strings.HasPrefix(auths[i], "Bearer oloid-at-") || q["limit"] != 25.0 {
			t.Fatalf("query %d: Authorization %q, body %v", i, auths[i], q)
		}
		// start is one millisecond before the window, end its end, in ms;
		// each later query (newest first) ends just after the millisecond
		// the page before ended on, and needs no nextToken.
		if q["start"] != float64(now0.Add(-time.Hour).UnixMilli()-1) || q["end"].(float64) > end || i == 0 && q["end"] != end {
			t.Fatalf("query %d bounds %v–%v", i, q["start"], q["end"])
		}
		end = q["end"].(float64)
		if _, has := q["nextToken"]; has {
			t.Fatalf("query %d has a nextToken: %v", i, q)
		}
	}
}

// stubServer serves /login with loginBody and /filterActivity with data.
func stubServer(t *testing.T, login func(w http.ResponseWriter), data func(w http.ResponseWriter, r *http.Request, body map[string]any)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/login":
			login(w)
		case "/filterActivity":
			var body map[string]any
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				t.Errorf("filterActivity body: %v", err)
			}
			data(w, r, body)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func emptyPage(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
	fmt.Fprint(w, `{"data":{"activities":[],"nextToken":null},"message":"ok"}`)
}

func TestAcceptsEveryLikelyLoginResponseShape(t *testing.T) {
	shapes := map[string]string{
		"OLOID's documented cognitoToken":      `{"cognitoToken":{"IdToken":"id-1","AccessToken":"tok-1","RefreshToken":"rt-1","ExpiresIn":3600},"user":{"OloID":"o-1","TenantID":"t-1","TenantName":"acme"}}`,
		"cognitoToken.AuthenticationResult":    `{"cognitoToken":{"AuthenticationResult":{"AccessToken":"tok-1","ExpiresIn":3600}},"user":{}}`,
		"keys in camel case":                   `{"cognitoToken":{"accessToken":"tok-1","expiresIn":3600}}`,
		"wrapped in data like /filterActivity": `{"data":{"AccessToken":"tok-1","ExpiresIn":3600},"message":"ok"}`,
		"Cognito's AuthenticationResult":       `{"AuthenticationResult":{"AccessToken":"tok-1","ExpiresIn":3600,"TokenType":"Bearer"},"ChallengeParameters":{}}`,
		"AuthenticationResult inside data":     `{"data":{"AuthenticationResult":{"AccessToken":"tok-1","ExpiresIn":3600}}}`,
		"flat":                                 `{"AccessToken":"tok-1","ExpiresIn":3600}`,
		"without ExpiresIn":                    `{"AccessToken":"tok-1"}`,
	}
	for name, body := range shapes {
		t.Run(name, func(t *testing.T) {
			var got string
			base := stubServer(t, func(w http.ResponseWriter) { fmt.Fprint(w, body) }, func(w http.ResponseWriter, r *http.Request, b map[string]any) {
				got = r.Header.Get("Authorization")
				emptyPage(w, r, b)
			})
			p := newRig(t, base).Poller()
			defer p.Close(context.Background())
			if _, err := testkit.Drain(p, -1); err != nil || got != "Bearer tok-1" {
				t.Fatalf("Authorization %q, err %v", got, err)
			}
		})
	}
	t.Run("a challenge instead of a token is an AuthError saying so", func(t *testing.T) {
		base := stubServer(t, func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"ChallengeName":"NEW_PASSWORD_REQUIRED","Session":"sess-secret"}`)
		}, emptyPage)
		p := newRig(t, base).Poller()
		defer p.Close(context.Background())
		_, err := testkit.Drain(p, -1)
		var ae *core.AuthError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), "NEW_PASSWORD_REQUIRED challenge") || strings.Contains(err.Error(), "sess-secret") {
			t.Fatalf("got %v", err)
		}
	})
}

// OLOID's articles spell the login path /login and /Login: either logs in
// and reads the whole history, with one failed login at most (the wrong
// path, once). Every login answer at either path is a cell of the
// ambiguity matrix.
func TestLogsInWhicheverLoginPathCaseTheAPIUses(t *testing.T) {
	for _, path := range []string{sim.OLOIDLoginPath, sim.OLOIDLoginPathCapitalized} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			start := now0.Add(-time.Hour)
			r := newRig(t, "", "start_time", start.Format(time.RFC3339))
			o := sim.NewOLOID(sim.OLOIDConfig{Seed: 9, Count: 200, From: start, To: now0, Clock: r.Clock, LoginPath: path})
			o.AddClient(clientID, tenant, secret)
			var logins []string
			r.Cfg["oloid.base_url"] = simServer(t, o, func(req *http.Request, _ []byte) {
				if strings.EqualFold(req.URL.Path, sim.OLOIDPrefix+"/login") {
					logins = append(logins, req.URL.Path)
				}
			})
			p := r.Poller()
			defer p.Close(context.Background())
			got, err := testkit.Drain(p, -1)
			if err != nil {
				t.Fatal(err)
			}
			testkit.SameMultiset(t, got, testkit.Strings(o.Truth(start, now0.Add(-time.Minute))))
			if want := map[string]int{sim.OLOIDLoginPath: 1, sim.OLOIDLoginPathCapitalized: 2}[path]; len(logins) != want {
				t.Errorf("login requests %v, want %d", logins, want)
			}
		})
	}
}

func TestRenewsTheTokenShortlyBeforeItExpires(t *testing.T) {
	t.Parallel()
	r := newRig(t, "", "initial_lookback", "1h")
	o := sim.NewOLOID(sim.OLOIDConfig{Seed: 2, Count: 50, From: now0.Add(-time.Hour), To: now0, Clock: r.Clock, TokenLifetime: 10 * time.Minute})
	o.AddClient(clientID, tenant, secret)
	var refused int
	var mu sync.Mutex
	inner := sim.NewServer().Mount(sim.OLOIDPrefix, o)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, req)
		if rec.Code == http.StatusUnauthorized {
			mu.Lock()
			refused++
			mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	defer srv.Close()
	r.Cfg["oloid.base_url"] = srv.URL + sim.OLOIDPrefix
	p := r.Poller()
	defer p.Close(context.Background())
	got, err := testkit.Drain(p, -1)
	// 4 minutes on the token is still good; 9 minutes on it is inside the
	// last tenth of its lifetime, so the next poll logs in first instead of
	// waiting for a 401.
	for _, d := range []time.Duration{4 * time.Minute, 5 * time.Minute} {
		r.Clock.Advance(d)
		more, err2 := testkit.Drain(p, -1)
		got, err = append(got, more...), errors.Join(err, err2)
	}
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if o.Logins() != 2 || refused != 0 {
		t.Fatalf("%d logins, %d refused requests; want 2 logins and no refusal", o.Logins(), refused)
	}
	testkit.SameMultiset(t, got, testkit.Strings(o.Truth(now0.Add(-time.Hour), r.Clock.Now().Add(-time.Minute))))
}

func TestARefusedTokenIsRenewedOnceThenTheStreamStops(t *testing.T) {
	var logins, queries int
	base := stubServer(t, func(w http.ResponseWriter) {
		logins++
		fmt.Fprintf(w, `{"data":{"AccessToken":"tok-%d","ExpiresIn":3600}}`, logins)
	}, func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
		queries++
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"Unauthorized"}`)
	})
	p := newRig(t, base).Poller()
	defer p.Close(context.Background())
	_, err := testkit.Drain(p, -1)
	var ae *core.AuthError
	if !core.IsFatal(err) || !errors.As(err, &ae) || ae.Expired || !strings.Contains(err.Error(), "a freshly issued access token was refused too") {
		t.Fatalf("got %v", err)
	}
	if logins != 2 || queries != 2 {
		t.Fatalf("%d logins and %d queries, want 2 and 2", logins, queries)
	}
}

func TestVendorErrorsBecomeActionableErrors(t *testing.T) {
	type reply struct {
		status int
		body   string
	}
	ok := reply{200, `{"data":{"AccessToken":"tok-secret-1","ExpiresIn":3600}}`}
	tests := []struct {
		name        string
		login, data reply
		class       string
		want        string
	}{
		{"wrong client secret", reply{401, `{"message":"Incorrect username or password."}`}, reply{}, "auth", "Incorrect username or password.: check oloid.client_id, oloid.tenant and oloid.client_secret"},
		{"disabled API client", reply{401, `{"message":"User is disabled."}`}, reply{}, "auth", "User is disabled."},
		{"login rejected as a bad request", reply{400, `{"message":"UserName, TenantName and Password are required"}`}, reply{}, "auth", "UserName, TenantName and Password are required"},
		{"no login endpoint", reply{404, `not found`}, reply{}, "request", "nor /Login answers: check oloid.base_url"},
		{"client without permission", ok, reply{403, `{"message":"User is not authorized to access this resource"}`}, "auth", "not allowed to read activity logs"},
		{"rejected query", ok, reply{400, `{"message":"limit must be an integer between 1 and 1000"}`}, "request", "limit must be an integer between 1 and 1000"},
		{"wrong base URL", ok, reply{404, `{"message":"Not Found"}`}, "request", "check oloid.base_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := stubServer(t, func(w http.ResponseWriter) {
				w.WriteHeader(tt.login.status)
				fmt.Fprint(w, tt.login.body)
			}, func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
				w.WriteHeader(tt.data.status)
				fmt.Fprint(w, tt.data.body)
			})
			r := newRig(t, base)
			p := r.Poller()
			defer p.Close(context.Background())
			_, err := testkit.Drain(p, -1)
			var ae *core.AuthError
			var re *core.RequestError
			if !core.IsFatal(err) || (tt.class == "auth" && !errors.As(err, &ae)) || (tt.class == "request" && !errors.As(err, &re)) {
				t.Fatalf("want a fatal %s error, got %T %v", tt.class, err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q lacks %q", err, tt.want)
			}
			for _, s := range []string{secret, "tok-secret-1"} {
				if strings.Contains(err.Error(), s) || strings.Contains(r.Log.Text(), s) {
					t.Fatalf("a secret leaked: %v\n%s", err, r.Log.Text())
				}
			}
		})
	}
}

// A cursor is stored only where the next query cannot be narrowed to the
// instant a page ended on: here pages out of time order, which OLOID does
// not rule out.
func TestARefusedNextTokenRestartsTheWindowOnceWithAWarning(t *testing.T) {
	at := func(m int) int64 { return now0.Add(-time.Duration(m) * time.Minute).UnixMilli() }
	pages := map[string]string{
		"":   fmt.Sprintf(`{"data":{"activities":[{"id":"a","timestamp":%d},{"id":"b","timestamp":%d},{"id":"c","timestamp":%d}],"nextToken":"n1"}}`, at(50), at(40), at(45)),
		"n1": fmt.Sprintf(`{"data":{"activities":[{"id":"d","timestamp":%d},{"id":"e","timestamp":%d}],"nextToken":null}}`, at(30), at(20)),
	}
	var mu sync.Mutex
	refuse := false
	base := stubServer(t, func(w http.ResponseWriter) { fmt.Fprint(w, `{"AccessToken":"t"}`) }, func(w http.ResponseWriter, _ *http.Request, b map[string]any) {
		mu.Lock()
		defer mu.Unlock()
		tok, _ := b["nextToken"].(string)
		if tok != "" && refuse {
			refuse = false // e.g. a long outage outlived the cursor
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"message":"Invalid nextToken"}`)
			return
		}
		fmt.Fprint(w, pages[tok])
	})
	r := newRig(t, base, "initial_lookback", "1h")
	p := r.Poller()
	got, err := testkit.Drain(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	p.Close(context.Background())

	mu.Lock()
	refuse = true
	mu.Unlock()
	p = r.Poller()
	defer p.Close(context.Background())
	more, err := testkit.Drain(p, -1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Log.Text(), "refused the stored nextToken") {
		t.Fatal("no warning about the re-read window")
	}
	// At-least-once: everything arrives; the page read before is the
	// only repeat.
	ids := func(evs []string) []string {
		var out []string
		for _, e := range evs {
			var a struct{ ID string }
			_ = json.Unmarshal([]byte(e), &a)
			out = append(out, a.ID)
		}
		return out
	}
	testkit.SameMultiset(t, append(ids(got), ids(more)...), []string{"a", "b", "c", "a", "b", "c", "d", "e"})

	t.Run("a second refusal in the same window stops the stream", func(t *testing.T) {
		base := stubServer(t, func(w http.ResponseWriter) { fmt.Fprint(w, `{"AccessToken":"t"}`) }, func(w http.ResponseWriter, _ *http.Request, b map[string]any) {
			if b["nextToken"] != nil {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"message":"Invalid nextToken"}`)
				return
			}
			fmt.Fprintf(w, `{"data":{"activities":[{"id":"a","timestamp":%d,"activityType":"LOGIN"}],"nextToken":"n1"}}`, now0.Add(-30*time.Minute).UnixMilli())
		})
		r := newRig(t, base, "initial_lookback", "1h")
		p := r.Poller()
		defer p.Close(context.Background())
		got, err := testkit.Drain(p, -1)
		var re *core.RequestError
		// The restarted window's first page repeats the record the
		// previous page ended with: taken for its run going on, it is not
		// delivered again.
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "Invalid nextToken") || len(got) != 1 {
			t.Fatalf("got %d events and %v", len(got), err)
		}
	})
}

func TestRecordsRepeatedFromThePreviousPageAreDroppedAndBrokenPagesRetried(t *testing.T) {
	at := func(m int) int64 { return now0.Add(-time.Duration(m) * time.Minute).UnixMilli() }
	pages := map[string]string{
		"":   fmt.Sprintf(`{"data":{"activities":[{"id":"a","timestamp":%d},{"id":"b","timestamp":%d},{"id":"c","timestamp":%d}],"nextToken":"p2"}}`, at(10), at(9), at(8)),
		"p2": fmt.Sprintf(`{"data":{"activities":[{"id":"c","timestamp":%d},{"id":"d","timestamp":%d}],"nextToken":"p3"}}`, at(8), at(7)),
		"p3": fmt.Sprintf(`{"data":{"activities":[{"id":"e","timestamp":"%d"},{"id":"f","timestamp":"%s"}]}}`, at(6), now0.Add(-5*time.Minute).Format(time.RFC3339Nano)),
	}
	broken := []string{`{"data":{"activities":[{"id":"x","timestamp":`, `<html>bad gateway</html>`, `{"data":{}}`, `{"data":{"activities":[{"id":"x"}]}}`}
	var calls int
	base := stubServer(t, func(w http.ResponseWriter) { fmt.Fprint(w, `{"AccessToken":"t"}`) }, func(w http.ResponseWriter, _ *http.Request, b map[string]any) {
		calls++
		if calls <= len(broken) {
			fmt.Fprint(w, broken[calls-1])
			return
		}
		tok, _ := b["nextToken"].(string)
		fmt.Fprint(w, pages[tok])
	})
	r := newRig(t, base, "initial_lookback", "1h", "retry.max_attempts", 8)
	p := r.Poller()
	defer p.Close(context.Background())
	got, err := testkit.Drain(p, -1)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range got {
		var e struct{ ID string }
		if err := json.Unmarshal([]byte(g), &e); err != nil {
			t.Fatalf("event %s: %v", g, err)
		}
		ids = append(ids, e.ID)
	}
	if strings.Join(ids, ",") != "a,b,c,d,e,f" {
		t.Fatalf("delivered %v", ids)
	}
	if p.Metrics().Retries.Load() < int64(len(broken)) {
		t.Fatalf("%d retries for %d broken responses", p.Metrics().Retries.Load(), len(broken))
	}
}

func TestBaseURLMayNameAnEndpointAndMustBeHTTPS(t *testing.T) {
	for _, tc := range []struct {
		base string
		ok   bool
	}{
		{"https://api.oloid.example/v1", true},
		{"https://api.oloid.example/v1/filterActivity", true},
		{"https://api.oloid.example/v1/login/", true},
		{"http://127.0.0.1:8080", true},
		{"http://api.oloid.example", false},
		{"ftp://api.oloid.example", false},
	} {
		_, err := core.ParseMap(map[string]any{"source": "oloid", "oloid.base_url": tc.base, "oloid.client_id": "c", "oloid.tenant": "t", "oloid.client_secret": "s", "checkpoint.type": "memory"})
		var ce *core.ConfigError
		if tc.ok != (err == nil) || (err != nil && (!errors.As(err, &ce) || ce.Key != "oloid.base_url")) {
			t.Errorf("%s: %v", tc.base, err)
		}
	}
}

// tokenLogin answers a login with a bare token.
func tokenLogin(w http.ResponseWriter) { fmt.Fprint(w, `{"AccessToken":"t"}`) }

// ids reads the id of each delivered activity.
func ids(t *testing.T, got []string) string {
	t.Helper()
	var out []string
	for _, g := range got {
		var e struct{ ID string }
		if err := json.Unmarshal([]byte(g), &e); err != nil {
			t.Fatalf("event %s: %v", g, err)
		}
		out = append(out, e.ID)
	}
	return strings.Join(out, ",")
}

// "The actual response structure may vary": the activities and the
// nextToken are each read from data or from beside it, so no shape ends
// the window before its last page.
func TestEveryPageIsReadWhereverTheAnswerPutsActivitiesAndNextToken(t *testing.T) {
	ms := now0.Add(-30 * time.Minute).UnixMilli()
	a1 := fmt.Sprintf(`[{"id":"a1","timestamp":%d}]`, ms)
	a2 := fmt.Sprintf(`[{"id":"a2","timestamp":%d}]`, ms+1)
	cases := []struct{ name, first, last string }{
		{"both in data, as documented", `{"data":{"activities":` + a1 + `,"nextToken":"p2"},"message":"ok"}`, `{"data":{"activities":` + a2 + `,"nextToken":null},"message":"ok"}`},
		{"both at the top level", `{"activities":` + a1 + `,"nextToken":"p2","message":"ok"}`, `{"activities":` + a2 + `,"message":"ok"}`},
		{"activities in data, nextToken beside it", `{"data":{"activities":` + a1 + `},"nextToken":"p2","message":"ok"}`, `{"data":{"activities":` + a2 + `},"nextToken":null}`},
		{"activities beside data, nextToken in it", `{"data":{"nextToken":"p2"},"activities":` + a1 + `}`, `{"data":{"nextToken":""},"activities":` + a2 + `}`},
		{"data's nextToken null, the top level's set", `{"data":{"activities":` + a1 + `,"nextToken":null},"nextToken":"p2"}`, `{"data":{"activities":` + a2 + `,"nextToken":null},"nextToken":null}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := stubServer(t, tokenLogin, func(w http.ResponseWriter, _ *http.Request, b map[string]any) {
				if b["nextToken"] == "p2" {
					fmt.Fprint(w, c.last)
					return
				}
				fmt.Fprint(w, c.first)
			})
			p := newRig(t, base, "initial_lookback", "1h").Poller()
			defer p.Close(context.Background())
			got, err := testkit.Drain(p, -1)
			if err != nil || ids(t, got) != "a1,a2" {
				t.Fatalf("delivered %s, err %v; want a1,a2", ids(t, got), err)
			}
		})
	}
}

// Only an absent, null or empty nextToken ends the window. A number or an
// object may be a token this source does not know how to send back:
// taking it for the end would lose every page after it, unreported.
func TestANextTokenThatIsNotAStringIsAnErrorNeverTheEnd(t *testing.T) {
	ms := now0.Add(-30 * time.Minute).UnixMilli()
	for _, tok := range []string{`42`, `{"id":"a1","timestamp":1662388800000}`, `true`} {
		t.Run(tok, func(t *testing.T) {
			base := stubServer(t, tokenLogin, func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
				fmt.Fprintf(w, `{"data":{"activities":[{"id":"a1","timestamp":%d}],"nextToken":%s}}`, ms, tok)
			})
			p := newRig(t, base, "initial_lookback", "1h").Poller()
			defer p.Close(context.Background())
			got, err := testkit.Drain(p, -1)
			if len(got) != 0 || err == nil || !strings.Contains(err.Error(), "data.nextToken is not a string: "+tok) {
				t.Fatalf("delivered %s, err %v; want nothing delivered and the token named", ids(t, got), err)
			}
		})
	}
}

// Backends that render an empty list as null send "activities": null for
// a page without activities; OLOID's pages carry no count to contradict it.
func TestActivitiesNullIsAnEmptyPage(t *testing.T) {
	ms := now0.Add(-30 * time.Minute).UnixMilli()
	cases := []struct {
		name  string
		pages map[string]string
		want  string
	}{
		{"an empty window", map[string]string{"": `{"data":{"activities":null,"nextToken":null},"message":"ok"}`}, ""},
		{"an empty window, both at the top level", map[string]string{"": `{"activities":null,"message":"ok"}`}, ""},
		{"an empty page with a nextToken is followed", map[string]string{
			"":   `{"data":{"activities":null,"nextToken":"p2"}}`,
			"p2": fmt.Sprintf(`{"data":{"activities":[{"id":"a1","timestamp":%d}],"nextToken":null}}`, ms),
		}, "a1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := stubServer(t, tokenLogin, func(w http.ResponseWriter, _ *http.Request, b map[string]any) {
				tok, _ := b["nextToken"].(string)
				fmt.Fprint(w, c.pages[tok])
			})
			p := newRig(t, base, "initial_lookback", "1h").Poller()
			defer p.Close(context.Background())
			got, err := testkit.Drain(p, -1)
			if err != nil || ids(t, got) != c.want || p.Metrics().Retries.Load() != 0 {
				t.Fatalf("delivered %q, err %v, %d retries; want %q", ids(t, got), err, p.Metrics().Retries.Load(), c.want)
			}
		})
	}
}

// The login's ExpiresIn is read as seconds whether it comes as an
// integer, with a fraction, or in a string: a form the source could not
// read failed the login, and with it the stream, although the answer held
// an AccessToken.
func TestTheLoginsExpiresInIsReadInEveryForm(t *testing.T) {
	for name, expiresIn := range map[string]string{
		"an integer":             `600`,
		"with a fraction":        `600.0`,
		"in a string":            `"600"`,
		"absent: one hour":       ``,
		"not a number: one hour": `"soon"`,
	} {
		t.Run(name, func(t *testing.T) {
			var logins atomic.Int32
			exp := ""
			if expiresIn != "" {
				exp = `,"ExpiresIn":` + expiresIn
			}
			base := stubServer(t, func(w http.ResponseWriter) {
				fmt.Fprintf(w, `{"cognitoToken":{"AccessToken":"tok-%d"%s},"user":{}}`, logins.Add(1), exp)
			}, emptyPage)
			r := newRig(t, base, "initial_lookback", "1h")
			p := r.Poller()
			defer p.Close(context.Background())
			if _, err := testkit.Drain(p, -1); err != nil {
				t.Fatal(err)
			}
			// Nine minutes on, a token of ten minutes is inside the last
			// tenth of its life and renewed; one of an hour is not.
			r.Clock.Advance(9 * time.Minute)
			if _, err := testkit.Drain(p, -1); err != nil {
				t.Fatal(err)
			}
			want := int32(2)
			if expiresIn == "" || expiresIn == `"soon"` {
				want = 1
			}
			if logins.Load() != want {
				t.Fatalf("%d logins, want %d", logins.Load(), want)
			}
		})
	}
}

// An activity without an id (OLOID documents one) gets a content hash,
// which two genuine identical activities share: on consecutive pages the
// second is another event, not a repeat of the previous page, and every
// copy is delivered under an id of its own.
func TestIdenticalActivitiesWithoutAnIdAreEachDeliveredUnderIdsOfTheirOwn(t *testing.T) {
	ms := now0.Add(-30 * time.Minute).UnixMilli()
	next := map[string]string{"": `"p2"`, "p2": `"p3"`, "p3": `null`}
	base := stubServer(t, tokenLogin, func(w http.ResponseWriter, _ *http.Request, b map[string]any) {
		tok, _ := b["nextToken"].(string)
		fmt.Fprintf(w, `{"data":{"activities":[{"timestamp":%d,"activityType":"DOOR_OPEN","details":{"userId":"u1"}}],"nextToken":%s}}`, ms, next[tok])
	})
	p := newRig(t, base, "initial_lookback", "1h", "page_size", 1).Poller()
	defer p.Close(context.Background())
	var ids []string
	for {
		b, err := testkit.NextOrCaughtUp(p, testkit.ReadLimit)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			break
		}
		for _, e := range b.Events {
			ids = append(ids, e.ID)
		}
		b.Ack(nil)
	}
	if len(ids) != 3 || !strings.HasPrefix(ids[0], "sha256:") || ids[1] != ids[0]+"-2" || ids[2] != ids[0]+"-3" {
		t.Fatalf("delivered ids %v; want the three copies as <hash>, <hash>-2, <hash>-3", ids)
	}
}

// OLOID's limit is the "Maximum number of results to return": a page's
// size, or a cap on the whole query, which then answers its first limit
// activities and no nextToken. Read as the window's end, such a page lost
// every activity past it. A window whose first page is full and ends the
// query is split and its halves read; a single millisecond is asked with a
// larger limit. Every reading delivers every activity once, a millisecond
// holding more than a page included.
func TestEveryActivityIsReadWhetherLimitSizesAPageOrCapsTheQuery(t *testing.T) {
	readings := []struct {
		name string
		cfg  sim.OLOIDConfig
	}{
		{"a page's size, every full page with a nextToken", sim.OLOIDConfig{}},
		{"a page's size, a nextToken only when more follow", sim.OLOIDConfig{NextTokenOnlyWhenMore: true}},
		{"the whole query's cap", sim.OLOIDConfig{LimitCapsQuery: true}},
		{"the whole query's cap, oldest first", sim.OLOIDConfig{LimitCapsQuery: true, Ascending: true}},
	}
	for _, rd := range readings {
		t.Run(rd.name, func(t *testing.T) {
			r := newRig(t, "", "initial_lookback", "1h", "page_size", 100)
			cfg := rd.cfg
			cfg.Seed, cfg.Count, cfg.From, cfg.To, cfg.Clock, cfg.Bursts = 5, 250, now0.Add(-time.Hour), now0.Add(-2*time.Minute), r.Clock, -1
			o := sim.NewOLOID(cfg)
			o.AddClient(clientID, tenant, secret)
			burst := now0.Add(-20 * time.Minute)
			for i := range 150 {
				o.AddEvent(burst, time.Time{}, "LOGIN", i%10)
			}
			r.Cfg["oloid.base_url"] = simServer(t, o, nil)
			p := r.Poller()
			defer p.Close(context.Background())
			got, err := testkit.Drain(p, -1)
			if err != nil {
				t.Fatal(err)
			}
			want := testkit.Strings(o.Truth(now0.Add(-time.Hour), now0.Add(-time.Minute)))
			if len(want) != 400 {
				t.Fatalf("the history holds %d activities, want 400", len(want))
			}
			testkit.SameMultiset(t, got, want)
			if u := p.Metrics().Unreachable.Load(); u != 0 {
				t.Fatalf("%d reported unreachable", u)
			}
		})
	}
}

// An API that caps the query and refuses a limit above page_size cannot
// give a millisecond holding more than page_size activities whole: the
// reachable ones are delivered, the rest reported, and reading goes on.
func TestAMillisecondBeyondACappedQueryIsReportedAndReadingGoesOn(t *testing.T) {
	r := newRig(t, "", "initial_lookback", "1h", "page_size", 100)
	o := sim.NewOLOID(sim.OLOIDConfig{Seed: 6, Count: 50, From: now0.Add(-time.Hour), To: now0.Add(-30 * time.Minute), Clock: r.Clock, Bursts: -1, LimitCapsQuery: true})
	o.AddClient(clientID, tenant, secret)
	burst := now0.Add(-20 * time.Minute)
	for i := range 150 {
		o.AddEvent(burst, time.Time{}, "LOGIN", i%10)
	}
	o.AddEvent(burst.Add(time.Millisecond), time.Time{}, "LOGOUT", 0)
	base, refused := refusingServer(t, o, func(_ *http.Request, b []byte) string {
		var q struct{ Limit int }
		if json.Unmarshal(b, &q) == nil && q.Limit > 100 {
			return "limit must be at most 100"
		}
		return ""
	})
	r.Cfg["oloid.base_url"] = base
	p := r.Poller()
	defer p.Close(context.Background())
	got, err := testkit.Drain(p, -1)
	if err != nil {
		t.Fatal(err)
	}
	// Every activity outside the burst once, and of the burst what a query
	// capped at 100 returns: the millisecond is asked alone once its
	// answer shows the bound reaching the activity after it.
	fromBurst := 0
	for _, b := range o.Truth(now0.Add(-time.Hour), now0) {
		n := strings.Count(strings.Join(got, "\n"), string(b))
		switch {
		case strings.Contains(string(b), fmt.Sprint(burst.UnixMilli())):
			fromBurst += n
		case n != 1:
			t.Errorf("delivered %d times: %s", n, b)
		}
	}
	if len(got) != 50+fromBurst+1 || fromBurst != 100 || refused.Load() == 0 {
		t.Fatalf("delivered %d activities, %d of the burst (want 50, 100 of the burst, and the one after it); %d larger limits refused",
			len(got), fromBurst, refused.Load())
	}
	if !strings.Contains(r.Log.Text(), "the reachable ones were delivered") {
		t.Fatalf("nothing reported:\n%s", r.Log.Text())
	}
}

// Where limit caps the whole query, a millisecond is asked one millisecond
// wider either side, and its neighbours took room in its answer: 900
// activities beside 200 either side lost 100 of them under an inclusive
// bound, although 900 fit the 1,000 a query returns. A bound the answer
// proves inclusive is moved onto the millisecond, so every reading of the
// bounds and of the order reads the three milliseconds whole, and nothing
// is reported capped.
func TestAFullMillisecondBesideItsNeighboursIsReadWholeUnderEveryReadingOfTheBounds(t *testing.T) {
	for _, tc := range []struct {
		name                string
		startExcl, endExcl  bool
		ascending           bool
		wantNarrowedQueries bool
	}{
		{"both bounds inclusive, newest first", false, false, false, true},
		{"both bounds inclusive, oldest first", false, false, true, true},
		{"start exclusive", true, false, false, true},
		{"end exclusive", false, true, true, true},
		{"both bounds exclusive", true, true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, "", "initial_lookback", "1h", "page_size", 100)
			o := sim.NewOLOID(sim.OLOIDConfig{Seed: 7, Count: 50, From: now0.Add(-time.Hour), To: now0.Add(-30 * time.Minute),
				Clock: r.Clock, Bursts: -1, LimitCapsQuery: true, StartExclusive: tc.startExcl, EndExclusive: tc.endExcl, Ascending: tc.ascending})
			o.AddClient(clientID, tenant, secret)
			neighbouredBurst(o, now0.Add(-20*time.Minute))
			var narrowed atomic.Int32
			r.Cfg["oloid.base_url"] = simServer(t, o, func(req *http.Request, body []byte) {
				var q struct{ Start, End int64 }
				if strings.HasSuffix(req.URL.Path, "/filterActivity") && json.Unmarshal(body, &q) == nil && q.End-q.Start < 2 {
					narrowed.Add(1)
				}
			})
			p := r.Poller()
			defer p.Close(context.Background())
			got, err := testkit.Drain(p, -1)
			if err != nil {
				t.Fatal(err)
			}
			testkit.SameMultiset(t, got, testkit.Strings(o.Truth(now0.Add(-time.Hour), now0)))
			if strings.Contains(r.Log.Text(), "the reachable ones were delivered") {
				t.Errorf("a millisecond was reported capped:\n%s", r.Log.Text())
			}
			if (narrowed.Load() > 0) != tc.wantNarrowedQueries {
				t.Errorf("%d narrowed queries; want some only where a bound is inclusive", narrowed.Load())
			}
		})
	}
}

// An API that refuses start equal to end (400) does not stop the stream:
// the last answer it gave stands, reported as capped, and nothing it held
// is lost.
func TestAMillisecondTheAPIWillNotBeAskedAloneKeepsItsWiderAnswer(t *testing.T) {
	r := newRig(t, "", "initial_lookback", "1h", "page_size", 100)
	o := sim.NewOLOID(sim.OLOIDConfig{Seed: 8, Count: 50, From: now0.Add(-time.Hour), To: now0.Add(-30 * time.Minute),
		Clock: r.Clock, Bursts: -1, LimitCapsQuery: true})
	o.AddClient(clientID, tenant, secret)
	neighbouredBurst(o, now0.Add(-20*time.Minute))
	base, refused := refusingServer(t, o, func(req *http.Request, b []byte) string {
		var q struct{ Start, End int64 }
		if strings.HasSuffix(req.URL.Path, "/filterActivity") && json.Unmarshal(b, &q) == nil && q.Start == q.End {
			return "start must be earlier than end"
		}
		return ""
	})
	r.Cfg["oloid.base_url"] = base
	p := r.Poller()
	defer p.Close(context.Background())
	got, err := testkit.Drain(p, -1)
	if err != nil {
		t.Fatal(err)
	}
	testkit.SameMultiset(t, got, testkit.Strings(o.Truth(now0.Add(-time.Hour), now0)))
	if refused.Load() == 0 {
		t.Fatal("no millisecond was asked alone: the test no longer covers the refusal")
	}
}
