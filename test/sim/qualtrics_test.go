package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	qtToken  = "qt-api-token"
	qtClient = "qt-client"
	qtSecret = "qt-secret"
)

type qtFixture struct {
	q     *Qualtrics
	clock *FakeClock
	srv   *httptest.Server
	api   string // API base URL
}

func newQualtricsFixture(t testing.TB, cfg QualtricsConfig) *qtFixture {
	t.Helper()
	clock := NewFakeClock(t0)
	if cfg.Clock == nil {
		cfg.Clock = clock
	}
	if cfg.From.IsZero() {
		cfg.From, cfg.To = t0.Add(-72*time.Hour), t0
	}
	q := NewQualtrics(cfg)
	q.AddAPIToken(qtToken)
	q.AddClient(qtClient, qtSecret, "read:activity_logs", "read:users")
	srv := httptest.NewServer(NewServer().Mount(QualtricsPrefix, q))
	t.Cleanup(srv.Close)
	return &qtFixture{q: q, clock: clock, srv: srv, api: srv.URL + QualtricsPrefix + QualtricsAPIPath}
}

type qtResp struct {
	status int
	header http.Header
	body   []byte
}

func (f *qtFixture) get(t testing.TB, rawURL string, header ...string) qtResp {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return qtResp{resp.StatusCode, resp.Header, b}
}

func (f *qtFixture) logs(t testing.TB, params url.Values) qtResp {
	return f.get(t, f.api+"/logs?"+params.Encode(), "X-API-TOKEN", qtToken)
}

func (f *qtFixture) oauth(t testing.TB, user, pass, contentType, body string) qtResp {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+QualtricsPrefix+QualtricsTokenPath, strings.NewReader(body))
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return qtResp{resp.StatusCode, resp.Header, b}
}

type qtPage struct {
	Result struct {
		Elements []json.RawMessage `json:"elements"`
		NextPage *string           `json:"nextPage"`
	} `json:"result"`
	Meta struct {
		HTTPStatus string `json:"httpStatus"`
		Error      struct {
			ErrorMessage string `json:"errorMessage"`
		} `json:"error"`
	} `json:"meta"`
}

func decodeQT(t testing.TB, r qtResp) qtPage {
	t.Helper()
	var p qtPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("%d %s: %v", r.status, r.body, err)
	}
	return p
}

func qtParams(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func iso(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func TestQualtricsOAuthTokenEndpoint(t *testing.T) {
	f := newQualtricsFixture(t, QualtricsConfig{Seed: 1, Count: 10})
	f.q.AddClient("gone", "x")
	f.q.DisableClient("gone")
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name             string
		user, pass, ct   string
		body             string
		status           int
		errCode          string
		grantedScopeWant string
	}{
		{"valid client gets a bearer token", qtClient, qtSecret, form, "grant_type=client_credentials&scope=read%3Aactivity_logs", 200, "", "read:activity_logs"},
		{"no scope grants the client's scopes", qtClient, qtSecret, form, "grant_type=client_credentials", 200, "", "read:activity_logs read:users"},
		{"scope not granted", qtClient, qtSecret, form, "grant_type=client_credentials&scope=manage%3Aall", 400, "invalid_scope", ""},
		{"wrong grant type", qtClient, qtSecret, form, "grant_type=password", 400, "unsupported_grant_type", ""},
		{"wrong secret", qtClient, "nope", form, "grant_type=client_credentials", 401, "invalid_client", ""},
		{"no client authentication", "", "", form, "grant_type=client_credentials", 401, "invalid_client", ""},
		{"deleted client", "gone", "x", form, "grant_type=client_credentials", 401, "invalid_client", ""},
		{"JSON body", qtClient, qtSecret, "application/json", `{"grant_type":"client_credentials"}`, 400, "invalid_request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.oauth(t, tt.user, tt.pass, tt.ct, tt.body)
			var body struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
				ExpiresIn   int    `json:"expires_in"`
				Scope       string `json:"scope"`
				Error       string `json:"error"`
			}
			if err := json.Unmarshal(r.body, &body); err != nil || r.status != tt.status || body.Error != tt.errCode {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			if tt.status == 200 && (body.AccessToken == "" || body.TokenType != "Bearer" || body.ExpiresIn != 3600 || body.Scope != tt.grantedScopeWant) {
				t.Fatalf("token response %s", r.body)
			}
		})
	}
}

