package nordpassmsp_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	_ "github.com/auditpull/auditpull/core/source/nordpassmsp"
	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/internal/testkit/testkeys"
	"github.com/auditpull/auditpull/test/sim"
	"github.com/golang-jwt/jwt/v5"
)

var now0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

const issuer = "msp-4f1e"

// rig records every request's Authorization header and JSON body.
type rig struct {
	*testkit.Rig
	m     *sim.NordPassMSP
	base  string
	mu    sync.Mutex
	auths []string
	body  []map[string]any
}

// newRig starts an MSP simulator verifying with pub and a config signing
// with key (PEM).
func newRig(t *testing.T, simCfg sim.NordPassMSPConfig, pub crypto.PublicKey, keyPEM string, kv ...any) *rig {
	r := &rig{Rig: testkit.NewRig(t, sim.NewFakeClock(now0), nil)}
	r.CloseAtCleanup = true
	if simCfg.Clock == nil {
		simCfg.Clock = r.Clock
	}
	if simCfg.From.IsZero() {
		simCfg.From, simCfg.To = now0.Add(-48*time.Hour), now0
	}
	if simCfg.Issuer == "" {
		simCfg.Issuer = issuer
	}
	simCfg.RateLimit, simCfg.PublicKey = -1, pub
	r.m = sim.NewNordPassMSP(simCfg)
	inner := sim.NewServer().Mount(sim.NordPassMSPPrefix, r.m)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("request body %q: %v", b, err)
		}
		r.mu.Lock()
		r.auths = append(r.auths, req.Header.Get("Authorization"))
		r.body = append(r.body, m)
		r.mu.Unlock()
		req.Body = io.NopCloser(strings.NewReader(string(b)))
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.base = srv.URL + sim.NordPassMSPPrefix
	r.Cfg = map[string]any{
		"source": "nordpass_msp", "nordpass_msp.base_url": r.base, "nordpass_msp.path": r.m.Path(),
		"nordpass_msp.private_key": keyPEM, "nordpass_msp.jwt.issuer": issuer,
		"checkpoint.type": "memory", "rate_limit.enabled": false, "settle_delay": "1m", "overlap": "5m",
		"initial_lookback": "48h", "retry.initial_backoff": "1ms", "retry.max_backoff": "5ms", "retry.max_attempts": 4,
	}
	r.Set(kv...)
	return r
}

func (r *rig) tokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, a := range r.auths {
		out = append(out, strings.TrimPrefix(a, "Bearer "))
	}
	return out
}

// decode reads a JWT without verifying it.
func decode(t *testing.T, tok string) (map[string]any, jwt.MapClaims) {
	t.Helper()
	c := jwt.MapClaims{}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, c)
	if err != nil {
		t.Fatalf("token %q: %v", tok, err)
	}
	return parsed.Header, c
}

func TestSignsWithTheAlgorithmTheKeyTypeCallsFor(t *testing.T) {
	k := testkeys.All()
	ecDER, _ := x509.MarshalECPrivateKey(k["ec"].(*ecdsa.PrivateKey))
	rsaDER := x509.MarshalPKCS1PrivateKey(k["rsa"].(*rsa.PrivateKey))
	p8, _ := x509.MarshalPKCS8PrivateKey(k["ed"])
	tests := []struct {
		name string
		key  crypto.Signer
		pem  string
		alg  string
	}{
		{"EC P-256 in PKCS#8", k["ec"], testkeys.PKCS8(k["ec"]), "ES256"},
		{"EC P-256 in SEC 1", k["ec"], string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})), "ES256"},
		{"EC P-384", k["ec384"], testkeys.PKCS8(k["ec384"]), "ES384"},
		{"RSA in PKCS#1", k["rsa"], string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: rsaDER})), "RS256"},
		{"RSA in PKCS#8", k["rsa"], testkeys.PKCS8(k["rsa"]), "RS256"},
		{"Ed25519", k["ed"], testkeys.PKCS8(k["ed"]), "EdDSA"},
		{"Ed25519 as bare base64 DER", k["ed"], base64.StdEncoding.EncodeToString(p8), "EdDSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, sim.NordPassMSPConfig{Seed: 1, Count: 300}, tt.key.Public(), tt.pem)
			got, err := testkit.Drain(r.Poller(), -1)
			if err != nil {
				t.Fatal(err)
			}
			testkit.SameMultiset(t, got, testkit.Strings(r.m.Truth(now0.Add(-48*time.Hour), now0.Add(-time.Minute))))
			h, _ := decode(t, r.tokens()[0])
			if h["alg"] != tt.alg {
				t.Fatalf("alg %v, want %s", h["alg"], tt.alg)
			}
		})
	}
}

