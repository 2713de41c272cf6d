package qualtrics_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	_ "github.com/auditpull/auditpull/core/source/qualtrics"
	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/test/sim"
)

var now0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

const (
	apiToken     = "qualtrics-api-token-31337"
	clientID     = "oauth-client-1"
	clientSecret = "oauth-secret-8080"
)

// newRig is a rig with Qualtrics' defaults, and kv set. The qualtrics
// section is each test's own: it names the simulator, which runs on the
// rig's clock.
func newRig(t *testing.T, kv ...any) *testkit.Rig {
	return testkit.NewRig(t, sim.NewFakeClock(now0), map[string]any{
		"source": "qualtrics", "checkpoint.type": "memory", "rate_limit.enabled": false,
		"settle_delay": "1m", "overlap": "5m",
		"retry.initial_backoff": "1ms", "retry.max_backoff": "5ms", "retry.max_attempts": 4,
	}).Set(kv...)
}

// serve mounts q behind an optional observer and returns the API base URL.
func serve(t *testing.T, q *sim.Qualtrics, observe func(*http.Request)) string {
	t.Helper()
	inner := sim.NewServer().Mount(sim.QualtricsPrefix, q)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if observe != nil {
			observe(r)
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + sim.QualtricsPrefix + sim.QualtricsAPIPath
}

func TestAllDiscoversTheActivityTypesAndReadsEachAsItsOwnStream(t *testing.T) {
	start := now0.Add(-48 * time.Hour)
	r := newRig(t, "start_time", start.Format(time.RFC3339), "stream", "brand-x", "page_size", 40)
	q := sim.NewQualtrics(sim.QualtricsConfig{Seed: 7, Count: 3000, From: start, To: now0, Clock: r.Clock, Bursts: 20})
	q.AddAPIToken(apiToken)
	r.Cfg["qualtrics"] = map[string]any{"base_url": serve(t, q, nil), "api_token": apiToken, "activity_types": []any{"all"}}

	p := r.Poller()
	var want []string
	for _, typ := range slices.Sorted(slices.Values(q.ActivityTypes())) {
		want = append(want, "brand-x/"+typ)
	}
	if !slices.Equal(p.Streams(), want) {
		t.Fatalf("streams %v, want %v", p.Streams(), want)
	}
	got, err := testkit.Drain(p, 25)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	p.Close(context.Background())

	// A restart resumes every stream where it stopped.
	p = r.Poller()
	defer p.Close(context.Background())
	more, err := testkit.Drain(p, -1)
	if err != nil {
		t.Fatal(err)
	}
	testkit.SameMultiset(t, append(got, more...), testkit.Strings(q.Truth(start, now0.Add(-time.Minute))))
	if !strings.Contains(r.Log.Text(), "qualtrics activity types discovered") {
		t.Fatal("the discovered types were not logged")
	}
}

func TestAnAPIDownAtStartDelaysDiscoveryNotTheHost(t *testing.T) {
	start := now0.Add(-24 * time.Hour)
	r := newRig(t, "start_time", start.Format(time.RFC3339), "stream", "brand-x")
	r.DeferOpen = true // as Telegraf and Fluent Bit open the poller
	q := sim.NewQualtrics(sim.QualtricsConfig{Seed: 9, Count: 500, From: start, To: now0, Clock: r.Clock})
	q.AddAPIToken(apiToken)
	var mu sync.Mutex
	listings := 0
	inner := serve(t, q, nil)
	// The type list fails for the whole first retry budget (4 attempts)
	// and the first retry from Next, then answers.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		if strings.HasSuffix(req.URL.Path, "/logs/activitytypes") {
			listings++
			if listings <= 8 {
				mu.Unlock()
				http.Error(w, `{"meta":{"httpStatus":"503 - Service Unavailable"}}`, http.StatusServiceUnavailable)
				return
			}
		}
		mu.Unlock()
		target, _ := url.Parse(inner)
		httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host}).ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	base, _ := url.Parse(inner)
	r.Cfg["qualtrics"] = map[string]any{"base_url": srv.URL + base.Path, "api_token": apiToken, "activity_types": []any{"all"}}

	p, err := r.Open()
	if err != nil {
		t.Fatalf("the poller must start while the API is down: %v", err)
	}
	defer p.Close(context.Background())
	if _, err := p.Next(context.Background()); err == nil || core.IsFatal(err) {
		t.Fatalf("the first retry must fail transiently, got %v", err)
	}
	got, err := testkit.Drain(p, -1)
	if err != nil {
		t.Fatal(err)
	}
	testkit.SameMultiset(t, got, testkit.Strings(q.Truth(start, now0.Add(-time.Minute))))
	if len(p.Streams()) != len(q.ActivityTypes()) {
		t.Fatalf("streams %v", p.Streams())
	}
}

