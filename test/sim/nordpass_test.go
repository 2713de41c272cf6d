package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/internal/testkit/testkeys"
)

func TestNordPassAuthentication(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 1, Count: 100})
	f.np.AddToken("tok-invalid", TokenInvalid)
	f.np.AddToken("tok-expired", TokenExpired)
	f.np.AddToken("tok-org-gone", TokenOrgInactive)

	tests := []struct {
		name   string
		token  string
		status int
		body   string
	}{
		{"missing header is 401", "", 401, `{"message":"Unauthorized"}`},
		{"unknown token is 403 invalid", "tok-never-issued", 403, `{"message":"[authorization error] invalid token"}`},
		{"bearer scheme is an invalid token", "Bearer " + testToken, 403, `{"message":"[authorization error] invalid token"}`},
		{"revoked token is 403 invalid", "tok-invalid", 403, `{"message":"[authorization error] invalid token"}`},
		{"expired token fails introspection", "tok-expired", 403, `{"message":"[authorization error] token introspection failed"}`},
		{"inactive organization fails UUID exchange", "tok-org-gone", 403, `{"message":"[bad request] organization UUID exchange failed"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.post(t, tt.token, query{})
			if r.status != tt.status || string(r.body) != tt.body {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tt.status, tt.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}

	t.Run("valid token is served", func(t *testing.T) {
		if r := f.post(t, testToken, query{}); r.status != 200 {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("token expired mid-test is refused from then on", func(t *testing.T) {
		f.np.AddToken("tok-soon", TokenValid)
		if r := f.post(t, "tok-soon", query{}); r.status != 200 {
			t.Fatalf("before expiry: %d", r.status)
		}
		f.np.SetTokenState("tok-soon", TokenExpired)
		r := f.post(t, "tok-soon", query{})
		if r.status != 403 || !strings.Contains(string(r.body), "token introspection failed") {
			t.Fatalf("after expiry: %d %s", r.status, r.body)
		}
	})
}

func TestNordPassValidation(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 1, Count: 100})
	now := t0.Unix()
	users := f.np.UserUUIDs()
	tooMany := make([]string, 501)
	for i := range tooMany {
		tooMany[i] = users[i%len(users)]
	}
	tooManyJSON, _ := json.Marshal(tooMany)
	span := int64(90 * day)

	tests := []struct {
		name   string
		body   string
		reason string // "" means the request is valid
	}{
		{"body that is not JSON", `{"page":`, reasonBody},
		{"body that is an array", `[]`, reasonBody},
		{"body that is null", `null`, reasonBody},
		{"empty object is valid", `{}`, ""},
		{"unknown fields are ignored", `{"foo":1}`, ""},

		{"timestamp as string", `{"timestamp_from":"1741700000"}`, reasonTimeFormat},
		{"timestamp as fraction", fmt.Sprintf(`{"timestamp_from":%d.5}`, now-10), reasonTimeFormat},
		{"timestamp in milliseconds exponent form", `{"timestamp_to":1.7e12}`, reasonTimeFormat},
		{"negative timestamp", `{"timestamp_from":-1}`, reasonTimeFormat},
		{"timestamp as bool", `{"timestamp_to":true}`, reasonTimeFormat},
		{"null timestamps mean absent", `{"timestamp_from":null,"timestamp_to":null}`, ""},
		{"from later than to", fmt.Sprintf(`{"timestamp_from":%d,"timestamp_to":%d}`, now-10, now-11), reasonFromAfterTo},
		{"from equal to to is one second", fmt.Sprintf(`{"timestamp_from":%d,"timestamp_to":%d}`, now-10, now-10), ""},
		{"to in the future", fmt.Sprintf(`{"timestamp_from":%d,"timestamp_to":%d}`, now-10, now+1), reasonToInFuture},
		{"to exactly now", fmt.Sprintf(`{"timestamp_from":%d,"timestamp_to":%d}`, now-10, now), ""},
		{"from alone in the future is later than now", fmt.Sprintf(`{"timestamp_from":%d}`, now+5), reasonFromAfterTo},
		{"span of more than 90 days", fmt.Sprintf(`{"timestamp_from":%d,"timestamp_to":%d}`, now-span-1, now), "the period between timestamp_from and timestamp_to is more than 90 days"},
		{"span of exactly 90 days", fmt.Sprintf(`{"timestamp_from":%d,"timestamp_to":%d}`, now-span, now), ""},
		{"from alone 91 days ago", fmt.Sprintf(`{"timestamp_from":%d}`, now-span-day), "the period between timestamp_from and timestamp_to is more than 90 days"},

		{"user_uuids not an array", `{"user_uuids":"` + users[0] + `"}`, reasonUUIDFormat},
		{"user_uuids with a number", `{"user_uuids":[1]}`, reasonUUIDFormat},
		{"user_uuids with null", `{"user_uuids":[null]}`, reasonUUIDFormat},
		{"user_uuids not a UUID", `{"user_uuids":["not-a-uuid"]}`, reasonUUIDFormat},
		{"user_uuids with an empty value", `{"user_uuids":["` + users[0] + `",""]}`, reasonUUIDEmpty},
		{"user_uuids with an unknown user", `{"user_uuids":["` + users[0] + `","00000000-0000-4000-8000-000000000000"]}`, reasonUUIDUnknown},
		{"format is reported before unknown users", `{"user_uuids":["00000000-0000-4000-8000-000000000000","x"]}`, reasonUUIDFormat},
		{"user_uuids with 501 values", `{"user_uuids":` + string(tooManyJSON) + `}`, reasonUUIDTooMany},
		{"user_uuids with 500 values", `{"user_uuids":` + string(tooManyJSON[:bytes.LastIndexByte(tooManyJSON, ',')]) + `]}`, ""},
		{"empty user_uuids means no filter", `{"user_uuids":[]}`, ""},
		{"null user_uuids means no filter", `{"user_uuids":null}`, ""},

		{"per_page as string", `{"per_page":"30"}`, reasonPerPageFormat},
		{"per_page as fraction", `{"per_page":1.5}`, reasonPerPageFormat},
		{"per_page zero", `{"per_page":0}`, reasonPerPageRange},
		{"per_page negative", `{"per_page":-1}`, reasonPerPageRange},
		{"per_page 101", `{"per_page":101}`, reasonPerPageRange},
		{"per_page 1", `{"per_page":1}`, ""},
		{"per_page 100", `{"per_page":100}`, ""},

		{"page as string", `{"page":"1"}`, reasonPageFormat},
		{"page as 1.0", `{"page":1.0}`, reasonPageFormat},
		{"page zero", `{"page":0}`, reasonPageTooSmall},
		{"page negative", `{"page":-3}`, reasonPageTooSmall},
		{"page huge", `{"page":9223372036854775807}`, "A request for logs exceeds the most recent 10,000 logs"},
		{"page starting at log 10,001", `{"per_page":100,"page":101}`, "A request for logs exceeds the most recent 10,000 logs"},
		{"page ending at log 10,000", `{"per_page":100,"page":100}`, ""},
		{"page straddling the cap", `{"per_page":30,"page":334}`, ""},
		{"page just past the cap", `{"per_page":30,"page":335}`, "A request for logs exceeds the most recent 10,000 logs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.post(t, testToken, tt.body)
			if tt.reason == "" {
				if r.status != 200 {
					t.Fatalf("got %d %s, want 200", r.status, r.body)
				}
				return
			}
			want, _ := json.Marshal(map[string]string{"message": "Invalid request payload", "reason": tt.reason})
			if r.status != 400 || string(r.body) != string(want) {
				t.Fatalf("got %d %s, want 400 %s", r.status, r.body, want)
			}
		})
	}

	t.Run("content type must be JSON", func(t *testing.T) {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/jsonx"} {
			r := f.do(t, http.MethodPost, testToken, ct, `{}`)
			if r.status != 400 || !strings.Contains(string(r.body), reasonContentType) {
				t.Errorf("Content-Type %q: got %d %s", ct, r.status, r.body)
			}
		}
		if r := f.do(t, http.MethodPost, testToken, "application/json; charset=utf-8", `{}`); r.status != 200 {
			t.Errorf("with charset: got %d %s", r.status, r.body)
		}
	})
	t.Run("authentication is checked before the payload", func(t *testing.T) {
		if r := f.post(t, "", `{"page":0}`); r.status != 401 {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("other methods are 405", func(t *testing.T) {
		r := f.do(t, http.MethodGet, testToken, "", nil)
		if r.status != 405 || r.header.Get("Allow") != "POST" {
			t.Fatalf("got %d Allow=%q", r.status, r.header.Get("Allow"))
		}
	})
	t.Run("other paths are 404", func(t *testing.T) {
		resp, err := f.srv.Client().Post(f.srv.URL+"/activities", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("got %d", resp.StatusCode)
		}
	})
}

func TestNordPassSpanAndCapFollowConfig(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 1, Count: 100, MaxSpan: 36 * time.Hour, Cap: 1500})
	r := f.post(t, testToken, query{From: t0.Unix() - 36*3600 - 1, To: t0.Unix()})
	if !strings.Contains(string(r.body), "more than 36h0m0s") {
		t.Errorf("span: %d %s", r.status, r.body)
	}
	r = f.post(t, testToken, query{From: t0.Unix() - 3600, To: t0.Unix(), PerPage: 100, Page: 16})
	if !strings.Contains(string(r.body), "exceeds the most recent 1,500 logs") {
		t.Errorf("cap: %d %s", r.status, r.body)
	}
}

func TestNordPassPagesNewestFirst(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 7, Count: 2000, SameSecondBursts: 50})
	from, to := t0.Add(-72*time.Hour).Unix(), t0.Unix()

	all := f.readAll(t, query{From: from, To: to, PerPage: 100})
	truth := f.np.Truth(time.Unix(from, 0), time.Unix(to+1, 0))
	if len(all) != 2000 || len(truth) != 2000 {
		t.Fatalf("read %d records, truth has %d, want 2000", len(all), len(truth))
	}
	for i := 1; i < len(all); i++ {
		if a, b := decodeEvent(t, all[i-1]).Timestamp, decodeEvent(t, all[i]).Timestamp; a < b {
			t.Fatalf("record %d (%d) is older than record %d (%d)", i-1, a, i, b)
		}
	}

	t.Run("page size does not change the order", func(t *testing.T) {
		for _, per := range []int{1, 7, 30, 99} {
			got := f.readAll(t, query{From: from, To: to, PerPage: per})
			if !slices.EqualFunc(got, all, bytes.Equal) {
				t.Fatalf("per_page %d: order differs from per_page 100", per)
			}
		}
	})
	t.Run("metadata describes the page", func(t *testing.T) {
		p := f.fetch(t, query{From: from, To: to, PerPage: 30, Page: 3})
		m := p.Metadata
		if m.Total != 2000 || m.PerPage != 30 || m.CurrentPage != 3 || m.TotalPages != 67 || len(p.Data) != 30 {
			t.Fatalf("metadata %+v with %d records", m, len(p.Data))
		}
		if !bytes.Equal(p.Data[0], all[60]) {
			t.Fatal("page 3 does not start at record 61")
		}
		last := f.fetch(t, query{From: from, To: to, PerPage: 30, Page: 67})
		if len(last.Data) != 2000-66*30 {
			t.Fatalf("last page has %d records", len(last.Data))
		}
	})
	t.Run("defaults are 30 per page and page 1", func(t *testing.T) {
		p := f.fetch(t, query{From: from, To: to})
		if len(p.Data) != 30 || p.Metadata.PerPage != 30 || p.Metadata.CurrentPage != 1 {
			t.Fatalf("metadata %+v with %d records", p.Metadata, len(p.Data))
		}
	})
	t.Run("page past the last is empty", func(t *testing.T) {
		r := f.post(t, testToken, query{From: from, To: to, PerPage: 100, Page: 21})
		want := `{"data":[],"metadata":{"total":2000,"per_page":100,"current_page":21,"total_pages":20}}`
		if r.status != 200 || string(r.body) != want {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("empty range has no pages", func(t *testing.T) {
		r := f.post(t, testToken, query{From: t0.Add(-1000 * time.Hour).Unix(), To: t0.Add(-900 * time.Hour).Unix()})
		want := `{"data":[],"metadata":{"total":0,"per_page":30,"current_page":1,"total_pages":0}}`
		if string(r.body) != want {
			t.Fatalf("got %s", r.body)
		}
	})
}

func TestNordPassTimestampsAreInclusive(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 1})
	at := t0.Add(-time.Hour)
	for _, d := range []time.Duration{-time.Second, 0, 10 * time.Second, 20 * time.Second, 21 * time.Second} {
		f.np.AddEvent(at.Add(d), time.Time{}, "app_access", "app_login", 0)
	}
	p := f.fetch(t, query{From: at.Unix(), To: at.Unix() + 20})
	if p.Metadata.Total != 3 {
		t.Fatalf("got %d records in [from, to], want 3 (both ends inclusive)", p.Metadata.Total)
	}
}

func TestNordPassDefaultTimeRange(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 1})
	midnight := t0.Truncate(24 * time.Hour)
	add := func(at time.Time) string {
		return string(f.np.AddEvent(at, time.Time{}, "app_access", "app_login", 0).JSON)
	}
	today := add(midnight.Add(time.Hour))
	lastSecondOfYesterday := add(midnight.Add(-time.Second))
	firstSecondOfWeek := add(midnight.Add(-7 * 24 * time.Hour))
	eightDaysAgo := add(midnight.Add(-7*24*time.Hour - time.Second))

	tests := []struct {
		name string
		q    query
		want []string
	}{
		{"no timestamps: the last 7 full days", query{}, []string{lastSecondOfYesterday, firstSecondOfWeek}},
		{"only from: up to now", query{From: midnight.Add(-time.Second).Unix()}, []string{today, lastSecondOfYesterday}},
		{"only to: the 7 days before it", query{To: midnight.Add(-time.Second).Unix()}, []string{lastSecondOfYesterday, firstSecondOfWeek}},
		{"wide range: everything", query{From: midnight.Add(-30 * 24 * time.Hour).Unix(), To: t0.Unix()}, []string{today, lastSecondOfYesterday, firstSecondOfWeek, eightDaysAgo}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range f.readAll(t, tt.q) {
				got = append(got, string(d))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestNordPassCap(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 3, Count: 100, Cap: 25})
	q := query{From: t0.Add(-72 * time.Hour).Unix(), To: t0.Unix(), PerPage: 10}
	var newest [][]byte
	for _, d := range f.fetch(t, query{From: q.From, To: q.To, PerPage: 25}).Data {
		newest = append(newest, d)
	}

	t.Run("total reports every match, beyond the cap", func(t *testing.T) {
		p := f.fetch(t, q)
		if p.Metadata.Total != 100 || p.Metadata.TotalPages != 10 {
			t.Fatalf("metadata %+v", p.Metadata)
		}
	})
	t.Run("only the most recent records are reachable", func(t *testing.T) {
		var got [][]byte
		for q.Page = 1; q.Page <= 3; q.Page++ {
			for _, d := range f.fetch(t, q).Data {
				got = append(got, d)
			}
		}
		if !slices.EqualFunc(got, newest, bytes.Equal) {
			t.Fatalf("pages 1–3 are not the 25 newest records (got %d)", len(got))
		}
	})
	t.Run("page straddling the cap returns the part within it", func(t *testing.T) {
		q.Page = 3
		if n := len(f.fetch(t, q).Data); n != 5 {
			t.Fatalf("got %d records, want 5", n)
		}
	})
	t.Run("page beyond the cap is refused", func(t *testing.T) {
		q.Page = 4
		r := f.post(t, testToken, q)
		if r.status != 400 || !strings.Contains(string(r.body), "exceeds the most recent 25 logs") {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("a narrower window reaches older records", func(t *testing.T) {
		oldest := f.np.All()[0]
		p := f.fetch(t, query{From: oldest.Time.Unix(), To: oldest.Time.Unix(), PerPage: 100})
		if !slices.ContainsFunc(p.Data, func(d json.RawMessage) bool { return bytes.Equal(d, oldest.JSON) }) {
			t.Fatal("oldest record not served by a window holding it")
		}
	})
}

func TestNordPassUserFilter(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 5, Count: 3000})
	users := f.np.UserUUIDs()
	from, to := t0.Add(-72*time.Hour), t0
	want := map[string][][]byte{}
	for _, r := range f.np.All() {
		want[r.UserUUID] = append(want[r.UserUUID], r.JSON)
	}
	tests := []struct {
		name  string
		users []string
	}{
		{"one user", users[:1]},
		{"three users", users[2:5]},
		{"a user who is rarely active", users[len(users)-1:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.readAll(t, query{From: from.Unix(), To: to.Unix(), Users: tt.users, PerPage: 100})
			var exp [][]byte
			for _, u := range tt.users {
				exp = append(exp, want[u]...)
			}
			if !mapsEqual(multiset(got), multiset(exp)) {
				t.Fatalf("got %d records, want %d", len(got), len(exp))
			}
			for i := 1; i < len(got); i++ {
				if decodeEvent(t, got[i-1]).Timestamp < decodeEvent(t, got[i]).Timestamp {
					t.Fatal("filtered results are not newest first")
				}
			}
			for _, g := range got {
				if !slices.Contains(tt.users, decodeEvent(t, g).User.UUID) {
					t.Fatalf("record of another user: %s", g)
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestNordPassLateEvents(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 9, Count: 500})
	from, to := t0.Add(-72*time.Hour), t0
	q := query{From: from.Unix(), To: to.Unix(), PerPage: 100}
	before := f.readAll(t, q)

	// An event of an hour ago that only becomes readable in 10 minutes.
	late := f.np.AddEvent(t0.Add(-time.Hour), t0.Add(10*time.Minute), "item_access", "item_used", 1)

	t.Run("is not served before it is visible", func(t *testing.T) {
		got := f.readAll(t, q)
		if !slices.EqualFunc(got, before, bytes.Equal) {
			t.Fatal("the served history changed before the late event became visible")
		}
		if len(f.np.Truth(from, to.Add(time.Second))) != len(before) {
			t.Fatal("Truth includes an invisible event")
		}
	})
	t.Run("is served once visible, in its place", func(t *testing.T) {
		f.clock.Set(t0.Add(10 * time.Minute))
		got := f.readAll(t, q)
		if len(got) != len(before)+1 || !slices.ContainsFunc(got, func(b []byte) bool { return bytes.Equal(b, late.JSON) }) {
			t.Fatalf("got %d records, want %d including the late one", len(got), len(before)+1)
		}
		if len(f.np.Truth(from, to.Add(time.Second))) != len(before)+1 {
			t.Fatal("Truth misses the visible late event")
		}
	})
	t.Run("is hidden again if the clock goes back", func(t *testing.T) {
		f.clock.Set(t0)
		if got := f.readAll(t, q); len(got) != len(before) {
			t.Fatalf("got %d records, want %d", len(got), len(before))
		}
	})
}

func TestNordPassEventsArrivingWhilePaging(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 11, Count: 300})
	from, to := t0.Add(-72*time.Hour).Unix(), t0.Unix()
	q := query{From: from, To: to, PerPage: 50}
	before := f.readAll(t, q)

	// After page 1 is served, two events land inside the window at its
	// newest end: page numbers now point two records further back.
	var (
		mu    sync.Mutex
		pages []int
	)
	f.np.OnServe(func(page int) {
		mu.Lock()
		defer mu.Unlock()
		pages = append(pages, page)
		if page == 1 {
			f.np.AddEvent(t0, time.Time{}, "app_access", "app_login", 0)
			f.np.AddEvent(t0, time.Time{}, "app_access", "app_logout", 0)
		}
	})
	p1 := f.fetch(t, query{From: from, To: to, PerPage: 50, Page: 1})
	p2 := f.fetch(t, query{From: from, To: to, PerPage: 50, Page: 2})
	f.np.OnServe(nil)

	if !bytes.Equal(p1.Data[0], before[0]) || !bytes.Equal(p2.Data[0], before[48]) {
		t.Fatal("page 2 did not shift by the two inserted events")
	}
	if p2.Metadata.Total != len(before)+2 {
		t.Fatalf("total %d, want %d", p2.Metadata.Total, len(before)+2)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(pages, []int{1, 2}) {
		t.Fatalf("hook saw pages %v", pages)
	}
}

func TestNordPassTruthMatchesFullRead(t *testing.T) {
	f := newFixture(t, NordPassConfig{Seed: 13, Count: 5000, From: t0.Add(-48 * time.Hour), To: t0})
	from, to := t0.Add(-48*time.Hour), t0
	got := f.readAll(t, query{From: from.Unix(), To: to.Unix(), PerPage: 100})
	truth := f.np.Truth(from, to.Add(time.Second))
	if !mapsEqual(multiset(got), multiset(truth)) {
		t.Fatalf("full read has %d records, truth %d, and they differ", len(got), len(truth))
	}
	dups := 0
	for _, n := range multiset(truth) {
		if n > 1 {
			dups++
		}
	}
	if dups == 0 {
		t.Fatal("history has no byte-identical events to test de-duplication with")
	}
}

func TestNordPassDeterminism(t *testing.T) {
	cfg := NordPassConfig{Seed: 42, Count: 5000, From: t0.Add(-72 * time.Hour), To: t0, Clock: NewFakeClock(t0)}
	a, b := NewNordPass(cfg), NewNordPass(cfg)
	if !slices.EqualFunc(a.All(), b.All(), func(x, y Record) bool {
		return bytes.Equal(x.JSON, y.JSON) && x.Time.Equal(y.Time) && x.UserUUID == y.UserUUID
	}) {
		t.Fatal("same seed gave different histories")
	}
	if a.Org() != b.Org() || !slices.Equal(a.UserUUIDs(), b.UserUUIDs()) {
		t.Fatal("same seed gave different organization or users")
	}
	x, y := NewNordPass(cfg), NewNordPass(cfg)
	for range 5 {
		if !bytes.Equal(x.AddRandom(t0).JSON, y.AddRandom(t0).JSON) {
			t.Fatal("AddRandom is not reproducible")
		}
	}
	cfg.Seed = 43
	if c := NewNordPass(cfg); bytes.Equal(c.All()[0].JSON, a.All()[0].JSON) || c.Org() == a.Org() {
		t.Fatal("different seeds gave the same history")
	}
}

func TestNordPassGeneratedHistory(t *testing.T) {
	from, to := t0.Add(-28*24*time.Hour), t0
	np := NewNordPass(NordPassConfig{Seed: 21, Count: 20000, From: from, To: to, Clock: NewFakeClock(t0), Users: 80})
	all := np.All()
	if len(all) != 20000 {
		t.Fatalf("generated %d events, want 20000", len(all))
	}
	var (
		types, actions          = map[string]int{}, map[string]int{}
		emptyMeta, objMeta, msp int
		initiators, bursts      int
		day, night              int
		sameSecond              = map[int64]int{}
	)
	users := map[string]bool{}
	for _, u := range np.UserUUIDs() {
		users[u] = true
	}
	for i, r := range all {
		if r.Time.Before(from) || !r.Time.Before(to) {
			t.Fatalf("event at %v outside [%v, %v)", r.Time, from, to)
		}
		if i > 0 && r.Time.Before(all[i-1].Time) {
			t.Fatal("All is not oldest first")
		}
		if !r.VisibleAt.Equal(r.Time) {
			t.Fatal("generated event is late")
		}
		if !json.Valid(r.JSON) || !bytes.HasPrefix(r.JSON, []byte(`{"type":"`)) {
			t.Fatalf("bad record %s", r.JSON)
		}
		e := decodeEvent(t, r.JSON)
		if e.Timestamp != r.Time.Unix() || e.Org != np.Org() || e.User.UUID != r.UserUUID || !users[e.User.UUID] {
			t.Fatalf("record %s does not match %+v", r.JSON, r)
		}
		types[e.Type]++
		actions[e.Action]++
		switch {
		case string(e.Metadata) == "[]":
			emptyMeta++
		case bytes.HasPrefix(e.Metadata, []byte(`{"msp":{"user_uuid":"`)):
			msp++
			objMeta++
		default:
			objMeta++
		}
		if string(e.Initiator) != "null" {
			initiators++
		}
		if h := r.Time.Hour(); h >= 9 && h < 17 {
			day++
		} else if h < 6 {
			night++
		}
		sameSecond[e.Timestamp]++
	}
	// Field order is part of the contract: records are compared as bytes.
	order := []string{`"type"`, `"action"`, `"timestamp"`, `"organization_uuid"`, `"user"`, `"initiator"`, `"metadata"`}
	last := -1
	for _, k := range order {
		i := bytes.Index(all[0].JSON, []byte(k+":"))
		if i <= last {
			t.Fatalf("field %s out of order in %s", k, all[0].JSON)
		}
		last = i
	}
	for _, n := range sameSecond {
		if n >= 10 {
			bursts++
		}
	}
	if len(types) < 8 || len(actions) < 20 {
		t.Errorf("mix too narrow: %d types, %d actions", len(types), len(actions))
	}
	if emptyMeta == 0 || objMeta == 0 || msp == 0 || initiators == 0 {
		t.Errorf("metadata [] %d, objects %d, msp %d, initiators %d: want all > 0", emptyMeta, objMeta, msp, initiators)
	}
	if day < 3*night {
		t.Errorf("no diurnal shape: %d events 09–17h, %d events 00–06h", day, night)
	}
	if bursts == 0 {
		t.Error("no same-second bursts")
	}
}

