package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	olClient = "client-1"
	olTenant = "acme"
	olSecret = "s3cret"
)

type olFixture struct {
	o     *OLOID
	clock *FakeClock
	srv   *httptest.Server
}

func newOLOIDFixture(t testing.TB, cfg OLOIDConfig) *olFixture {
	t.Helper()
	clock := NewFakeClock(t0)
	if cfg.Clock == nil {
		cfg.Clock = clock
	}
	if cfg.From.IsZero() {
		cfg.From, cfg.To = t0.Add(-72*time.Hour), t0
	}
	o := NewOLOID(cfg)
	o.AddClient(olClient, olTenant, olSecret)
	srv := httptest.NewServer(NewServer().Mount(OLOIDPrefix, o))
	t.Cleanup(srv.Close)
	return &olFixture{o: o, clock: clock, srv: srv}
}

func (f *olFixture) call(t testing.TB, path, auth string, body any) (int, []byte) {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	default:
		raw, _ = json.Marshal(b)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+OLOIDPrefix+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// login logs in at the served path and returns the AccessToken, read from
// where the configured answer shape puts it.
func (f *olFixture) login(t testing.TB) string {
	t.Helper()
	status, body := f.call(t, f.o.LoginPath(), "", map[string]string{"UserName": olClient, "TenantName": olTenant, "Password": olSecret})
	tok, expiresIn := loginToken(f.o.cfg.LoginShape, body)
	if status != 200 || tok == "" || expiresIn != 3600 {
		t.Fatalf("login: %d %s", status, body)
	}
	return tok
}

// loginToken reads AccessToken and ExpiresIn from a login answer of shape.
func loginToken(shape OLOIDLoginShape, body []byte) (tok string, expiresIn int) {
	path := map[OLOIDLoginShape][]string{
		OLOIDLoginCognito:              {"cognitoToken"},
		OLOIDLoginAuthenticationResult: {"cognitoToken", "AuthenticationResult"},
		OLOIDLoginData:                 {"data"},
	}[shape]
	raw := json.RawMessage(body)
	for _, k := range path {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return "", 0
		}
		raw = m[k]
	}
	var r struct {
		AccessToken string
		ExpiresIn   int
	}
	if json.Unmarshal(raw, &r) != nil {
		return "", 0
	}
	return r.AccessToken, r.ExpiresIn
}

type olPage struct {
	Data struct {
		Activities []json.RawMessage `json:"activities"`
		NextToken  *string           `json:"nextToken"`
	} `json:"data"`
	Message string `json:"message"`
}

// readAll pages through [start, end] and returns every activity, in order.
func (f *olFixture) readAll(t testing.TB, tok string, start, end int64, limit int) ([][]byte, int) {
	t.Helper()
	var out [][]byte
	next := ""
	for pages := 1; ; pages++ {
		body := map[string]any{"start": start, "end": end, "limit": limit}
		if next != "" {
			body["nextToken"] = next
		}
		status, b := f.call(t, OLOIDActivityPath, "Bearer "+tok, body)
		var p olPage
		if status != 200 || json.Unmarshal(b, &p) != nil {
			t.Fatalf("page %d: %d %s", pages, status, b)
		}
		for _, a := range p.Data.Activities {
			out = append(out, a)
		}
		if p.Data.NextToken == nil {
			return out, pages
		}
		if len(p.Data.Activities) != limit {
			t.Fatalf("page %d has %d activities and a nextToken", pages, len(p.Data.Activities))
		}
		next = *p.Data.NextToken
	}
}

