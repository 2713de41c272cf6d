package conformance

import (
	"crypto/ecdsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/internal/testkit/testkeys"
	"github.com/auditpull/auditpull/test/sim"
)

// vendor is what the suite needs of one source: a simulator holding a
// given history, the core config that polls it, and the ground truth. A new
// vendor adds one entry to vendors.
type vendor struct {
	name string
	// badConfigs are invalid source sections and the key each error names.
	badConfigs []badConfig
	// start builds a simulator with count events spread over [from, to).
	start func(t *testing.T, o simOptions) *simEnv
}

type simOptions struct {
	clock    *sim.FakeClock
	count    int
	from, to time.Time
	cap      int // 0: the vendor's documented cap
	// The readings of what the vendor documents leave open (see the
	// matrix); zero values are the simulator's defaults.
	readings sim.Readings
	nordpass sim.NordPassReadings
	// filterUsers sets nordpass.user_uuids to every member of an
	// organization of 1,100 (three groups of at most 500).
	filterUsers bool
	oloid       func(*sim.OLOIDConfig)
	qualtrics   func(*sim.QualtricsConfig)
}

type simEnv struct {
	// section is the source's config section, pointing at the simulator.
	section map[string]any
	truth   func(from, to time.Time) [][]byte
	faults  *sim.Faults
	// addLate inserts an event at ts that becomes visible at visible.
	addLate func(ts, visible time.Time) []byte
	// addBurst inserts n events sharing ts.
	addBurst func(ts time.Time, n int) [][]byte
	// addIdentical inserts n byte-identical events at ts (nil where every
	// event has an id of its own, or the simulator cannot make them).
	addIdentical func(ts time.Time, n int) [][]byte
	// revoke makes the configured credential fail for good.
	revoke func()
	// onServe is called after each data page the simulator serves.
	onServe func(f func(page int))
	// pageSize is the page size configured (events per request).
	pageSize int
	// cap is the most records one query can reach (0: none).
	cap int
	// expireSession ends the current session token (OAuth, login, JWT) so
	// the source must authenticate again; nil for static tokens.
	expireSession func()
	// logins counts authentications so far (nil for static tokens).
	logins func() int
	// secrets are the credentials configured: no log line may contain one.
	secrets []string
}

type badConfig struct {
	name    string
	section map[string]any
	key     string
}