func TestTheTokenCarriesTheConfiguredClaims(t *testing.T) {
	k := testkeys.All()
	t.Run("defaults: sub is the issuer, aud the base URL, five minutes, no kid", func(t *testing.T) {
		r := newRig(t, sim.NordPassMSPConfig{Seed: 1, Count: 10}, k["ec"].Public(), testkeys.PKCS8(k["ec"]))
		if _, err := testkit.Drain(r.Poller(), -1); err != nil {
			t.Fatal(err)
		}
		h, c := decode(t, r.tokens()[0])
		iat, _ := c.GetIssuedAt()
		exp, _ := c.GetExpirationTime()
		aud, _ := c.GetAudience()
		if c["iss"] != issuer || c["sub"] != issuer || !slices.Equal(aud, []string{r.base}) || h["kid"] != nil ||
			!iat.Equal(now0) || exp.Sub(iat.Time) != 5*time.Minute || c["jti"] == nil || c["jti"] == "" {
			t.Fatalf("header %v claims %v", h, c)
		}
	})
	t.Run("every claim set explicitly", func(t *testing.T) {
		r := newRig(t, sim.NordPassMSPConfig{Seed: 1, Count: 10, Audience: "nordpass-msp-api", KeyID: "key-2"}, k["ec"].Public(), testkeys.PKCS8(k["ec"]),
			"nordpass_msp.jwt", map[string]any{"issuer": issuer, "subject": "svc-auditpull", "audience": "nordpass-msp-api", "key_id": "key-2", "lifetime": "90s"})
		if _, err := testkit.Drain(r.Poller(), -1); err != nil {
			t.Fatal(err)
		}
		h, c := decode(t, r.tokens()[0])
		iat, _ := c.GetIssuedAt()
		exp, _ := c.GetExpirationTime()
		aud, _ := c.GetAudience()
		if c["sub"] != "svc-auditpull" || !slices.Equal(aud, []string{"nordpass-msp-api"}) || h["kid"] != "key-2" || exp.Sub(iat.Time) != 90*time.Second {
			t.Fatalf("header %v claims %v", h, c)
		}
	})
	t.Run("audience none leaves aud out", func(t *testing.T) {
		r := newRig(t, sim.NordPassMSPConfig{Seed: 1, Count: 10}, k["ec"].Public(), testkeys.PKCS8(k["ec"]), "nordpass_msp.jwt.audience", "none")
		if _, err := testkit.Drain(r.Poller(), -1); err != nil {
			t.Fatal(err)
		}
		if _, c := decode(t, r.tokens()[0]); c["aud"] != nil {
			t.Fatalf("claims %v", c)
		}
	})
	t.Run("auth_scheme none sends the bare JWT", func(t *testing.T) {
		var got string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			got = req.Header.Get("Authorization")
			fmt.Fprint(w, `{"data":[],"metadata":{"total":0}}`)
		}))
		defer srv.Close()
		r := newRig(t, sim.NordPassMSPConfig{Seed: 1}, k["ec"].Public(), testkeys.PKCS8(k["ec"]), "nordpass_msp.base_url", srv.URL, "nordpass_msp.auth_scheme", "none")
		if _, err := testkit.Drain(r.Poller(), -1); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(got, "Bearer") || strings.Count(got, ".") != 2 {
			t.Fatalf("Authorization %q", got)
		}
	})
}

func TestAFreshTokenIsSignedShortlyBeforeEachExpires(t *testing.T) {
	k := testkeys.All()
	r := newRig(t, sim.NordPassMSPConfig{Seed: 2, Count: 200, From: now0.Add(-time.Hour)}, k["ed"].Public(), testkeys.PKCS8(k["ed"]), "initial_lookback", "1h")
	p := r.Poller()
	got, err := testkit.Drain(p, -1)
	// 2 minutes on, the token is reused; 4m40s on it is within 30 s of its
	// expiry, so a new one is signed before the API could refuse it.
	for _, d := range []time.Duration{2 * time.Minute, 2*time.Minute + 40*time.Second} {
		r.Clock.Advance(d)
		more, err2 := testkit.Drain(p, -1)
		got, err = append(got, more...), errors.Join(err, err2)
	}
	if err != nil {
		t.Fatal(err)
	}
	testkit.SameMultiset(t, got, testkit.Strings(r.m.Truth(now0.Add(-time.Hour), r.Clock.Now().Add(-time.Minute))))
	distinct := slices.Compact(slices.Clone(r.tokens()))
	if len(distinct) != 2 || r.m.Logins() != 2 {
		t.Fatalf("%d distinct tokens in %d requests (%d accepted), want 2", len(distinct), len(r.tokens()), r.m.Logins())
	}
	if _, c := decode(t, distinct[1]); c["iat"] != float64(now0.Add(4*time.Minute+40*time.Second).Unix()) {
		t.Fatalf("second token issued at %v", c["iat"])
	}
}