func TestOLOIDLogin(t *testing.T) {
	f := newOLOIDFixture(t, OLOIDConfig{Seed: 1, Count: 10})
	f.o.AddClient("gone", olTenant, "x")
	f.o.DisableClient("gone", olTenant)
	tests := []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"missing password", map[string]string{"UserName": olClient, "TenantName": olTenant}, 400, "UserName, TenantName and Password are required"},
		{"not JSON", `{"UserName":`, 400, "UserName, TenantName and Password are required"},
		{"wrong secret", map[string]string{"UserName": olClient, "TenantName": olTenant, "Password": "nope"}, 401, "Incorrect username or password."},
		{"wrong tenant", map[string]string{"UserName": olClient, "TenantName": "other", "Password": olSecret}, 401, "Incorrect username or password."},
		{"disabled client", map[string]string{"UserName": "gone", "TenantName": olTenant, "Password": "x"}, 401, "User is disabled."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.call(t, OLOIDLoginPath, "", tt.body)
			want, _ := json.Marshal(map[string]string{"message": tt.msg})
			if status != tt.status || string(body) != string(want) {
				t.Fatalf("got %d %s, want %d %s", status, body, tt.status, want)
			}
		})
	}
	t.Run("valid credentials get a one-hour bearer token and count as a login", func(t *testing.T) {
		before := f.o.Logins()
		if a, b := f.login(t), f.login(t); a == b {
			t.Fatal("two logins returned the same token")
		}
		if f.o.Logins() != before+2 {
			t.Fatalf("logins %d -> %d", before, f.o.Logins())
		}
	})
}

func TestOLOIDTokenLifecycle(t *testing.T) {
	f := newOLOIDFixture(t, OLOIDConfig{Seed: 1, Count: 10})
	q := map[string]any{"start": t0.Add(-time.Hour).UnixMilli(), "end": t0.UnixMilli()}
	check := func(t *testing.T, auth string, status int, msg string) {
		t.Helper()
		s, b := f.call(t, OLOIDActivityPath, auth, q)
		if s != status || (msg != "" && !strings.Contains(string(b), msg)) {
			t.Fatalf("got %d %s, want %d %q", s, b, status, msg)
		}
	}
	tok := f.login(t)
	t.Run("no token is unauthorized", func(t *testing.T) { check(t, "", 401, `"Unauthorized"`) })
	t.Run("token without Bearer is unauthorized", func(t *testing.T) { check(t, tok, 401, `"Unauthorized"`) })
	t.Run("unknown token is unauthorized", func(t *testing.T) { check(t, "Bearer forged", 401, `"Unauthorized"`) })
	t.Run("valid token is served", func(t *testing.T) { check(t, "Bearer "+tok, 200, "") })
	t.Run("token expires after ExpiresIn", func(t *testing.T) {
		f.clock.Advance(time.Hour)
		defer f.clock.Set(t0)
		check(t, "Bearer "+tok, 401, "The incoming token has expired")
	})
	t.Run("ExpireSessions expires issued tokens only", func(t *testing.T) {
		f.o.ExpireSessions()
		check(t, "Bearer "+tok, 401, "The incoming token has expired")
		check(t, "Bearer "+f.login(t), 200, "")
	})
	t.Run("disabling the client revokes its tokens", func(t *testing.T) {
		tok := f.login(t)
		f.o.DisableClient(olClient, olTenant)
		check(t, "Bearer "+tok, 401, `"Unauthorized"`)
	})
}