func TestRequestsCarryTheDocumentedParameters(t *testing.T) {
	r := newRig(t, "initial_lookback", "2h", "page_size", 50)
	q := sim.NewQualtrics(sim.QualtricsConfig{Seed: 1, Count: 200, From: now0.Add(-2 * time.Hour), To: now0, Clock: r.Clock, EventTypes: []string{"login"}})
	q.AddAPIToken(apiToken)
	var mu sync.Mutex
	var reqs []*http.Request
	base := serve(t, q, func(req *http.Request) {
		mu.Lock()
		reqs = append(reqs, req.Clone(context.Background()))
		mu.Unlock()
	})
	user := q.UserIDs()[0]
	r.Cfg["qualtrics"] = map[string]any{
		"base_url": base, "api_token": apiToken, "activity_types": []any{"login"},
		"organization_id": q.Brand(), "user_id": user, "directory_id": "POOL_1", "group_id": "GR_2", "contact_id": "CID_3",
	}
	p := r.Poller()
	defer p.Close(context.Background())
	got, err := testkit.Drain(p, -1)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, j := range q.TypeTruth("login", now0.Add(-2*time.Hour), now0.Add(-time.Minute)) {
		if strings.Contains(string(j), `"userId":"`+user+`"`) {
			want = append(want, string(j))
		}
	}
	testkit.SameMultiset(t, got, want)
	mu.Lock()
	defer mu.Unlock()
	if len(reqs) == 0 {
		t.Fatal("no requests")
	}
	first := reqs[0].URL.Query()
	wantParams := url.Values{
		"activityType": {"login"}, "startDate": {now0.Add(-2 * time.Hour).Format("2006-01-02T15:04:05.000Z")},
		"endDate": {now0.Add(-time.Minute).Format("2006-01-02T15:04:05.000Z")}, "order": {"asc"}, "pageSize": {"50"},
		"organizationId": {q.Brand()}, "userId": {user}, "directoryId": {"POOL_1"}, "groupId": {"GR_2"}, "contactId": {"CID_3"},
	}
	if first.Encode() != wantParams.Encode() {
		t.Fatalf("query\n %s\nwant\n %s", first.Encode(), wantParams.Encode())
	}
	for _, req := range reqs {
		if req.Header.Get("X-API-TOKEN") != apiToken || req.Header.Get("Authorization") != "" {
			t.Fatalf("credentials sent as %v", req.Header)
		}
	}
}