var vendors = []vendor{
	{name: "nordpass", start: startNordPass, badConfigs: []badConfig{
		{"unknown region", map[string]any{"token": "x", "region": "apac"}, "nordpass.region"},
		{"no token", map[string]any{"region": "eu"}, "nordpass.token"},
		{"token with Bearer", map[string]any{"token": "Bearer x"}, "nordpass.token"},
		{"misspelt option", map[string]any{"token": "x", "user_uuid": "0b3c4a3e-1111-4c1c-9b1a-1234567890ab"}, "nordpass.user_uuid"},
		{"plain http", map[string]any{"token": "x", "base_url": "http://api.example.com"}, "nordpass.base_url"},
	}},
	{name: "oloid", start: startOLOID, badConfigs: []badConfig{
		{"no base_url", map[string]any{"client_id": "c", "tenant": "t", "client_secret": "s"}, "oloid.base_url"},
		{"plain http", map[string]any{"base_url": "http://api.example.com", "client_id": "c", "tenant": "t", "client_secret": "s"}, "oloid.base_url"},
		{"not a URL", map[string]any{"base_url": "api.example.com", "client_id": "c", "tenant": "t", "client_secret": "s"}, "oloid.base_url"},
		{"no client_id", map[string]any{"base_url": "https://api.example.com", "tenant": "t", "client_secret": "s"}, "oloid.client_id"},
		{"no tenant", map[string]any{"base_url": "https://api.example.com", "client_id": "c", "client_secret": "s"}, "oloid.tenant"},
		{"no client_secret", map[string]any{"base_url": "https://api.example.com", "client_id": "c", "tenant": "t"}, "oloid.client_secret"},
		{"misspelt option", map[string]any{"base_url": "https://api.example.com", "client_id": "c", "tenant": "t", "client_secret": "s", "tennant": "t"}, "oloid.tennant"},
	}},
	{name: "qualtrics", start: startQualtrics, badConfigs: []badConfig{
		{"no datacenter or base_url", map[string]any{"api_token": "x", "activity_types": []any{"login"}}, "qualtrics.datacenter"},
		{"malformed datacenter", map[string]any{"datacenter": "iad1/../x", "api_token": "x", "activity_types": []any{"login"}}, "qualtrics.datacenter"},
		{"datacenter and base_url", map[string]any{"datacenter": "iad1", "base_url": "https://iad1.qualtrics.com/API/v3", "api_token": "x", "activity_types": []any{"login"}}, "qualtrics.base_url"},
		{"plain http", map[string]any{"base_url": "http://qualtrics.example.com/API/v3", "api_token": "x", "activity_types": []any{"login"}}, "qualtrics.base_url"},
		{"no credentials", map[string]any{"datacenter": "iad1", "activity_types": []any{"login"}}, "qualtrics.api_token"},
		{"api token and oauth", map[string]any{"datacenter": "iad1", "api_token": "x", "client_id": "c", "client_secret": "s", "activity_types": []any{"login"}}, "qualtrics.api_token"},
		{"client_id without secret", map[string]any{"datacenter": "iad1", "client_id": "c", "activity_types": []any{"login"}}, "qualtrics.client_secret"},
		{"scope without oauth", map[string]any{"datacenter": "iad1", "api_token": "x", "scope": "read:x", "activity_types": []any{"login"}}, "qualtrics.scope"},
		{"no activity types", map[string]any{"datacenter": "iad1", "api_token": "x"}, "qualtrics.activity_types"},
		{"all combined with a type", map[string]any{"datacenter": "iad1", "api_token": "x", "activity_types": []any{"login", "all"}}, "qualtrics.activity_types.1"},
		{"activity type twice", map[string]any{"datacenter": "iad1", "api_token": "x", "activity_types": []any{"login", "login"}}, "qualtrics.activity_types.1"},
		{"misspelt option", map[string]any{"datacenter": "iad1", "api_token": "x", "activity_types": []any{"login"}, "userid": "UR_1"}, "qualtrics.userid"},
	}},
	{name: "nordpass_msp", start: startNordPassMSP, badConfigs: mspBadConfigs()},
}

const testToken = "np-test-token-7f3a"

// serve runs a simulator until the test ends. Go's testing keeps a
// finished parallel test, with its cleanup functions, until its parent
// ends: the cleanup lets go of the simulator, so that the 18,528 cells of
// the full matrix do not each keep two days of history in memory.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		srv.Config.Handler = nil
	})
	return srv
}

func startNordPass(t *testing.T, o simOptions) *simEnv {
	cfg := sim.NordPassConfig{
		Seed: 42, Count: o.count, From: o.from, To: o.to, Clock: o.clock,
		RateLimit: -1, Cap: o.cap, Readings: o.readings, NordPassReadings: o.nordpass,
	}
	if o.filterUsers {
		cfg.Users = 1100
	}
	np := sim.NewNordPass(cfg)
	np.AddToken(testToken, sim.TokenValid)
	srv := serve(t, sim.NewServer().Mount(sim.NordPassPrefix, np))
	users := np.UserUUIDs()
	section := map[string]any{"base_url": srv.URL + sim.NordPassPrefix, "token": testToken}
	if o.filterUsers {
		all := make([]any, len(users))
		for i, u := range users {
			all[i] = u
		}
		section["user_uuids"] = all
	}
	env := &simEnv{
		section:  section,
		truth:    np.Truth,
		faults:   np.Faults(),
		pageSize: 100,
		cap:      10000,
		addLate: func(ts, visible time.Time) []byte {
			if o.filterUsers {
				// An admin acting on a member, likely of another group.
				return np.AddInitiated(ts, visible, "member_management", "member_suspended", 900, 1).JSON
			}
			return np.AddEvent(ts, visible, "item", "item_shared", 3).JSON
		},
		addBurst: func(ts time.Time, n int) [][]byte {
			var out [][]byte
			for i := 0; i < n; i++ {
				out = append(out, np.AddEvent(ts, ts, "user", "login", i%len(users)).JSON)
			}
			return out
		},
		addIdentical: func(ts time.Time, n int) [][]byte {
			var out [][]byte
			for range n {
				out = append(out, np.AddEvent(ts, ts, "item", "item_viewed", 5).JSON)
			}
			return out
		},
		secrets: []string{testToken},
		revoke:  func() { np.SetTokenState(testToken, sim.TokenExpired) },
		onServe: np.OnServe,
	}
	if o.cap > 0 {
		env.cap = o.cap
	}
	return env
}