func TestARefusedTokenIsReplacedOnceThenTheErrorSaysWhatToCheck(t *testing.T) {
	k := testkeys.All()
	tests := []struct {
		name   string
		simCfg sim.NordPassMSPConfig
		pub    crypto.PublicKey
		kv     []any
		want   string
	}{
		{"key not registered (a new one was generated)", sim.NordPassMSPConfig{}, k["other"].Public(), nil, "nordpass_msp.private_key is not the key registered for the MSP"},
		{"wrong issuer", sim.NordPassMSPConfig{}, k["ec"].Public(), []any{"nordpass_msp.jwt.issuer", "msp-other"}, "check nordpass_msp.jwt.issuer"},
		{"audience the API does not expect", sim.NordPassMSPConfig{Audience: "urn:nordpass:msp"}, k["ec"].Public(), nil, "check nordpass_msp.jwt.audience"},
		{"key id the API does not know", sim.NordPassMSPConfig{KeyID: "k-1"}, k["ec"].Public(), []any{"nordpass_msp.jwt.key_id", "k-2"}, "check nordpass_msp.jwt.key_id"},
		{"this machine's clock is behind", sim.NordPassMSPConfig{Clock: sim.NewFakeClock(now0.Add(10 * time.Minute))}, k["ec"].Public(), nil, "check this machine's clock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.simCfg, tt.pub, testkeys.PKCS8(k["ec"]), tt.kv...)
			_, err := testkit.Drain(r.Poller(), -1)
			var ae *core.AuthError
			if !core.IsFatal(err) || !errors.As(err, &ae) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an AuthError saying %q", err, tt.want)
			}
			toks := r.tokens()
			if len(toks) != 2 || toks[0] == toks[1] {
				t.Fatalf("%d requests; want the first token and one fresh replacement", len(toks))
			}
			if strings.Contains(err.Error(), toks[0]) || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatal("the error leaks a credential")
			}
		})
	}
}

func TestFiltersAreSentAsTheAPINamesThemAndNarrowTheLog(t *testing.T) {
	k := testkeys.All()
	r := newRig(t, sim.NordPassMSPConfig{Seed: 4, Count: 2000, Organizations: 4, Members: 5}, k["ec"].Public(), testkeys.PKCS8(k["ec"]))
	orgs, emails := r.m.Organizations(), r.m.MemberEmails()
	r.Cfg["nordpass_msp.member_emails"] = []any{emails[0], emails[1]}
	r.Cfg["nordpass_msp.organizations"] = []any{strings.ToUpper(orgs[2]), orgs[1]}
	r.Cfg["nordpass_msp.categories"] = []any{"Organization Management", "integrations", "organization-management"}
	got, err := testkit.Drain(r.Poller(), -1)
	if err != nil {
		t.Fatal(err)
	}
	want := r.m.FilteredTruth(now0.Add(-48*time.Hour), now0.Add(-time.Minute), emails[:2], orgs[1:3], []string{"organization_management", "integrations"})
	if len(want) == 0 {
		t.Fatal("the filters match nothing; the test proves nothing")
	}
	testkit.SameMultiset(t, got, testkit.Strings(want))
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.body[0]
	if fmt.Sprint(b["member_emails"]) != fmt.Sprint([]any{emails[0], emails[1]}) ||
		fmt.Sprint(b["organization_uuids"]) != fmt.Sprint(slices.Sorted(slices.Values([]string{orgs[1], orgs[2]}))) ||
		fmt.Sprint(b["categories"]) != "[integrations organization_management]" {
		t.Fatalf("request body %v", b)
	}
}