func TestNextPageIsFollowedOnlyToTheConfiguredHost(t *testing.T) {
	at := now0.Add(-30 * time.Minute).Format("2006-01-02T15:04:05.000Z")
	event := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"timestamp":%q,"descriptor":{"userId":"UR_1"}}`, id, at)
	}
	page := func(next string, ids ...string) string {
		var els []string
		for _, id := range ids {
			els = append(els, event(id))
		}
		n := "null"
		if next != "" {
			n = fmt.Sprintf("%q", next)
		}
		return fmt.Sprintf(`{"result":{"elements":[%s],"nextPage":%s},"meta":{"httpStatus":"200 - OK"}}`, strings.Join(els, ","), n)
	}
	tests := []struct {
		name string
		// next renders page 1's nextPage from the server's own URL.
		next     func(self string) string
		wantPath string // path + skipToken the second request must use
		fatal    string
	}{
		{"a URL on the same host is followed as is", func(self string) string { return self + "/API/v3/logs/next?cursor=p2" }, "/API/v3/logs/next", ""},
		{"a bare token becomes skipToken", func(string) string { return "tok-2" }, "/API/v3/logs skipToken=tok-2", ""},
		{"a URL to another host is reduced to its skipToken", func(string) string { return "https://elsewhere.example/API/v3/logs?skipToken=tok-3" }, "/API/v3/logs skipToken=tok-3", ""},
		{"a URL to another host without a skipToken stops the stream", func(string) string { return "https://elsewhere.example/next" }, "", "not the configured API host"},
		{"a path relative to the host is followed on the configured host", func(string) string { return "/API/v3/logs/next?cursor=p2" }, "/API/v3/logs/next", ""},
		{"a path relative to the page is resolved against it", func(string) string { return "logs?activityType=login&skipToken=tok-4" }, "/API/v3/logs skipToken=tok-4", ""},
		{"a query relative to the page is resolved against it", func(string) string { return "?activityType=login&skipToken=tok-5" }, "/API/v3/logs skipToken=tok-5", ""},
		{"a URL without a scheme to another host is reduced to its skipToken", func(string) string { return "//elsewhere.example/API/v3/logs?skipToken=tok-6" }, "/API/v3/logs skipToken=tok-6", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			var self string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				if req.Header.Get("X-API-TOKEN") != apiToken {
					w.WriteHeader(401)
					return
				}
				p := req.URL.Path
				if s := req.URL.Query().Get("skipToken"); s != "" {
					p += " skipToken=" + s
				}
				seen = append(seen, p)
				if len(seen) == 1 {
					fmt.Fprint(w, page(tt.next(self), "a", "b"))
					return
				}
				fmt.Fprint(w, page("", "b", "c")) // b repeats the previous page's last
			}))
			defer srv.Close()
			self = srv.URL
			r := newRig(t, "initial_lookback", "1h")
			r.Cfg["qualtrics"] = map[string]any{"base_url": srv.URL + "/API/v3", "api_token": apiToken, "activity_types": []any{"login"}}
			p := r.Poller()
			defer p.Close(context.Background())
			got, err := testkit.Drain(p, -1)
			if tt.fatal != "" {
				var re *core.RequestError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.fatal) || len(seen) != 1 {
					t.Fatalf("got %v after %v", err, seen)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) < 2 || seen[1] != tt.wantPath {
				t.Fatalf("requests %v", seen)
			}
			if len(got) != 3 {
				t.Fatalf("delivered %d events, want a, b, c once each", len(got))
			}
		})
	}
}

func TestOAuthTokenIsRequestedWithBasicAuthAndRenewedBeforeItExpires(t *testing.T) {
	r := newRig(t, "initial_lookback", "1h")
	q := sim.NewQualtrics(sim.QualtricsConfig{Seed: 2, Count: 300, From: now0.Add(-time.Hour), To: now0, Clock: r.Clock, TokenLifetime: 10 * time.Minute})
	q.AddClient(clientID, clientSecret, "read:activity_logs")
	var mu sync.Mutex
	var tokenReqs []string
	base := serve(t, q, func(req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/oauth2/token") {
			if err := req.ParseForm(); err != nil {
				t.Errorf("token request: %v", err)
			}
			mu.Lock()
			tokenReqs = append(tokenReqs, req.Header.Get("Authorization")+" "+req.PostForm.Encode())
			mu.Unlock()
		}
	})
	r.Cfg["qualtrics"] = map[string]any{"base_url": base, "client_id": clientID, "client_secret": clientSecret, "scope": "read:activity_logs", "activity_types": []any{"login", "survey_access"}}
	p := r.Poller()
	defer p.Close(context.Background())
	got, err := testkit.Drain(p, -1)
	for _, d := range []time.Duration{4 * time.Minute, 5 * time.Minute} {
		r.Clock.Advance(d)
		more, err2 := testkit.Drain(p, -1)
		got, err = append(got, more...), errors.Join(err, err2)
	}
	if err != nil {
		t.Fatal(err)
	}
	want := testkit.Strings(q.TypeTruth("login", now0.Add(-time.Hour), r.Clock.Now().Add(-time.Minute)))
	want = append(want, testkit.Strings(q.TypeTruth("survey_access", now0.Add(-time.Hour), r.Clock.Now().Add(-time.Minute)))...)
	testkit.SameMultiset(t, got, want)
	mu.Lock()
	defer mu.Unlock()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"+clientSecret))
	// One token for both streams, renewed once: 9 minutes into its 10 the
	// token is still valid, so only the proactive renewal asks for another.
	if len(tokenReqs) != 2 {
		t.Fatalf("%d token requests, want 2", len(tokenReqs))
	}
	for _, tr := range tokenReqs {
		if tr != basic+" grant_type=client_credentials&scope=read%3Aactivity_logs" {
			t.Fatalf("token request %q", tr)
		}
	}
}

func TestARefusedOAuthTokenIsRenewedOnceThenTheStreamStops(t *testing.T) {
	var mu sync.Mutex
	var tokens, queries int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if req.URL.Path == "/oauth2/token" {
			tokens++
			fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600}`, tokens)
			return
		}
		queries++
		w.WriteHeader(401)
		fmt.Fprint(w, `{"meta":{"httpStatus":"401 - Unauthorized","error":{"errorMessage":"Access token expired","errorCode":"AUTH_401"}}}`)
	}))
	defer srv.Close()
	r := newRig(t)
	r.Cfg["qualtrics"] = map[string]any{"base_url": srv.URL + "/API/v3", "client_id": clientID, "client_secret": clientSecret, "activity_types": []any{"login"}}
	p := r.Poller()
	defer p.Close(context.Background())
	_, err := testkit.Drain(p, -1)
	var ae *core.AuthError
	if !core.IsFatal(err) || !errors.As(err, &ae) || !strings.Contains(err.Error(), "a freshly issued OAuth token was refused too") {
		t.Fatalf("got %v", err)
	}
	if tokens != 2 || queries != 2 {
		t.Fatalf("%d token requests and %d queries, want 2 and 2", tokens, queries)
	}
}