func TestQualtricsAuthentication(t *testing.T) {
	f := newQualtricsFixture(t, QualtricsConfig{Seed: 1, Count: 10})
	f.q.AddRestrictedAPIToken("restricted")
	p := qtParams("activityType", "login")
	newBearer := func() string {
		var b struct {
			AccessToken string `json:"access_token"`
		}
		r := f.oauth(t, qtClient, qtSecret, "application/x-www-form-urlencoded", "grant_type=client_credentials")
		if err := json.Unmarshal(r.body, &b); err != nil {
			t.Errorf("token answer %d %s: %v", r.status, r.body, err)
		}
		return b.AccessToken
	}
	check := func(t *testing.T, status int, msg string, header ...string) {
		t.Helper()
		r := f.get(t, f.api+"/logs?"+p.Encode(), header...)
		pg := decodeQT(t, r)
		if r.status != status || !strings.Contains(pg.Meta.Error.ErrorMessage, msg) {
			t.Fatalf("got %d %s, want %d %q", r.status, r.body, status, msg)
		}
	}
	t.Run("no credentials", func(t *testing.T) { check(t, 401, "Missing authentication") })
	t.Run("unknown API token", func(t *testing.T) { check(t, 401, "Invalid API token", "X-API-TOKEN", "nope") })
	t.Run("API token without the permission", func(t *testing.T) { check(t, 403, "permission", "X-API-TOKEN", "restricted") })
	t.Run("valid API token", func(t *testing.T) { check(t, 200, "", "X-API-TOKEN", qtToken) })
	t.Run("revoked API token", func(t *testing.T) {
		f.q.AddAPIToken("old")
		f.q.RevokeAPIToken("old")
		check(t, 401, "Invalid API token", "X-API-TOKEN", "old")
	})
	t.Run("valid OAuth token", func(t *testing.T) { check(t, 200, "", "Authorization", "Bearer "+newBearer()) })
	t.Run("unknown OAuth token", func(t *testing.T) { check(t, 401, "Invalid access token", "Authorization", "Bearer forged") })
	t.Run("OAuth token past expires_in", func(t *testing.T) {
		tok := newBearer()
		f.clock.Advance(time.Hour)
		defer f.clock.Set(t0)
		check(t, 401, "Access token expired", "Authorization", "Bearer "+tok)
	})
	t.Run("ExpireSessions expires issued tokens", func(t *testing.T) {
		tok := newBearer()
		before := f.q.Logins()
		f.q.ExpireSessions()
		check(t, 401, "Access token expired", "Authorization", "Bearer "+tok)
		check(t, 200, "", "Authorization", "Bearer "+newBearer())
		if f.q.Logins() != before+1 {
			t.Fatalf("logins %d -> %d", before, f.q.Logins())
		}
	})
	t.Run("deleting the client revokes its tokens", func(t *testing.T) {
		tok := newBearer()
		f.q.DisableClient(qtClient)
		check(t, 401, "Invalid access token", "Authorization", "Bearer "+tok)
	})
}

func TestQualtricsValidation(t *testing.T) {
	f := newQualtricsFixture(t, QualtricsConfig{Seed: 1, Count: 500})
	from, to := iso(t0.Add(-72*time.Hour)), iso(t0)
	first := decodeQT(t, f.logs(t, qtParams("activityType", "login", "startDate", from, "endDate", to, "pageSize", "5", "order", "asc")))
	if first.Result.NextPage == nil {
		t.Fatal("no nextPage")
	}
	u, _ := url.Parse(*first.Result.NextPage)
	skip := u.Query().Get("skipToken")

	tests := []struct {
		name   string
		params url.Values
		msg    string // "" means valid
	}{
		{"activityType is required", qtParams("startDate", from), "Missing required query parameter: activityType"},
		{"unknown activityType", qtParams("activityType", "nope"), "Invalid activityType: nope"},
		{"defaults are valid", qtParams("activityType", "login"), ""},
		{"date that is not ISO-8601", qtParams("activityType", "login", "startDate", "2025-03-01"), "Invalid startDate"},
		{"start equal to end", qtParams("activityType", "login", "startDate", from, "endDate", from), "startDate must be before endDate"},
		{"unknown order", qtParams("activityType", "login", "order", "up"), "Invalid order"},
		{"pageSize zero", qtParams("activityType", "login", "pageSize", "0"), "Invalid pageSize"},
		{"pageSize above 500", qtParams("activityType", "login", "pageSize", "501"), "Invalid pageSize"},
		{"skipToken never issued", qtParams("activityType", "login", "skipToken", "xyz"), qualtricsMsgSkipToken},
		{"skipToken of another query", qtParams("activityType", "login", "startDate", from, "endDate", to, "pageSize", "6", "order", "asc", "skipToken", skip), qualtricsMsgSkipToken},
		{"skipToken of its own query", qtParams("activityType", "login", "startDate", from, "endDate", to, "pageSize", "5", "order", "asc", "skipToken", skip), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.logs(t, tt.params)
			p := decodeQT(t, r)
			if tt.msg == "" {
				if r.status != 200 {
					t.Fatalf("got %d %s", r.status, r.body)
				}
				return
			}
			if r.status != 400 || !strings.HasPrefix(p.Meta.Error.ErrorMessage, tt.msg) || p.Meta.HTTPStatus != "400 - Bad Request" {
				t.Fatalf("got %d %s, want 400 %q", r.status, r.body, tt.msg)
			}
		})
	}
}

