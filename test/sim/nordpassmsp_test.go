package sim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/auditpull/auditpull/internal/testkit/testkeys"
)

const mspTestIssuer = "msp-test"

type mspFixture struct {
	m     *NordPassMSP
	clock *FakeClock
	srv   *httptest.Server
	key   crypto.Signer
}

func newMSPFixture(t testing.TB, cfg NordPassMSPConfig, key crypto.Signer) *mspFixture {
	t.Helper()
	clock := NewFakeClock(t0)
	if cfg.Clock == nil {
		cfg.Clock = clock
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = -1
	}
	if cfg.From.IsZero() {
		cfg.From, cfg.To = t0.Add(-72*time.Hour), t0
	}
	if cfg.Issuer == "" {
		cfg.Issuer = mspTestIssuer
	}
	cfg.PublicKey = key.Public()
	m := NewNordPassMSP(cfg)
	srv := httptest.NewServer(NewServer().Mount(NordPassMSPPrefix, m))
	t.Cleanup(srv.Close)
	return &mspFixture{m: m, clock: clock, srv: srv, key: key}
}

func methodFor(k crypto.Signer) jwt.SigningMethod {
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P384() {
			return jwt.SigningMethodES384
		}
		return jwt.SigningMethodES256
	case *rsa.PrivateKey:
		return jwt.SigningMethodRS256
	}
	return jwt.SigningMethodEdDSA
}

// sign returns a token for key with claims; kid is set when not "".
func sign(t testing.TB, key crypto.Signer, claims jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(methodFor(key), claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// goodClaims are valid at t0 for the test issuer.
func goodClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{"iss": mspTestIssuer, "sub": mspTestIssuer, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": fmt.Sprint(now.UnixNano())}
}

func (f *mspFixture) post(t testing.TB, auth string, body any) (int, []byte) {
	t.Helper()
	raw, ok := body.(string)
	if !ok {
		b, _ := json.Marshal(body)
		raw = string(b)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+NordPassMSPPrefix+f.m.Path(), strings.NewReader(raw))
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

func TestNordPassMSPVerifiesTheJWT(t *testing.T) {
	keys := testkeys.All()
	for _, kt := range []string{"ec", "ec384", "rsa", "ed"} {
		t.Run("valid "+methodFor(keys[kt]).Alg()+" token is served", func(t *testing.T) {
			f := newMSPFixture(t, NordPassMSPConfig{Seed: 1, Count: 10}, keys[kt])
			if s, b := f.post(t, "Bearer "+sign(t, keys[kt], goodClaims(t0), ""), `{}`); s != 200 {
				t.Fatalf("got %d %s", s, b)
			}
		})
	}

	f := newMSPFixture(t, NordPassMSPConfig{Seed: 1, Count: 10, KeyID: "k1", Audience: "https://api.example"}, keys["ec"])
	with := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := goodClaims(t0)
		c["aud"] = "https://api.example"
		mod(c)
		return c
	}
	good := with(func(jwt.MapClaims) {})
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, good)
	hsTok, _ := hs.SignedString([]byte("guessable"))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good).SignedString(jwt.UnsafeAllowNoneSignatureType)
	tests := []struct {
		name string
		auth string
		msg  string // "" means accepted
	}{
		{"valid token", "Bearer " + sign(t, keys["ec"], good, "k1"), ""},
		{"no Authorization header", "", msgUnauthorized},
		{"token without Bearer", sign(t, keys["ec"], good, "k1"), mspMsgMalformed},
		{"not a JWT", "Bearer abc.def", mspMsgMalformed},
		{"signed with another key", "Bearer " + sign(t, keys["other"], good, "k1"), mspMsgSignature},
		{"HMAC-signed", "Bearer " + hsTok, mspMsgSignature},
		{"unsigned", "Bearer " + none, mspMsgSignature},
		{"no audience", "Bearer " + sign(t, keys["ec"], with(func(c jwt.MapClaims) { delete(c, "aud") }), "k1"), mspMsgAudience},
		{"wrong key id", "Bearer " + sign(t, keys["ec"], good, "k2"), mspMsgKeyID},
		{"wrong issuer", "Bearer " + sign(t, keys["ec"], with(func(c jwt.MapClaims) { c["iss"] = "someone-else" }), "k1"), mspMsgIssuer},
		{"no issuer", "Bearer " + sign(t, keys["ec"], with(func(c jwt.MapClaims) { delete(c, "iss") }), "k1"), mspMsgIssuer},
		{"wrong audience", "Bearer " + sign(t, keys["ec"], with(func(c jwt.MapClaims) { c["aud"] = "https://elsewhere" }), "k1"), mspMsgAudience},
		{"expired", "Bearer " + sign(t, keys["ec"], with(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = t0.Add(-10*time.Minute).Unix(), t0.Add(-time.Second).Unix()
		}), "k1"), mspMsgExpired},
		{"expiring now", "Bearer " + sign(t, keys["ec"], with(func(c jwt.MapClaims) { c["exp"] = t0.Unix() }), "k1"), mspMsgExpired},
		{"no expiry", "Bearer " + sign(t, keys["ec"], with(func(c jwt.MapClaims) { delete(c, "exp") }), "k1"), mspMsgNoExpiry},
		{"issued in the future", "Bearer " + sign(t, keys["ec"], with(func(c jwt.MapClaims) { c["iat"] = t0.Add(time.Minute).Unix() }), "k1"), mspMsgFuture},
		{"lifetime above an hour", "Bearer " + sign(t, keys["ec"], with(func(c jwt.MapClaims) { c["exp"] = t0.Add(2 * time.Hour).Unix() }), "k1"), mspMsgLifetime},
		{"no issued-at", "Bearer " + sign(t, keys["ec"], with(func(c jwt.MapClaims) { delete(c, "iat") }), "k1"), mspMsgLifetime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, b := f.post(t, tt.auth, `{}`)
			if tt.msg == "" {
				if s != 200 {
					t.Fatalf("got %d %s", s, b)
				}
				return
			}
			want, _ := json.Marshal(map[string]string{"message": tt.msg})
			if s != 401 || string(b) != string(want) {
				t.Fatalf("got %d %s, want 401 %s", s, b, want)
			}
		})
	}
}