const (
	oloidClient = "auditpull-client"
	oloidTenant = "acme"
	oloidSecret = "oloid-test-secret-91c2"
)

func startOLOID(t *testing.T, o simOptions) *simEnv {
	cfg := sim.OLOIDConfig{Seed: 42, Count: o.count, From: o.from, To: o.to, Clock: o.clock, Readings: o.readings}
	if o.oloid != nil {
		o.oloid(&cfg)
	}
	ol := sim.NewOLOID(cfg)
	ol.AddClient(oloidClient, oloidTenant, oloidSecret)
	srv := serve(t, sim.NewServer().Mount(sim.OLOIDPrefix, ol))
	users := ol.UserIDs()
	return &simEnv{
		section: map[string]any{
			"base_url": srv.URL + sim.OLOIDPrefix, "client_id": oloidClient,
			"tenant": oloidTenant, "client_secret": oloidSecret,
		},
		truth:    ol.Truth,
		faults:   ol.Faults(),
		pageSize: 100,
		addLate: func(ts, visible time.Time) []byte {
			return ol.AddEvent(ts, visible, "ACCESS_GRANTED", 3).JSON
		},
		addBurst: func(ts time.Time, n int) [][]byte {
			var out [][]byte
			for i := 0; i < n; i++ {
				out = append(out, ol.AddEvent(ts, ts, "LOGIN", i%len(users)).JSON)
			}
			return out
		},
		secrets:       []string{oloidSecret},
		revoke:        func() { ol.DisableClient(oloidClient, oloidTenant) },
		onServe:       ol.OnServe,
		expireSession: ol.ExpireSessions,
		logins:        ol.Logins,
	}
}

const (
	qualtricsClient = "auditpull-oauth-client"
	qualtricsSecret = "qualtrics-test-secret-5d1e"
)

// startQualtrics reads two activity types with OAuth: "login" holds the
// history, "user_account_change" stays empty, so the suite's single-stream
// assertions hold while a second stream is planned, checkpointed and
// round-robined beside the first.
func startQualtrics(t *testing.T, o simOptions) *simEnv {
	cfg := sim.QualtricsConfig{
		Seed: 42, Count: o.count, From: o.from, To: o.to, Clock: o.clock, Readings: o.readings,
		ActivityTypes: []string{"login", "user_account_change"}, EventTypes: []string{"login"},
	}
	if o.qualtrics != nil {
		o.qualtrics(&cfg)
	}
	q := sim.NewQualtrics(cfg)
	q.AddClient(qualtricsClient, qualtricsSecret)
	srv := serve(t, sim.NewServer().Mount(sim.QualtricsPrefix, q))
	users := q.UserIDs()
	return &simEnv{
		section: map[string]any{
			"base_url":  srv.URL + sim.QualtricsPrefix + sim.QualtricsAPIPath,
			"client_id": qualtricsClient, "client_secret": qualtricsSecret,
			"activity_types": []any{"login", "user_account_change"},
		},
		truth:    q.Truth,
		faults:   q.Faults(),
		pageSize: 100,
		addLate: func(ts, visible time.Time) []byte {
			return q.AddEvent("login", ts, visible, 3).JSON
		},
		addBurst: func(ts time.Time, n int) [][]byte {
			var out [][]byte
			for i := 0; i < n; i++ {
				out = append(out, q.AddEvent("login", ts, ts, i%len(users)).JSON)
			}
			return out
		},
		secrets:       []string{qualtricsSecret},
		revoke:        func() { q.DisableClient(qualtricsClient) },
		onServe:       q.OnServe,
		expireSession: q.ExpireSessions,
		logins:        q.Logins,
	}
}