func TestOLOIDValidation(t *testing.T) {
	f := newOLOIDFixture(t, OLOIDConfig{Seed: 1, Count: 300})
	tok := "Bearer " + f.login(t)
	start, end := t0.Add(-time.Hour).UnixMilli(), t0.UnixMilli()
	_, b := f.call(t, OLOIDActivityPath, tok, map[string]any{"start": start - 72*3600e3, "end": end, "limit": 5})
	var p olPage
	if err := json.Unmarshal(b, &p); err != nil || p.Data.NextToken == nil {
		t.Fatalf("first page: %s", b)
	}
	next := *p.Data.NextToken

	tests := []struct {
		name string
		body string
		msg  string // "" means valid
	}{
		{"empty object is valid", `{}`, ""},
		{"body that is not an object", `[]`, oloidMsgBody},
		{"start as string", `{"start":"1"}`, oloidMsgStart},
		{"start as fraction", `{"start":1.5}`, oloidMsgStart},
		{"negative end", `{"end":-1}`, oloidMsgEnd},
		{"start after end", fmtJSON(map[string]any{"start": end, "end": start}), oloidMsgRange},
		{"limit zero", `{"limit":0}`, oloidMsgLimit},
		{"limit above 1000", `{"limit":1001}`, oloidMsgLimit},
		{"limit as string", `{"limit":"10"}`, oloidMsgLimit},
		{"null fields count as absent", `{"start":null,"end":null,"limit":null,"nextToken":null}`, ""},
		{"nextToken that is not a string", `{"nextToken":5}`, oloidMsgNextToken},
		{"nextToken that was never issued", `{"nextToken":"abc"}`, oloidMsgNextToken},
		{"nextToken with another time range", fmtJSON(map[string]any{"start": start, "end": end, "nextToken": next}), oloidMsgNextToken},
		{"nextToken with its own time range", fmtJSON(map[string]any{"start": start - 72*3600e3, "end": end, "nextToken": next}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.call(t, OLOIDActivityPath, tok, tt.body)
			if tt.msg == "" {
				if status != 200 {
					t.Fatalf("got %d %s", status, body)
				}
				return
			}
			want, _ := json.Marshal(map[string]string{"message": tt.msg})
			if status != 400 || string(body) != string(want) {
				t.Fatalf("got %d %s, want 400 %s", status, body, want)
			}
		})
	}
	t.Run("InvalidateCursors voids issued nextTokens", func(t *testing.T) {
		f.o.InvalidateCursors()
		status, body := f.call(t, OLOIDActivityPath, tok, map[string]any{"start": start - 72*3600e3, "end": end, "nextToken": next})
		if status != 400 || !strings.Contains(string(body), oloidMsgNextToken) {
			t.Fatalf("got %d %s", status, body)
		}
	})
}

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestOLOIDPaging(t *testing.T) {
	from, to := t0.Add(-72*time.Hour), t0
	for _, asc := range []bool{false, true} {
		name := "newest first by default"
		if asc {
			name = "oldest first when configured"
		}
		t.Run(name, func(t *testing.T) {
			f := newOLOIDFixture(t, OLOIDConfig{Seed: 4, Count: 1000, Bursts: 40, Ascending: asc})
			tok := f.login(t)
			got, pages := f.readAll(t, tok, from.UnixMilli(), to.UnixMilli(), 100)
			want := f.o.Truth(from, to.Add(time.Millisecond))
			if !asc {
				want = slices.Clone(want)
				slices.Reverse(want)
			}
			if !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("read %d activities, want %d in order", len(got), len(want))
			}
			// A full last page carries a nextToken: 1000 records take 11 pages.
			if pages != 11 {
				t.Fatalf("%d pages", pages)
			}
			for _, limit := range []int{1, 7, 333} {
				again, _ := f.readAll(t, tok, from.UnixMilli(), to.UnixMilli(), limit)
				if !slices.EqualFunc(again, want, bytes.Equal) {
					t.Fatalf("limit %d: order differs", limit)
				}
			}
		})
	}
	t.Run("records are shaped like the documentation's example", func(t *testing.T) {
		f := newOLOIDFixture(t, OLOIDConfig{Seed: 4, Count: 50})
		for _, r := range f.o.All() {
			var a struct {
				ID           string         `json:"id"`
				Timestamp    int64          `json:"timestamp"`
				ActivityType string         `json:"activityType"`
				Details      map[string]any `json:"details"`
			}
			if err := json.Unmarshal(r.JSON, &a); err != nil || !strings.HasPrefix(a.ID, "act-") || a.Timestamp != r.Time.UnixMilli() ||
				a.ActivityType == "" || a.Details["userId"] == nil || a.Details["userName"] == nil {
				t.Fatalf("record %s", r.JSON)
			}
		}
	})
}