func TestQualtricsPaging(t *testing.T) {
	from, to := t0.Add(-72*time.Hour), t0
	follow := func(t *testing.T, f *qtFixture, p url.Values) ([][]byte, []string) {
		t.Helper()
		var out [][]byte
		var nexts []string
		r := f.logs(t, p)
		for {
			pg := decodeQT(t, r)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			for _, e := range pg.Result.Elements {
				out = append(out, e)
			}
			if pg.Result.NextPage == nil {
				return out, nexts
			}
			nexts = append(nexts, *pg.Result.NextPage)
			if strings.HasPrefix(*pg.Result.NextPage, "http") {
				r = f.get(t, *pg.Result.NextPage, "X-API-TOKEN", qtToken)
			} else {
				q := url.Values{}
				for k, v := range p {
					q[k] = v
				}
				q.Set("skipToken", *pg.Result.NextPage)
				r = f.logs(t, q)
			}
		}
	}
	t.Run("nextPage is a full URL back to the same host and path", func(t *testing.T) {
		f := newQualtricsFixture(t, QualtricsConfig{Seed: 2, Count: 1500, Bursts: 30})
		got, nexts := follow(t, f, qtParams("activityType", "login", "startDate", iso(from), "endDate", iso(to), "order", "asc", "pageSize", "50"))
		want := f.q.TypeTruth("login", from, to)
		if !slices.EqualFunc(got, want, bytes.Equal) || len(want) < 500 {
			t.Fatalf("read %d events, want %d in ascending order", len(got), len(want))
		}
		for _, n := range nexts {
			if !strings.HasPrefix(n, f.api+"/logs?") || !strings.Contains(n, "skipToken=") {
				t.Fatalf("nextPage %q", n)
			}
		}
	})
	t.Run("nextPage can be a bare token; dsc is the default order", func(t *testing.T) {
		f := newQualtricsFixture(t, QualtricsConfig{Seed: 2, Count: 1500, NextPageAsToken: true})
		got, nexts := follow(t, f, qtParams("activityType", "survey_access", "startDate", iso(from), "endDate", iso(to), "pageSize", "40"))
		want := slices.Clone(f.q.TypeTruth("survey_access", from, to))
		slices.Reverse(want)
		if !slices.EqualFunc(got, want, bytes.Equal) || len(nexts) == 0 || strings.HasPrefix(nexts[0], "http") {
			t.Fatalf("read %d events, want %d newest first; nextPages %q", len(got), len(want), nexts[:min(1, len(nexts))])
		}
	})
	t.Run("startDate is inclusive and endDate exclusive", func(t *testing.T) {
		f := newQualtricsFixture(t, QualtricsConfig{Seed: 2})
		at := t0.Add(-time.Hour)
		in := string(f.q.AddEvent("login", at, time.Time{}, 0).JSON)
		f.q.AddEvent("login", at.Add(time.Second), time.Time{}, 0)
		got, _ := follow(t, f, qtParams("activityType", "login", "startDate", iso(at), "endDate", iso(at.Add(time.Second))))
		if len(got) != 1 || string(got[0]) != in {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("an event inserted before the skipToken's offset repeats the previous page's last event", func(t *testing.T) {
		f := newQualtricsFixture(t, QualtricsConfig{Seed: 2, Count: 100, EventTypes: []string{"login"}})
		p := qtParams("activityType", "login", "startDate", iso(from), "endDate", iso(to), "order", "asc", "pageSize", "10")
		page1 := decodeQT(t, f.logs(t, p))
		f.q.AddEvent("login", from.Add(time.Second), time.Time{}, 0)
		page2 := decodeQT(t, f.get(t, *page1.Result.NextPage, "X-API-TOKEN", qtToken))
		if !bytes.Equal(page2.Result.Elements[0], page1.Result.Elements[9]) {
			t.Fatal("the offset did not shift")
		}
	})
	t.Run("filters narrow the result", func(t *testing.T) {
		f := newQualtricsFixture(t, QualtricsConfig{Seed: 2, Count: 800})
		user := f.q.UserIDs()[0]
		got, _ := follow(t, f, qtParams("activityType", "login", "startDate", iso(from), "endDate", iso(to), "order", "asc", "userId", user, "organizationId", f.q.Brand()))
		var want [][]byte
		for _, j := range f.q.TypeTruth("login", from, to) {
			if bytes.Contains(j, []byte(`"userId":"`+user+`"`)) {
				want = append(want, j)
			}
		}
		if len(want) == 0 || !slices.EqualFunc(got, want, bytes.Equal) {
			t.Fatalf("userId filter: got %d, want %d", len(got), len(want))
		}
		other, _ := follow(t, f, qtParams("activityType", "login", "organizationId", "otherbrand", "directoryId", "POOL_1"))
		if len(other) != 0 {
			t.Fatalf("another brand's filter returned %d events", len(other))
		}
	})
}

func TestQualtricsListsActivityTypes(t *testing.T) {
	f := newQualtricsFixture(t, QualtricsConfig{Seed: 1, ActivityTypes: []string{"login", "data_export"}})
	r := f.get(t, f.api+"/logs/activitytypes", "X-API-TOKEN", qtToken)
	var body struct {
		Result struct {
			Elements []struct {
				ActivityType string `json:"activityType"`
			} `json:"elements"`
		} `json:"result"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || r.status != 200 || len(body.Result.Elements) != 2 ||
		body.Result.Elements[0].ActivityType != "login" || body.Result.Elements[1].ActivityType != "data_export" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if r := f.get(t, f.api+"/logs/activitytypes"); r.status != 401 {
		t.Fatalf("without credentials: %d", r.status)
	}
}

func TestQualtricsLastPage(t *testing.T) {
	from, to := t0.Add(-72*time.Hour), t0
	tests := []struct {
		name      string
		fullPage  bool
		count     int
		pageSizes []int // of the pages served, in order
	}{
		{"nextPage is null once no events remain by default", false, 100, []int{50, 50}},
		{"a full page always carries a nextPage: the last page is empty", true, 100, []int{50, 50, 0}},
		{"a full page always carries a nextPage: a page that is not full is the last", true, 120, []int{50, 50, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newQualtricsFixture(t, QualtricsConfig{Seed: 2, Count: tt.count, EventTypes: []string{"login"}, NextPageOnFullPage: tt.fullPage})
			r := f.logs(t, qtParams("activityType", "login", "startDate", iso(from), "endDate", iso(to), "order", "asc", "pageSize", "50"))
			var got [][]byte
			var sizes []int
			for {
				p := decodeQT(t, r)
				if r.status != 200 {
					t.Fatalf("%d %s", r.status, r.body)
				}
				sizes = append(sizes, len(p.Result.Elements))
				for _, e := range p.Result.Elements {
					got = append(got, e)
				}
				if p.Result.NextPage == nil {
					break
				}
				r = f.get(t, *p.Result.NextPage, "X-API-TOKEN", qtToken)
			}
			if !slices.Equal(sizes, tt.pageSizes) || !slices.EqualFunc(got, f.q.TypeTruth("login", from, to), bytes.Equal) {
				t.Fatalf("pages of %v, want %v; %d events", sizes, tt.pageSizes, len(got))
			}
		})
	}
}

func TestQualtricsTimestamps(t *testing.T) {
	// times reads every event's timestamp, in order, with layout, and
	// checks it is written in the zone offset.
	times := func(t *testing.T, ts QualtricsTimestamps, layout, offset string) []time.Time {
		f := newQualtricsFixture(t, QualtricsConfig{Seed: 2, Count: 50, EventTypes: []string{"login"}, Timestamps: ts})
		var out []time.Time
		for _, raw := range f.q.Truth(t0.Add(-30*24*time.Hour), t0.Add(time.Hour)) {
			var e struct{ Timestamp string }
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			at, err := time.Parse(layout, e.Timestamp)
			if err != nil || !strings.HasSuffix(e.Timestamp, offset) {
				t.Fatalf("timestamp %q: %v; want %s with the zone %s", e.Timestamp, err, layout, offset)
			}
			out = append(out, at)
		}
		return out
	}
	z := times(t, QualtricsTimestampsZ, "2006-01-02T15:04:05.000Z07:00", "Z")
	basic := times(t, QualtricsTimestampsBasicOffset, "2006-01-02T15:04:05.000-0700", "+0200")
	if len(z) != 50 || !slices.EqualFunc(z, basic, time.Time.Equal) {
		t.Fatalf("%d times in UTC with Z, %d with a basic offset; want the same 50 instants", len(z), len(basic))
	}
}