func TestKeyProblemsAreConfigErrorsThatNeverQuoteTheKey(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	ecPEM := testkeys.PKCS8(testkeys.EC())
	block, _ := pem.Decode([]byte(ecPEM))
	encrypted := string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: block.Bytes}))
	pub, _ := x509.MarshalPKIXPublicKey(testkeys.EC().Public())
	tests := []struct {
		name, key, want string
	}{
		{"not a key at all", "hunter2-not-a-key", "not a PEM private key"},
		{"a public key", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})), "not a private key"},
		{"an encrypted key", encrypted, "the key is encrypted"},
		{"RSA below 2048 bits", testkeys.PKCS8(small), "RSA key of 1024 bits"},
		{"EC curve JWT has no algorithm for", testkeys.PKCS8(p224), "P-224"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := core.ParseMap(map[string]any{
				"source": "nordpass_msp", "checkpoint.type": "memory", "nordpass_msp": map[string]any{
					"base_url": "https://msp.example", "path": "/x", "private_key": tt.key, "jwt": map[string]any{"issuer": issuer},
				}})
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Key != "nordpass_msp.private_key" || !strings.Contains(ce.Msg, tt.want) {
				t.Fatalf("got %v", err)
			}
			body := strings.Split(strings.TrimSpace(tt.key), "\n")
			if strings.Contains(err.Error(), body[len(body)/2]) || strings.Contains(err.Error(), "hunter2") {
				t.Fatal("the error quotes the key")
			}
		})
	}
	t.Run("limits shared with the Enterprise API", func(t *testing.T) {
		for key, v := range map[string]any{"page_size": 101, "max_window": "91d"} {
			_, err := core.ParseMap(map[string]any{
				"source": "nordpass_msp", "checkpoint.type": "memory", key: v, "nordpass_msp": map[string]any{
					"base_url": "https://msp.example", "path": "/x", "private_key": ecPEM, "jwt": map[string]any{"key_id": "k"},
				}})
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Key != key {
				t.Errorf("%s=%v: got %v", key, v, err)
			}
		}
	})
}

func TestEveryConfigRuleNamesItsKey(t *testing.T) {
	key := testkeys.PKCS8(testkeys.All()["ed"])
	with := func(kv ...any) map[string]any {
		m := map[string]any{"base_url": "https://msp.example", "path": "/v1/log", "private_key": key, "jwt": map[string]any{"issuer": issuer}}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		section map[string]any
		key     string // "" means valid
	}{
		{"key id alone identifies the key", with("jwt", map[string]any{"key_id": "k1"}), ""},
		{"the guide's category names, any case", with("categories", []any{"MSP User Management", "settings", "BILLING"}), ""},
		{"loopback over http", with("base_url", "http://localhost:8080"), ""},
		{"path with a query", with("path", "/v1/log?x=1"), "nordpass_msp.path"},
		{"lifetime below 30 seconds", with("jwt", map[string]any{"issuer": issuer, "lifetime": "10s"}), "nordpass_msp.jwt.lifetime"},
		{"misspelt JWT claim", with("jwt", map[string]any{"isuer": issuer}), "nordpass_msp.jwt.isuer"},
		{"email with a display name", with("member_emails", []any{"Ann <ann@msp.example>"}), "nordpass_msp.member_emails.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := core.ParseMap(map[string]any{"source": "nordpass_msp", "nordpass_msp": tt.section, "checkpoint.type": "memory"})
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

// The MSP API's page sizes and timestamp unit are assumed to be the
// Enterprise API's: under every reading the shared reader copes with,
// every entry is delivered once.
func TestEveryEntryIsDeliveredWhateverThePageSizeServedAndTheTimestampUnit(t *testing.T) {
	k := testkeys.EC()
	tests := []struct {
		name     string
		readings sim.NordPassReadings
	}{
		{"pages of the size asked, Unix seconds", sim.NordPassReadings{}},
		{"pages of 24 of the 100 asked", sim.NordPassReadings{ServedPerPage: 24}},
		{"timestamps in milliseconds", sim.NordPassReadings{MillisecondTimestamps: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, sim.NordPassMSPConfig{Seed: 1, Count: 600, NordPassReadings: tt.readings}, k.Public(), testkeys.PKCS8(k))
			got, err := testkit.Drain(r.Poller(), -1)
			if err != nil {
				t.Fatal(err)
			}
			testkit.SameMultiset(t, got, testkit.Strings(r.m.Truth(now0.Add(-48*time.Hour), now0.Add(-time.Minute))))
		})
	}
}