func TestOLOIDBoundsFollowConfig(t *testing.T) {
	at := t0.Add(-time.Hour)
	tests := []struct {
		name                string
		startExcl, endExcl  bool
		wantFirst, wantLast bool
	}{
		{"both inclusive by default", false, false, true, true},
		{"exclusive start", true, false, false, true},
		{"exclusive end", false, true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOLOIDFixture(t, OLOIDConfig{Seed: 1, StartExclusive: tt.startExcl, EndExclusive: tt.endExcl})
			first := string(f.o.AddEvent(at, time.Time{}, "LOGIN", 0).JSON)
			mid := string(f.o.AddEvent(at.Add(5*time.Millisecond), time.Time{}, "LOGIN", 0).JSON)
			last := string(f.o.AddEvent(at.Add(10*time.Millisecond), time.Time{}, "LOGIN", 0).JSON)
			got, _ := f.readAll(t, f.login(t), at.UnixMilli(), at.Add(10*time.Millisecond).UnixMilli(), 10)
			var want []string
			if tt.wantLast {
				want = append(want, last)
			}
			want = append(want, mid)
			if tt.wantFirst {
				want = append(want, first)
			}
			var gs []string
			for _, g := range got {
				gs = append(gs, string(g))
			}
			if !slices.Equal(gs, want) {
				t.Fatalf("got %v, want %v", gs, want)
			}
		})
	}
}

func TestOLOIDLoginShapes(t *testing.T) {
	type keys map[string]any // a JSON object's keys, nested objects spelled out
	tokens := keys{"AccessToken": nil, "ExpiresIn": nil, "IdToken": nil, "RefreshToken": nil}
	withType := keys{"AccessToken": nil, "ExpiresIn": nil, "IdToken": nil, "RefreshToken": nil, "TokenType": nil}
	user := keys{"OloID": nil, "TenantID": nil, "TenantName": nil}
	tests := []struct {
		name  string
		shape OLOIDLoginShape
		want  keys
	}{
		{"cognitoToken and user by default, as OLOID's help pages document", OLOIDLoginCognito, keys{"cognitoToken": tokens, "user": user}},
		{"cognitoToken.AuthenticationResult, as Cognito's InitiateAuth nests it", OLOIDLoginAuthenticationResult,
			keys{"cognitoToken": keys{"AuthenticationResult": withType, "ChallengeParameters": keys{}}, "user": user}},
		{"wrapped in data like /filterActivity", OLOIDLoginData, keys{"data": withType, "message": nil}},
		{"flat", OLOIDLoginFlat, withType},
	}
	// shapeOf lists v's keys the way want does.
	var shapeOf func(v any) any
	shapeOf = func(v any) any {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		out := keys{}
		for k, x := range m {
			out[k] = shapeOf(x)
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOLOIDFixture(t, OLOIDConfig{Seed: 1, Count: 10, LoginShape: tt.shape})
			status, body := f.call(t, OLOIDLoginPath, "", map[string]string{"UserName": olClient, "TenantName": olTenant, "Password": olSecret})
			var v map[string]any
			if status != 200 || json.Unmarshal(body, &v) != nil {
				t.Fatalf("login: %d %s", status, body)
			}
			if got := shapeOf(v); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got the shape %v, want %v: %s", got, tt.want, body)
			}
			tok, expiresIn := loginToken(tt.shape, body)
			if expiresIn != 3600 {
				t.Fatalf("ExpiresIn %d", expiresIn)
			}
			if s, b := f.call(t, OLOIDActivityPath, "Bearer "+tok, `{}`); s != 200 {
				t.Fatalf("the AccessToken is refused: %d %s", s, b)
			}
			if u, ok := v["user"].(map[string]any); ok {
				f.o.AddClient("client-2", olTenant, "x")
				_, b2 := f.call(t, OLOIDLoginPath, "", map[string]string{"UserName": "client-2", "TenantName": olTenant, "Password": "x"})
				var other struct{ User map[string]any }
				if err := json.Unmarshal(b2, &other); err != nil {
					t.Fatalf("login of another client: %v %s", err, b2)
				}
				if id, _ := u["OloID"].(string); u["TenantName"] != olTenant || !isUUID(id) || u["TenantID"] != other.User["TenantID"] || id == other.User["OloID"] {
					t.Fatalf("user %v, another client of the tenant %v: want the tenant's name and id, and a UUID per client", u, other.User)
				}
			}
		})
	}
}