const mspIssuer = "msp-7d0c1f2e"

// mspKey is one EC P-256 key pair for every MSP scenario.
func mspKey() (*ecdsa.PrivateKey, string) { return testkeys.EC(), testkeys.PKCS8(testkeys.EC()) }

func mspBadConfigs() []badConfig {
	_, pemKey := mspKey()
	ok := func(kv ...any) map[string]any {
		m := map[string]any{"base_url": "https://msp.example.com", "path": "/v1/activity", "private_key": pemKey, "jwt": map[string]any{"issuer": mspIssuer}}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	return []badConfig{
		{"no base_url", ok("base_url", nil), "nordpass_msp.base_url"},
		{"plain http", ok("base_url", "http://msp.example.com"), "nordpass_msp.base_url"},
		{"no path", ok("path", nil), "nordpass_msp.path"},
		{"relative path", ok("path", "v1/activity"), "nordpass_msp.path"},
		{"no private key", ok("private_key", nil), "nordpass_msp.private_key"},
		{"private key that is not PEM", ok("private_key", "not a key"), "nordpass_msp.private_key"},
		{"no issuer nor key id", ok("jwt", map[string]any{"subject": "x"}), "nordpass_msp.jwt.issuer"},
		{"token lifetime too long", ok("jwt", map[string]any{"issuer": mspIssuer, "lifetime": "2h"}), "nordpass_msp.jwt.lifetime"},
		{"unknown auth scheme", ok("auth_scheme", "basic"), "nordpass_msp.auth_scheme"},
		{"unknown category", ok("categories", []any{"Billing", "Payroll"}), "nordpass_msp.categories.1"},
		{"malformed member email", ok("member_emails", []any{"ops@example.com", "ops"}), "nordpass_msp.member_emails.1"},
		{"organization that is not a UUID", ok("organizations", []any{"acme"}), "nordpass_msp.organizations.0"},
		{"misspelt option", ok("categorys", []any{"Billing"}), "nordpass_msp.categorys"},
	}
}

func startNordPassMSP(t *testing.T, o simOptions) *simEnv {
	key, pemKey := mspKey()
	m := sim.NewNordPassMSP(sim.NordPassMSPConfig{
		Seed: 42, Count: o.count, From: o.from, To: o.to, Clock: o.clock,
		RateLimit: -1, Cap: o.cap, PublicKey: &key.PublicKey, Issuer: mspIssuer,
		Readings: o.readings, NordPassReadings: o.nordpass,
	})
	srv := serve(t, sim.NewServer().Mount(sim.NordPassMSPPrefix, m))
	base := srv.URL + sim.NordPassMSPPrefix
	env := &simEnv{
		section: map[string]any{
			"base_url": base, "path": m.Path(), "private_key": pemKey,
			"jwt": map[string]any{"issuer": mspIssuer},
		},
		truth:    m.Truth,
		faults:   m.Faults(),
		pageSize: 100,
		cap:      10000,
		addLate: func(ts, visible time.Time) []byte {
			return m.AddEvent(ts, visible, "organization_management", "organization_accessed", 3, 1).JSON
		},
		addBurst: func(ts time.Time, n int) [][]byte {
			var out [][]byte
			for i := 0; i < n; i++ {
				out = append(out, m.AddEvent(ts, ts, "msp_access", "login", i%len(m.MemberEmails()), -1).JSON)
			}
			return out
		},
		// The key, and any line of it.
		secrets: append([]string{pemKey}, strings.Split(strings.TrimSpace(pemKey), "\n")[1:3]...),
		// Generating a new key in the MSP Admin Panel voids the old one.
		revoke:        func() { m.SetPublicKey(nil) },
		onServe:       m.OnServe,
		expireSession: m.ExpireTokens,
		logins:        m.Logins,
	}
	if o.cap > 0 {
		env.cap = o.cap
	}
	return env
}