func TestVendorErrorsBecomeActionableErrors(t *testing.T) {
	tests := []struct {
		name    string
		section func(base string) map[string]any
		class   string
		want    string
	}{
		{"unknown API token", func(b string) map[string]any {
			return map[string]any{"base_url": b, "api_token": "not-" + apiToken, "activity_types": []any{"login"}}
		}, "auth", "Invalid API token (AUTH_401): the API token is not valid"},
		{"user without the activity logs permission", func(b string) map[string]any {
			return map[string]any{"base_url": b, "api_token": "restricted-" + apiToken, "activity_types": []any{"login"}}
		}, "auth", "a Brand Administrator must grant access to the activity logs"},
		{"activity type the brand does not have", func(b string) map[string]any {
			return map[string]any{"base_url": b, "api_token": apiToken, "activity_types": []any{"no_such_type"}}
		}, "request", "Invalid activityType: no_such_type (see GET /logs/activitytypes) (QVAL_2): check qualtrics.activity_types"},
		{"wrong OAuth client secret", func(b string) map[string]any {
			return map[string]any{"base_url": b, "client_id": clientID, "client_secret": "wrong-" + clientSecret, "activity_types": []any{"login"}}
		}, "auth", "invalid_client: Client authentication failed: check qualtrics.client_id and qualtrics.client_secret"},
		{"OAuth scope not granted", func(b string) map[string]any {
			return map[string]any{"base_url": b, "client_id": clientID, "client_secret": clientSecret, "scope": "manage:all", "activity_types": []any{"login"}}
		}, "auth", "check qualtrics.scope"},
		{"wrong base URL", func(b string) map[string]any {
			return map[string]any{"base_url": strings.TrimSuffix(b, "/API/v3") + "/API/v2", "api_token": apiToken, "activity_types": []any{"login"}}
		}, "request", "check qualtrics.datacenter or qualtrics.base_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			q := sim.NewQualtrics(sim.QualtricsConfig{Seed: 1, Count: 20, Clock: r.Clock})
			q.AddAPIToken(apiToken)
			q.AddRestrictedAPIToken("restricted-" + apiToken)
			q.AddClient(clientID, clientSecret, "read:activity_logs")
			r.Cfg["qualtrics"] = tt.section(serve(t, q, nil))
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
			for _, s := range []string{apiToken, clientSecret, "qat-"} {
				if strings.Contains(err.Error(), s) || strings.Contains(r.Log.Text(), s) {
					t.Fatalf("a secret leaked: %v\n%s", err, r.Log.Text())
				}
			}
		})
	}
	t.Run("all with no types listed fails at start", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, `{"result":{"elements":[],"nextPage":null}}`)
		}))
		defer srv.Close()
		r := newRig(t)
		r.Cfg["qualtrics"] = map[string]any{"base_url": srv.URL + "/API/v3", "api_token": apiToken, "activity_types": []any{"all"}}
		if _, err := r.Open(); err == nil || !strings.Contains(err.Error(), "lists no activity types") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestStreamKeysNameDatacenterTypeAndFilters(t *testing.T) {
	keys := func(section map[string]any) []string {
		t.Helper()
		p := newRig(t, "qualtrics", section).Poller()
		defer p.Close(context.Background())
		return p.Streams()
	}
	plain := keys(map[string]any{"datacenter": "FRA1.qualtrics.com", "api_token": "x", "activity_types": []any{"login", "data_deletion"}})
	if !slices.Equal(plain, []string{"qualtrics-fra1-login", "qualtrics-fra1-data_deletion"}) {
		t.Fatalf("keys %v", plain)
	}
	filtered := keys(map[string]any{"datacenter": "fra1", "api_token": "x", "activity_types": []any{"login"}, "user_id": "UR_1"})
	other := keys(map[string]any{"datacenter": "fra1", "api_token": "x", "activity_types": []any{"login"}, "user_id": "UR_2"})
	if filtered[0] == plain[0] || filtered[0] == other[0] || !strings.HasPrefix(filtered[0], "qualtrics-fra1-login-") {
		t.Fatalf("filtered keys %v %v", filtered, other)
	}
}

