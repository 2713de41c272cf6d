package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// t0 is "now" in most tests: a Wednesday afternoon, so "the last 7 full
// days" and the diurnal shape have something to bite on.
var t0 = time.Date(2025, 3, 12, 15, 30, 0, 0, time.UTC)

const testToken = "tok-valid"

// npFixture is a NordPass simulator behind a real HTTP server.
type npFixture struct {
	np    *NordPass
	clock *FakeClock
	url   string // the data endpoint
	srv   *httptest.Server
}

// newFixture starts a NordPass at t0 with cfg and a valid token testToken.
// Unless cfg says otherwise, the clock is a FakeClock at t0, the history
// spans the 72 hours before t0 and requests are not rate limited.
func newFixture(t testing.TB, cfg NordPassConfig) *npFixture {
	t.Helper()
	clock := NewFakeClock(t0)
	if cfg.Clock == nil {
		cfg.Clock = clock
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = -1 // tests of rate limiting set their own
	}
	if cfg.From.IsZero() && cfg.To.IsZero() {
		cfg.From, cfg.To = t0.Add(-72*time.Hour), t0
	}
	np := NewNordPass(cfg)
	np.AddToken(testToken, TokenValid)
	srv := httptest.NewServer(np)
	t.Cleanup(srv.Close)
	return &npFixture{np: np, clock: clock, url: srv.URL + NordPassPath, srv: srv}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// post sends body (a string is sent as is, anything else as JSON) with the
// given token ("" for no Authorization header) as application/json.
func (f *npFixture) post(t testing.TB, token string, body any) response {
	t.Helper()
	return f.do(t, http.MethodPost, token, "application/json", body)
}

func (f *npFixture) do(t testing.TB, method, token, contentType string, body any) response {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	case nil:
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, f.url, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// page is a decoded successful response; Data keeps each record's raw bytes.
type page struct {
	Data     []json.RawMessage `json:"data"`
	Metadata struct {
		Total       int `json:"total"`
		PerPage     int `json:"per_page"`
		CurrentPage int `json:"current_page"`
		TotalPages  int `json:"total_pages"`
	} `json:"metadata"`
}

// query is a request body; zero fields are left out.
type query struct {
	From    int64    `json:"timestamp_from,omitempty"`
	To      int64    `json:"timestamp_to,omitempty"`
	Users   []string `json:"user_uuids,omitempty"`
	PerPage int      `json:"per_page,omitempty"`
	Page    int      `json:"page,omitempty"`
}

// fetch reads one page and fails the test unless it is a 200.
func (f *npFixture) fetch(t testing.TB, q query) page {
	t.Helper()
	r := f.post(t, testToken, q)
	if r.status != http.StatusOK {
		t.Fatalf("query %+v: status %d: %s", q, r.status, r.body)
	}
	var p page
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("query %+v: %v: %s", q, err, r.body)
	}
	return p
}

// readAll pages through q until an empty page and returns every record.
func (f *npFixture) readAll(t testing.TB, q query) [][]byte {
	t.Helper()
	var out [][]byte
	for q.Page = 1; ; q.Page++ {
		p := f.fetch(t, q)
		if len(p.Data) == 0 {
			return out
		}
		for _, d := range p.Data {
			out = append(out, d)
		}
	}
}

// event is the decoded form of a record, for assertions on content.
type event struct {
	Type      string `json:"type"`
	Action    string `json:"action"`
	Timestamp int64  `json:"timestamp"`
	Org       string `json:"organization_uuid"`
	User      struct{ UUID, Email string }
	Initiator json.RawMessage `json:"initiator"`
	Metadata  json.RawMessage `json:"metadata"`
}

func decodeEvent(t testing.TB, raw []byte) event {
	t.Helper()
	var e event
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("record %s: %v", raw, err)
	}
	return e
}

// multiset counts byte strings, for comparing deliveries with the truth
// (byte-identical events are legitimate and must be counted, not merged).
func multiset(rs [][]byte) map[string]int {
	m := make(map[string]int, len(rs))
	for _, r := range rs {
		m[string(r)]++
	}
	return m
}
