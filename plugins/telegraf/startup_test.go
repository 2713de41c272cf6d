package auditpull

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/auditpull/auditpull/test/sim"
)

// gatedQualtrics serves a simulated Qualtrics brand whose activity type
// list answers 503 until open is called; the API token testToken is valid.
func gatedQualtrics(t *testing.T) (url string, open func()) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	q := sim.NewQualtrics(sim.QualtricsConfig{Seed: 3, Count: 60, From: now.Add(-6 * time.Hour), To: now.Add(-time.Hour), ActivityTypes: []string{"login", "logout"}})
	q.AddAPIToken(testToken)
	inner := sim.NewServer().Mount(sim.QualtricsPrefix, q)
	var listed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/logs/activitytypes") && !listed.Load() {
			http.Error(w, `{"meta":{"httpStatus":"503 - Service Unavailable"}}`, http.StatusServiceUnavailable)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() { listed.Store(true) }
}

// With activity_types ["all"] the streams are known only once Qualtrics
// has listed the types: a vendor that cannot answer at start must not hold
// up Telegraf, but a credential it refuses is a startup error.
func TestQualtricsAllStartsWithoutWaitingForTheTypeList(t *testing.T) {
	const requestTimeout = time.Second
	for _, tc := range []struct {
		name     string
		url      func(t *testing.T) (url string, open func())
		token    string
		startErr string // "" : Start succeeds
		later    string // then reported as the input's error
	}{
		{name: "unreachable API", token: testToken,
			url:   func(*testing.T) (string, func()) { return "http://127.0.0.1:1", func() {} },
			later: "listing the streams of qualtrics"},
		{name: "refused token", token: "wrong-token",
			url: func(t *testing.T) (string, func()) {
				u, open := gatedQualtrics(t)
				open()
				return u, func() {}
			},
			startErr: "401"},
		{name: "token refused once the list answers", token: "wrong-token", url: gatedQualtrics,
			later: "polling stopped until the configuration or credentials are fixed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, open := tc.url(t)
			a, l := qualtricsPlugin(t, u)
			a.Qualtrics.APIToken = config.NewSecret([]byte(tc.token))
			a.RequestTimeout = config.Duration(requestTimeout)
			a.Retry = RetryOptions{MaxAttempts: 8, InitialBackoff: config.Duration(200 * time.Millisecond), MaxBackoff: config.Duration(200 * time.Millisecond)}
			a.ShutdownTimeout = 0
			if err := a.Init(); err != nil {
				t.Fatal(err)
			}
			s := newSink()
			began := time.Now()
			err := a.Start(s.acc(l))
			took := time.Since(began)
			if tc.startErr != "" {
				if err == nil {
					a.Stop()
					t.Fatalf("Start succeeded; want an error saying %q", tc.startErr)
				}
				if !strings.Contains(err.Error(), tc.startErr) {
					t.Fatalf("Start: %v; want it to say %q", err, tc.startErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer a.Stop()
			t.Logf("Start returned after %s", took)
			if took > requestTimeout+500*time.Millisecond {
				t.Errorf("Start took %s; want at most about request_timeout (%s)", took, requestTimeout)
			}
			open()
			waitFor(t, "the error reported after the start", func() bool {
				return l.contains("E! Error in plugin: ") && l.contains(tc.later)
			})
		})
	}
}

// Where an unreadable checkpoint is found decides who hears of it: one
// read in Start fails the start; a tenant's, or one read after a deferred
// Qualtrics type list, is the input's error, and Telegraf runs on. A
// checkpoint directory that cannot be used fails every start. Every error
// names the file.
func TestAnUnreadableCheckpointIsReportedNamingTheFile(t *testing.T) {
	tenants := func(t *testing.T, dir string) (*AuditPull, *testLog, func()) {
		a, l := newFixture(t, 10).plugin(t, dir)
		a.Tenants = []any{
			map[string]any{"stream": "acme", "nordpass": map[string]any{"token": testToken}},
			map[string]any{"stream": "globex", "nordpass": map[string]any{"token": testToken}},
		}
		return a, l, func() {}
	}
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, dir string) (*AuditPull, *testLog, func())
		file   string // the corrupt checkpoint in the directory, or the directory itself when notDir
		notDir bool
		start  bool   // Start succeeds
		later  string // then reported as the input's error
		goOn   bool   // and the other streams still deliver
	}{
		{name: "a directory that cannot be created, with tenants", file: "not-a-directory", notDir: true, setup: tenants},
		{name: "a single stream", file: "audit.json",
			setup: func(t *testing.T, dir string) (*AuditPull, *testLog, func()) {
				a, l := newFixture(t, 10).plugin(t, dir)
				a.Stream = "audit"
				return a, l, func() {}
			}},
		{name: "a tenant's", file: "acme.json", start: true, later: "tenant acme stopped, retried in 10m0s", goOn: true, setup: tenants},
		{name: "after a deferred Qualtrics type list", file: "q%2Flogin.json", start: true, later: "polling stopped",
			setup: func(t *testing.T, dir string) (*AuditPull, *testLog, func()) {
				u, open := gatedQualtrics(t)
				a, l := qualtricsPlugin(t, u)
				a.Stream = "q"
				a.Checkpoint.Path = dir
				a.RequestTimeout = config.Duration(300 * time.Millisecond)
				a.Retry = RetryOptions{MaxAttempts: 2, InitialBackoff: config.Duration(20 * time.Millisecond), MaxBackoff: config.Duration(100 * time.Millisecond)}
				return a, l, open
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.notDir {
				dir = path
			}
			a, l, later := tc.setup(t, dir)
			a.ShutdownTimeout = 0
			if err := a.Init(); err != nil {
				t.Fatal(err)
			}
			s := newSink()
			err := a.Start(s.acc(l))
			if !tc.start {
				if err == nil {
					a.Stop()
					t.Fatal("Start succeeded over a corrupt checkpoint")
				}
				if !strings.Contains(err.Error(), path) {
					t.Fatalf("Start: %v; want it to name %s", err, path)
				}
				return
			}
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer a.Stop()
			later()
			waitFor(t, "the corrupt checkpoint reported as the input's error", func() bool {
				return l.contains("E! Error in plugin: ") && l.contains(tc.later) && l.contains(path)
			})
			if tc.goOn {
				waitFor(t, "the other tenant's events", func() bool { n, _ := s.counts(); return n > 0 })
				if n := a.poller.Metrics().Snapshot()["tenants_failed"]; n != 1 {
					t.Errorf("tenants_failed = %v; want 1", n)
				}
			}
		})
	}
}
