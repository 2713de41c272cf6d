package conformance

import (
	"net/http/httptest"
	"testing"
	"time"

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
}

const testToken = "np-test-token-7f3a"

func startNordPass(t *testing.T, o simOptions) *simEnv {
	np := sim.NewNordPass(sim.NordPassConfig{
		Seed: 42, Count: o.count, From: o.from, To: o.to, Clock: o.clock,
		RateLimit: -1, Cap: o.cap,
	})
	np.AddToken(testToken, sim.TokenValid)
	srv := httptest.NewServer(sim.NewServer().Mount(sim.NordPassPrefix, np))
	t.Cleanup(srv.Close)
	users := np.UserUUIDs()
	env := &simEnv{
		section:  map[string]any{"base_url": srv.URL + sim.NordPassPrefix, "token": testToken},
		truth:    np.Truth,
		faults:   np.Faults(),
		pageSize: 100,
		cap:      10000,
		addLate: func(ts, visible time.Time) []byte {
			return np.AddEvent(ts, visible, "item", "item_shared", 3).JSON
		},
		addBurst: func(ts time.Time, n int) [][]byte {
			var out [][]byte
			for i := 0; i < n; i++ {
				out = append(out, np.AddEvent(ts, ts, "user", "login", i%len(users)).JSON)
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