func TestNordPassMSPTokenLifecycle(t *testing.T) {
	keys := testkeys.All()
	f := newMSPFixture(t, NordPassMSPConfig{Seed: 1, Count: 10}, keys["ec"])
	tok1 := "Bearer " + sign(t, keys["ec"], goodClaims(t0), "")
	for range 3 {
		if s, b := f.post(t, tok1, `{}`); s != 200 {
			t.Fatalf("got %d %s", s, b)
		}
	}
	if f.m.Logins() != 1 {
		t.Fatalf("one token used three times counts as %d logins", f.m.Logins())
	}
	t.Run("ExpireTokens refuses tokens already used, not new ones", func(t *testing.T) {
		f.m.ExpireTokens()
		if s, b := f.post(t, tok1, `{}`); s != 401 || !strings.Contains(string(b), mspMsgExpired) {
			t.Fatalf("old token: %d %s", s, b)
		}
		c := goodClaims(t0)
		c["jti"] = "second"
		if s, b := f.post(t, "Bearer "+sign(t, keys["ec"], c, ""), `{}`); s != 200 || f.m.Logins() != 2 {
			t.Fatalf("new token: %d %s, logins %d", s, b, f.m.Logins())
		}
	})
	t.Run("a token past exp by the simulator's clock is refused", func(t *testing.T) {
		f.clock.Advance(5 * time.Minute)
		defer f.clock.Set(t0)
		c := goodClaims(t0)
		c["jti"] = "third"
		if s, b := f.post(t, "Bearer "+sign(t, keys["ec"], c, ""), `{}`); s != 401 || !strings.Contains(string(b), mspMsgExpired) {
			t.Fatalf("got %d %s", s, b)
		}
	})
	t.Run("replacing the key refuses tokens of the old one", func(t *testing.T) {
		f.m.SetPublicKey(keys["other"].Public())
		c := goodClaims(t0)
		c["jti"] = "fourth"
		if s, b := f.post(t, "Bearer "+sign(t, keys["ec"], c, ""), `{}`); s != 401 || !strings.Contains(string(b), mspMsgSignature) {
			t.Fatalf("got %d %s", s, b)
		}
	})
}