func TestNordPassAddEvent(t *testing.T) {
	np := NewNordPass(NordPassConfig{Seed: 1, Clock: NewFakeClock(t0)})
	r := np.AddEvent(t0.Add(-1500*time.Millisecond), time.Time{}, `odd "type"`, "act\\ion\n", 2)
	if !r.Time.Equal(t0.Add(-2*time.Second)) || !r.VisibleAt.Equal(r.Time) {
		t.Fatalf("time %v visible %v", r.Time, r.VisibleAt)
	}
	e := decodeEvent(t, r.JSON)
	if e.Type != `odd "type"` || e.Action != "act\\ion\n" || e.User.UUID != np.UserUUIDs()[2] ||
		string(e.Initiator) != "null" || string(e.Metadata) != "[]" {
		t.Fatalf("record %s", r.JSON)
	}
	if got := np.All(); len(got) != 1 || !bytes.Equal(got[0].JSON, r.JSON) {
		t.Fatal("event not stored")
	}
}

func TestNordPassBoundInclusivity(t *testing.T) {
	at := t0.Add(-time.Hour)
	offsets := []time.Duration{-time.Second, 0, 10 * time.Second, 20 * time.Second, 21 * time.Second}
	tests := []struct {
		name     string
		readings NordPassReadings
		want     []time.Duration // the records served for [at, at+20s]
	}{
		{"both bounds inclusive by default", NordPassReadings{}, offsets[1:4]},
		{"exclusive timestamp_from leaves out the records of that second", NordPassReadings{FromExclusive: true}, offsets[2:4]},
		{"exclusive timestamp_to leaves out the records of that second", NordPassReadings{ToExclusive: true}, offsets[1:3]},
		{"both exclusive", NordPassReadings{FromExclusive: true, ToExclusive: true}, offsets[2:3]},
	}
	// The Enterprise and MSP APIs share the endpoint; each reads its own
	// config's readings.
	apis := []struct {
		name  string
		build func(t *testing.T, r NordPassReadings) (add func(time.Time) []byte, read func(q query) [][]byte)
	}{
		{"NordPass", func(t *testing.T, r NordPassReadings) (func(time.Time) []byte, func(query) [][]byte) {
			f := newFixture(t, NordPassConfig{Seed: 1, NordPassReadings: r})
			return func(ts time.Time) []byte { return f.np.AddEvent(ts, time.Time{}, "app_access", "app_login", 0).JSON },
				func(q query) [][]byte { return f.readAll(t, q) }
		}},
		{"NordPass MSP", func(t *testing.T, r NordPassReadings) (func(time.Time) []byte, func(query) [][]byte) {
			key := testkeys.EC()
			f := newMSPFixture(t, NordPassMSPConfig{Seed: 1, NordPassReadings: r}, key)
			auth := "Bearer " + sign(t, key, goodClaims(t0), "")
			return func(ts time.Time) []byte { return f.m.AddEvent(ts, time.Time{}, "msp_access", "login", 0, -1).JSON },
				func(q query) [][]byte {
					status, body := f.post(t, auth, q)
					var p page
					if status != 200 || json.Unmarshal(body, &p) != nil {
						t.Fatalf("%d %s", status, body)
					}
					var out [][]byte
					for _, d := range p.Data {
						out = append(out, d)
					}
					return out
				}
		}},
	}
	for _, api := range apis {
		for _, tt := range tests {
			t.Run(api.name+"/"+tt.name, func(t *testing.T) {
				add, read := api.build(t, tt.readings)
				byJSON := map[string]time.Duration{}
				for _, d := range offsets {
					byJSON[string(add(at.Add(d)))] = d
				}
				var got []time.Duration
				for _, r := range read(query{From: at.Unix(), To: at.Add(20 * time.Second).Unix(), PerPage: 100}) {
					got = append(got, byJSON[string(r)])
				}
				slices.Sort(got)
				if !slices.Equal(got, tt.want) {
					t.Fatalf("served the records at %v, want %v", got, tt.want)
				}
			})
		}
	}
}