func TestEveryConfigRuleNamesItsKey(t *testing.T) {
	ok := map[string]any{"datacenter": "iad1", "api_token": "x", "activity_types": []any{"login"}}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range ok {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	oauth := func(kv ...any) map[string]any {
		return with(append([]any{"api_token", nil, "client_id", "c", "client_secret", "s"}, kv...)...)
	}
	tests := []struct {
		name    string
		section map[string]any
		key     string // "" means valid
	}{
		{"datacenter with the domain is accepted", with("datacenter", "fra1.qualtrics.com"), ""},
		{"brand datacenter is accepted", with("datacenter", "acme.iad1"), ""},
		{"base_url to loopback over http is accepted", with("datacenter", nil, "base_url", "http://127.0.0.1:9/API/v3"), ""},
		{"oauth with scope and token_url is accepted", oauth("scope", "read:activity_logs", "token_url", "https://iad1.qualtrics.com/oauth2/token"), ""},
		{"client_secret without client_id", with("api_token", nil, "client_secret", "s"), "qualtrics.client_id"},
		{"token_url without oauth", with("token_url", "https://iad1.qualtrics.com/oauth2/token"), "qualtrics.token_url"},
		{"token_url over plain http", oauth("token_url", "http://auth.example.com/oauth2/token"), "qualtrics.token_url"},
		{"activity type with spaces", with("activity_types", []any{"user login"}), "qualtrics.activity_types.0"},
		{"filter id with spaces", with("user_id", "UR 1"), "qualtrics.user_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := core.ParseMap(map[string]any{"source": "qualtrics", "qualtrics": tt.section, "checkpoint.type": "memory"})
			var ce *core.ConfigError
			switch {
			case tt.key == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tt.key != "" && (!errors.As(err, &ce) || ce.Key != tt.key):
				t.Fatalf("want a ConfigError naming %s, got %v", tt.key, err)
			}
		})
	}
}

// stubbed polls the activity type login from a server answering the n-th
// request (from 1) with answer(n, req), and returns the poller and what
// each request asked for (its path, and its skipToken if any).
func stubbed(t *testing.T, answer func(n int, req *http.Request) string) (*core.Poller, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		p := req.URL.Path
		if s := req.URL.Query().Get("skipToken"); s != "" {
			p += " skipToken=" + s
		}
		seen = append(seen, p)
		fmt.Fprint(w, answer(len(seen), req))
	}))
	t.Cleanup(srv.Close)
	r := newRig(t, "initial_lookback", "1h")
	r.Cfg["qualtrics"] = map[string]any{"base_url": srv.URL + "/API/v3", "api_token": apiToken, "activity_types": []any{"login"}}
	p := r.Poller()
	t.Cleanup(func() { p.Close(context.Background()) })
	return p, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// loginEvent renders an event of the login type with id at ts.
func loginEvent(id, ts string) string {
	return fmt.Sprintf(`{"id":%q,"timestamp":%s,"descriptor":{"userId":"UR_1"}}`, id, ts)
}

var recent = `"` + now0.Add(-30*time.Minute).Format("2006-01-02T15:04:05.000Z") + `"`