func TestOLOIDLoginPathCase(t *testing.T) {
	creds := map[string]string{"UserName": olClient, "TenantName": olTenant, "Password": olSecret}
	noResource := `{"message":"Missing Authentication Token"}`
	tests := []struct {
		name       string
		served     string
		request    string
		wantStatus int
		wantBody   string // "" for a login answer
	}{
		{"/login by default", "", "/login", 200, ""},
		{"/Login is then an unknown resource to API Gateway", "", "/Login", 403, noResource},
		{"/Login when configured", OLOIDLoginPathCapitalized, "/Login", 200, ""},
		{"/login is then an unknown resource to API Gateway", OLOIDLoginPathCapitalized, "/login", 403, noResource},
		{"other paths stay 404", "", "/logins", 404, `{"message":"Not Found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOLOIDFixture(t, OLOIDConfig{Seed: 1, LoginPath: tt.served})
			status, body := f.call(t, tt.request, "", creds)
			if status != tt.wantStatus || tt.wantBody != "" && string(body) != tt.wantBody {
				t.Fatalf("got %d %s, want %d %s", status, body, tt.wantStatus, tt.wantBody)
			}
			if tt.wantBody == "" && f.o.Logins() != 1 {
				t.Fatalf("%d logins", f.o.Logins())
			}
		})
	}
}

func TestOLOIDLastPage(t *testing.T) {
	// 30 activities read 10 at a time.
	tests := []struct {
		name     string
		cfg      OLOIDConfig
		pages    int
		lastPage string // the last page's data, activities counted
	}{
		{"a full page always carries a nextToken by default, so the last page is empty", OLOIDConfig{}, 4, `{"activities":[],"nextToken":null}`},
		{"nextToken only when more: no empty last page", OLOIDConfig{NextTokenOnlyWhenMore: true}, 3, `{"activities":10,"nextToken":null}`},
		{"no more written as an empty string", OLOIDConfig{NextTokenOnlyWhenMore: true, NoMoreToken: OLOIDNoMoreEmpty}, 3, `{"activities":10,"nextToken":""}`},
		{"no more written by leaving nextToken out", OLOIDConfig{NextTokenOnlyWhenMore: true, NoMoreToken: OLOIDNoMoreAbsent}, 3, `{"activities":10}`},
		{"an empty last page written without nextToken", OLOIDConfig{NoMoreToken: OLOIDNoMoreAbsent}, 4, `{"activities":[]}`},
		{"limit read as the query's cap: the newest 10 and no nextToken", OLOIDConfig{LimitCapsQuery: true}, 1, `{"activities":10,"nextToken":null}`},
	}
	at := t0.Add(-time.Hour)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Seed = 1
			f := newOLOIDFixture(t, tt.cfg)
			var want [][]byte
			for i := range 30 {
				want = append(want, f.o.AddEvent(at.Add(time.Duration(i)*time.Millisecond), time.Time{}, "LOGIN", 0).JSON)
			}
			slices.Reverse(want)
			tok := "Bearer " + f.login(t)
			var got [][]byte
			body := map[string]any{"start": at.UnixMilli(), "end": at.Add(time.Second).UnixMilli(), "limit": 10}
			for pages := 1; ; pages++ {
				status, b := f.call(t, OLOIDActivityPath, tok, body)
				var p struct {
					Data map[string]json.RawMessage `json:"data"`
				}
				if status != 200 || json.Unmarshal(b, &p) != nil {
					t.Fatalf("page %d: %d %s", pages, status, b)
				}
				var acts []json.RawMessage
				if err := json.Unmarshal(p.Data["activities"], &acts); err != nil {
					t.Fatalf("page %d activities: %v", pages, err)
				}
				for _, a := range acts {
					got = append(got, a)
				}
				var next string
				if json.Unmarshal(p.Data["nextToken"], &next) == nil && next != "" {
					body["nextToken"] = next
					continue
				}
				if len(acts) > 0 {
					p.Data["activities"] = json.RawMessage(strconv.Itoa(len(acts)))
				}
				if last, _ := json.Marshal(p.Data); pages != tt.pages || string(last) != tt.lastPage {
					t.Fatalf("%d pages ending with %s, want %d ending with %s", pages, last, tt.pages, tt.lastPage)
				}
				break
			}
			if tt.cfg.LimitCapsQuery {
				want = want[:10]
			}
			if !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("read %d activities, want %d", len(got), len(want))
			}
		})
	}
}

func TestOLOIDResponseShapes(t *testing.T) {
	// 15 activities read 10 at a time: a full page with a nextToken, then
	// the last.
	tests := []struct {
		name  string
		shape OLOIDShape
		first string // the first page with its activities counted and its nextToken as "t"
		last  string
	}{
		{"in data by default, as documented", OLOIDShapeData,
			`{"data":{"activities":10,"nextToken":"t"},"message":"m"}`, `{"data":{"activities":5,"nextToken":null},"message":"m"}`},
		{"both at the top level", OLOIDShapeTop,
			`{"activities":10,"message":"m","nextToken":"t"}`, `{"activities":5,"message":"m","nextToken":null}`},
		{"activities in data, nextToken beside it", OLOIDShapeMixed,
			`{"data":{"activities":10},"message":"m","nextToken":"t"}`, `{"data":{"activities":5},"message":"m","nextToken":null}`},
	}
	at := t0.Add(-time.Hour)
	// counted renders a page with its activities counted, its nextToken
	// "t" and its message "m", and returns the token.
	counted := func(t *testing.T, b []byte) (string, string) {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(b, &top); err != nil {
			t.Fatal(err)
		}
		var next string
		fix := func(m map[string]json.RawMessage) {
			var acts []json.RawMessage
			if json.Unmarshal(m["activities"], &acts) == nil && m["activities"] != nil {
				m["activities"] = json.RawMessage(strconv.Itoa(len(acts)))
			}
			if json.Unmarshal(m["nextToken"], &next) == nil && next != "" {
				m["nextToken"] = json.RawMessage(`"t"`)
			}
			if m["message"] != nil {
				m["message"] = json.RawMessage(`"m"`)
			}
		}
		fix(top)
		if d, ok := top["data"]; ok {
			var data map[string]json.RawMessage
			if err := json.Unmarshal(d, &data); err != nil {
				t.Fatal(err)
			}
			fix(data)
			top["data"], _ = json.Marshal(data)
		}
		out, _ := json.Marshal(top)
		return string(out), next
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOLOIDFixture(t, OLOIDConfig{Seed: 1, Shape: tt.shape, NextTokenOnlyWhenMore: true})
			for i := range 15 {
				f.o.AddEvent(at.Add(time.Duration(i)*time.Millisecond), time.Time{}, "LOGIN", 0)
			}
			tok := "Bearer " + f.login(t)
			body := map[string]any{"start": at.UnixMilli(), "end": at.Add(time.Second).UnixMilli(), "limit": 10}
			status, b := f.call(t, OLOIDActivityPath, tok, body)
			first, next := counted(t, b)
			if status != 200 || first != tt.first {
				t.Fatalf("first page: %d %s, want %s", status, first, tt.first)
			}
			body["nextToken"] = next
			status, b = f.call(t, OLOIDActivityPath, tok, body)
			if last, _ := counted(t, b); status != 200 || last != tt.last {
				t.Fatalf("last page: %d %s, want %s", status, last, tt.last)
			}
		})
	}
}