func TestNordPassTotalReadings(t *testing.T) {
	q := query{From: t0.Add(-72 * time.Hour).Unix(), To: t0.Unix()}
	tests := []struct {
		name  string
		total NordPassTotal
		want  string // the metadata of page 1
	}{
		{"exact by default: 15,000 matches read 15,000", NordPassTotalExact, `{"total":15000,"per_page":30,"current_page":1,"total_pages":500}`},
		{"capped: 15,000 matches read 10,000", NordPassTotalCapped, `{"total":10000,"per_page":30,"current_page":1,"total_pages":334}`},
		{"omitted: neither total nor total_pages", NordPassTotalOmitted, `{"per_page":30,"current_page":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, NordPassConfig{Seed: 5, Count: 15000, NordPassReadings: NordPassReadings{Total: tt.total}})
			r := f.post(t, testToken, q)
			var p struct{ Data, Metadata json.RawMessage }
			if r.status != 200 || json.Unmarshal(r.body, &p) != nil || string(p.Metadata) != tt.want {
				t.Fatalf("got %d metadata %s, want %s", r.status, p.Metadata, tt.want)
			}
		})
	}
	t.Run("capped: fewer matches than the cap read exactly", func(t *testing.T) {
		f := newFixture(t, NordPassConfig{Seed: 5, Count: 150, NordPassReadings: NordPassReadings{Total: NordPassTotalCapped}})
		if m := f.fetch(t, q).Metadata; m.Total != 150 || m.TotalPages != 5 {
			t.Fatalf("metadata %+v", m)
		}
	})
}

func TestNordPassStraddlingPage(t *testing.T) {
	// per_page 30 over 15,000 matches: page 334 holds records 9991–10020,
	// straddling the cap of 10,000; page 335 starts past it.
	q := query{From: t0.Add(-72 * time.Hour).Unix(), To: t0.Unix(), PerPage: 30, Page: 334}
	tests := []struct {
		name     string
		straddle NordPassStraddle
		want     [2]int // the records served, as [first, last) positions newest first; zero: refused
	}{
		{"truncated by default: the records within the cap", NordPassStraddleTruncated, [2]int{9990, 10000}},
		{"full: the whole page, records past the cap included", NordPassStraddleFull, [2]int{9990, 10020}},
		{"refused: 400 with the cap reason", NordPassStraddleRefused, [2]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, NordPassConfig{Seed: 5, Count: 15000, NordPassReadings: NordPassReadings{StraddlingPage: tt.straddle}})
			newest := slices.Clone(f.np.Truth(time.Unix(q.From, 0), time.Unix(q.To+1, 0)))
			slices.Reverse(newest)
			r := f.post(t, testToken, q)
			if tt.want == [2]int{} {
				if r.status != 400 || !strings.Contains(string(r.body), "exceeds the most recent 10,000 logs") {
					t.Fatalf("got %d %s", r.status, r.body)
				}
			} else {
				var p page
				if r.status != 200 || json.Unmarshal(r.body, &p) != nil {
					t.Fatalf("got %d %s", r.status, r.body)
				}
				got := make([][]byte, len(p.Data))
				for i, d := range p.Data {
					got[i] = d
				}
				if !slices.EqualFunc(got, newest[tt.want[0]:tt.want[1]], bytes.Equal) {
					t.Fatalf("got %d records, want records %d–%d", len(got), tt.want[0]+1, tt.want[1])
				}
			}
			past := q
			past.Page++
			if r := f.post(t, testToken, past); r.status != 400 || !strings.Contains(string(r.body), "exceeds the most recent 10,000 logs") {
				t.Fatalf("page past the cap: got %d %s", r.status, r.body)
			}
		})
	}
}

func TestNordPassPastLastPage(t *testing.T) {
	q := query{From: t0.Add(-72 * time.Hour).Unix(), To: t0.Unix(), PerPage: 30}
	pastLast := `{"message":"Invalid request payload","reason":"page value exceeds the total number of available pages"}`
	tests := []struct {
		name   string
		refuse bool
		count  int
		page   int
		status int
		body   string // "" for any
	}{
		{"the last page is served", false, 100, 4, 200, ""},
		{"past the last by default: 200 with empty data", false, 100, 5, 200, `{"data":[],"metadata":{"total":100,"per_page":30,"current_page":5,"total_pages":4}}`},
		{"refused: the last page is still served", true, 100, 4, 200, ""},
		{"refused: past the last is 400", true, 100, 5, 400, pastLast},
		{"refused: page 1 with no records is answered", true, 0, 1, 200, `{"data":[],"metadata":{"total":0,"per_page":30,"current_page":1,"total_pages":0}}`},
		{"refused: page 2 with no records is 400", true, 0, 2, 400, pastLast},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, NordPassConfig{Seed: 5, Count: tt.count, NordPassReadings: NordPassReadings{RefusePastLastPage: tt.refuse}})
			q.Page = tt.page
			r := f.post(t, testToken, q)
			if r.status != tt.status || tt.body != "" && string(r.body) != tt.body {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tt.status, tt.body)
			}
		})
	}
}

func TestNordPassServedPageSize(t *testing.T) {
	q := query{From: t0.Add(-72 * time.Hour).Unix(), To: t0.Unix(), PerPage: 30}
	tests := []struct {
		name   string
		served int
		want   string // the metadata of page 1
		pages  int    // pages holding records
	}{
		{"as asked by default", 0, `{"total":100,"per_page":30,"current_page":1,"total_pages":4}`, 4},
		{"capped below the size asked: pages numbered in the size served", 24, `{"total":100,"per_page":24,"current_page":1,"total_pages":5}`, 5},
		{"a cap above the size asked changes nothing", 50, `{"total":100,"per_page":30,"current_page":1,"total_pages":4}`, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, NordPassConfig{Seed: 5, Count: 100, NordPassReadings: NordPassReadings{ServedPerPage: tt.served}})
			r := f.post(t, testToken, q)
			var p struct{ Data, Metadata json.RawMessage }
			if r.status != 200 || json.Unmarshal(r.body, &p) != nil || string(p.Metadata) != tt.want {
				t.Fatalf("got %d metadata %s, want %s", r.status, p.Metadata, tt.want)
			}
			pq := q
			pages := 0
			for pq.Page = 1; len(f.fetch(t, pq).Data) > 0; pq.Page++ {
				pages++
			}
			all := f.readAll(t, q)
			if pages != tt.pages || !maps.Equal(multiset(all), multiset(f.np.Truth(time.Unix(q.From, 0), time.Unix(q.To+1, 0)))) {
				t.Fatalf("%d pages holding %d records, want %d pages holding all 100", pages, len(all), tt.pages)
			}
		})
	}
}

func TestNordPassTimestampUnit(t *testing.T) {
	tests := []struct {
		name string
		ms   bool
		unit int64
	}{
		{"Unix seconds by default", false, 1},
		{"milliseconds in the records, the filters in seconds", true, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, NordPassConfig{Seed: 5, Count: 100, NordPassReadings: NordPassReadings{MillisecondTimestamps: tt.ms}})
			at := t0.Add(-time.Hour).Truncate(time.Second)
			added := f.np.AddEvent(at, time.Time{}, "user", "login", 0)
			all := f.readAll(t, query{From: t0.Add(-72 * time.Hour).Unix(), To: t0.Unix()})
			if len(all) != 101 {
				t.Fatalf("read %d records with second filters, want 101", len(all))
			}
			for _, raw := range all {
				if ts := decodeEvent(t, raw).Timestamp; ts%tt.unit != 0 || ts/tt.unit < t0.Add(-72*time.Hour).Unix() || ts/tt.unit > t0.Unix() {
					t.Fatalf("timestamp %d is not a time of the history in units of %d", ts, tt.unit)
				}
			}
			if ts := decodeEvent(t, added.JSON).Timestamp; ts != at.Unix()*tt.unit {
				t.Fatalf("AddEvent's timestamp %d, want %d", ts, at.Unix()*tt.unit)
			}
		})
	}
}