func TestNordPassMSPValidationAndFilters(t *testing.T) {
	keys := testkeys.All()
	f := newMSPFixture(t, NordPassMSPConfig{Seed: 3, Count: 3000, Organizations: 5, Members: 6}, keys["ec"])
	auth := "Bearer " + sign(t, keys["ec"], goodClaims(t0), "")
	now := t0.Unix()
	orgs, emails := f.m.Organizations(), f.m.MemberEmails()
	tests := []struct {
		name   string
		body   string
		reason string // "" means valid
	}{
		{"empty object is valid (the last 30 days)", `{}`, ""},
		{"span of more than 90 days", fmtJSON(map[string]any{"timestamp_from": now - 90*day - 1, "timestamp_to": now}), "the period between timestamp_from and timestamp_to is more than 90 days"},
		{"to in the future", fmtJSON(map[string]any{"timestamp_from": now - 10, "timestamp_to": now + 1}), reasonToInFuture},
		{"per_page 101", `{"per_page":101}`, reasonPerPageRange},
		{"page past the cap", `{"per_page":100,"page":101}`, "A request for logs exceeds the most recent 10,000 logs"},
		{"member email that is not one", `{"member_emails":["ops"]}`, reasonEmailFormat},
		{"member emails not an array", `{"member_emails":"a@b.c"}`, reasonEmailFormat},
		{"organization that is not a UUID", `{"organization_uuids":["acme"]}`, reasonOrgFormat},
		{"unknown organization", `{"organization_uuids":["00000000-0000-4000-8000-000000000000"]}`, reasonOrgUnknown},
		{"category by its display name", `{"categories":["MSP Access"]}`, reasonCategoryFormat},
		{"the six categories", `{"categories":["msp_access","msp_user_management","organization_management","integrations","billing","settings"]}`, ""},
		{"empty filters mean none", `{"member_emails":[],"organization_uuids":null,"categories":[]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, b := f.post(t, auth, tt.body)
			if tt.reason == "" {
				if s != 200 {
					t.Fatalf("got %d %s", s, b)
				}
				return
			}
			want, _ := json.Marshal(map[string]string{"message": "Invalid request payload", "reason": tt.reason})
			if s != 400 || string(b) != string(want) {
				t.Fatalf("got %d %s, want 400 %s", s, b, want)
			}
		})
	}

	from, to := t0.Add(-72*time.Hour), t0
	readAll := func(t *testing.T, filters map[string]any) [][]byte {
		var out [][]byte
		for n := 1; ; n++ {
			body := map[string]any{"timestamp_from": from.Unix(), "timestamp_to": to.Unix() - 1, "per_page": 100, "page": n}
			for k, v := range filters {
				body[k] = v
			}
			s, b := f.post(t, auth, body)
			var p page
			if s != 200 || json.Unmarshal(b, &p) != nil {
				t.Fatalf("page %d: %d %s", n, s, b)
			}
			if len(p.Data) == 0 {
				return out
			}
			for _, d := range p.Data {
				out = append(out, d)
			}
		}
	}
	sorted := func(rs [][]byte) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = string(r)
		}
		slices.Sort(out)
		return out
	}
	filterTests := []struct {
		name                     string
		emails, orgs, categories []string
	}{
		{"no filter", nil, nil, nil},
		{"member email (as user or initiator)", emails[:1], nil, nil},
		{"organizations", nil, orgs[1:3], nil},
		{"categories", nil, nil, []string{"organization_management", "billing"}},
		{"all three at once", emails[:3], orgs[:1], []string{"organization_management", "integrations"}},
	}
	for _, tt := range filterTests {
		t.Run("filter by "+tt.name, func(t *testing.T) {
			filters := map[string]any{}
			if tt.emails != nil {
				filters["member_emails"] = tt.emails
			}
			if tt.orgs != nil {
				filters["organization_uuids"] = tt.orgs
			}
			if tt.categories != nil {
				filters["categories"] = tt.categories
			}
			got := readAll(t, filters)
			want := f.m.FilteredTruth(from, to, tt.emails, tt.orgs, tt.categories)
			if len(want) == 0 || !slices.Equal(sorted(got), sorted(want)) {
				t.Fatalf("got %d entries, want %d", len(got), len(want))
			}
			for i := 1; i < len(got); i++ {
				var a, b struct{ Timestamp int64 }
				if json.Unmarshal(got[i-1], &a) != nil || json.Unmarshal(got[i], &b) != nil {
					t.Fatalf("entries %s, %s: not JSON with a timestamp", got[i-1], got[i])
				}
				if a.Timestamp < b.Timestamp {
					t.Fatal("not newest first")
				}
			}
		})
	}
	t.Run("entries are shaped like the Enterprise API's, with the initiator and IP", func(t *testing.T) {
		for _, r := range f.m.All()[:50] {
			var e struct {
				Type      string `json:"type"`
				Action    string `json:"action"`
				Timestamp int64  `json:"timestamp"`
				User      struct{ UUID, Email string }
				Initiator struct{ UUID, Email string }
				IP        string          `json:"ip_address"`
				Metadata  json.RawMessage `json:"metadata"`
			}
			if err := json.Unmarshal(r.JSON, &e); err != nil || !slices.Contains(NordPassMSPCategories, e.Type) || e.Action == "" ||
				e.Timestamp != r.Time.Unix() || e.User.Email == "" || e.Initiator.Email == "" || e.IP == "" || len(e.Metadata) == 0 {
				t.Fatalf("entry %s", r.JSON)
			}
		}
	})
}

func TestNordPassMSPTimestampUnit(t *testing.T) {
	m := NewNordPassMSP(NordPassMSPConfig{Seed: 1, Count: 100, Clock: NewFakeClock(t0), RateLimit: -1,
		NordPassReadings: NordPassReadings{MillisecondTimestamps: true}})
	at := t0.Add(-time.Hour).Truncate(time.Second)
	if ts := decodeEvent(t, m.AddEvent(at, time.Time{}, "msp_access", "login", 0, -1).JSON).Timestamp; ts != at.UnixMilli() {
		t.Fatalf("timestamp %d, want milliseconds %d", ts, at.UnixMilli())
	}
	for _, r := range m.All() {
		if ts := decodeEvent(t, r.JSON).Timestamp; ts != r.Time.UnixMilli() {
			t.Fatalf("timestamp %d of a record at %s, want milliseconds", ts, r.Time)
		}
	}
}