// Only null, an empty string or no nextPage ends the window. A number or
// an object may be a token this source does not know how to send back:
// taking it for the end would lose every page after it, unreported.
func TestANextPageThatIsNotAStringIsAnErrorNeverTheEnd(t *testing.T) {
	for _, next := range []string{`100`, `{"skipToken":"tok-2"}`, `true`} {
		t.Run(next, func(t *testing.T) {
			p, _ := stubbed(t, func(int, *http.Request) string {
				return `{"result":{"elements":[` + loginEvent("a", recent) + `],"nextPage":` + next + `}}`
			})
			got, err := testkit.Drain(p, -1)
			if len(got) != 0 || err == nil || !strings.Contains(err.Error(), "nextPage is not a string: "+next) {
				t.Fatalf("delivered %d events, err %v; want nothing delivered and the nextPage named", len(got), err)
			}
		})
	}
}

// Backends that render an empty list as null send "elements": null for a
// page without events; Qualtrics' pages carry no count to contradict it.
func TestElementsNullIsAnEmptyPage(t *testing.T) {
	cases := []struct {
		name  string
		pages []string
		want  int
	}{
		{"an empty window", []string{`{"result":{"elements":null,"nextPage":null}}`}, 0},
		{"an empty page with a nextPage is followed", []string{
			`{"result":{"elements":null,"nextPage":"tok-2"}}`,
			`{"result":{"elements":[` + loginEvent("a", recent) + `],"nextPage":null}}`,
		}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, seen := stubbed(t, func(n int, _ *http.Request) string { return c.pages[min(n, len(c.pages))-1] })
			got, err := testkit.Drain(p, -1)
			if err != nil || len(got) != c.want || len(seen()) != len(c.pages) || p.Metrics().Retries.Load() != 0 {
				t.Fatalf("delivered %d events, err %v, requests %v, %d retries; want %d in %d requests", len(got), err, seen(), p.Metrics().Retries.Load(), c.want, len(c.pages))
			}
		})
	}
}

// With "all", every type the listing names becomes a stream; a listing
// cut short would leave the rest unread without a word, so a listing that
// does not end, or cannot be followed, stops the start with an error.
func TestTheActivityTypeListingIsReadToItsEndOrTheStartStops(t *testing.T) {
	page := func(next string, types ...string) string {
		var els []string
		for _, t := range types {
			els = append(els, fmt.Sprintf(`{"activityType":%q}`, t))
		}
		return fmt.Sprintf(`{"result":{"elements":[%s],"nextPage":%s}}`, strings.Join(els, ","), next)
	}
	cases := []struct {
		name string
		// answer is the listing's page of skipToken n (0: the first).
		answer  func(n int) string
		streams []string
		err     string
	}{
		{"pages followed to the last", func(n int) string {
			if n == 0 {
				return page(`"2"`, "login", "survey_access")
			}
			return page(`null`, "data_deletion")
		}, []string{"x/data_deletion", "x/login", "x/survey_access"}, ""},
		{"a page of elements null", func(n int) string {
			if n == 0 {
				return `{"result":{"elements":null,"nextPage":"2"}}`
			}
			return page(`null`, "login")
		}, []string{"x/login"}, ""},
		{"a listing that never ends", func(n int) string { return page(fmt.Sprintf(`"%d"`, n+1), fmt.Sprintf("type_%d", n)) },
			nil, `did not end after 100 pages (100 types so far); name the types in qualtrics.activity_types`},
		{"a nextPage leading back to a page already read", func(n int) string { return page(`"2"`, "login") },
			nil, `nextPage leads back to a page already read`},
		{"a nextPage that is not a string", func(int) string { return page(`2`, "login") },
			nil, `nextPage is not a string: 2`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				n, _ := strconv.Atoi(req.URL.Query().Get("skipToken"))
				fmt.Fprint(w, c.answer(n))
			}))
			defer srv.Close()
			r := newRig(t, "stream", "x")
			r.Cfg["qualtrics"] = map[string]any{"base_url": srv.URL + "/API/v3", "api_token": apiToken, "activity_types": []any{"all"}}
			p, err := r.Open()
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("started with %v, err %v; want an error with %q", p.Streams(), err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())
			if !slices.Equal(p.Streams(), c.streams) {
				t.Fatalf("streams %v, want %v", p.Streams(), c.streams)
			}
		})
	}
}
