package auditpull

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/agent"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/selfstat"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/test/sim"

	"github.com/auditpull/auditpull/internal/testkit"
)

const (
	uuidA       = "0b7e6a52-3c1f-4f0e-9a57-2f1d2c3b4a50"
	uuidB       = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f"
	testToken   = "tok-3f9a-SECRET-never-logged"
	waitTimeout = 30 * time.Second
)

// testLog is a telegraf.Logger that keeps every line.
type testLog struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (l *testLog) add(level, s string) {
	l.mu.Lock()
	l.lines = append(l.lines, level+" "+s)
	l.mu.Unlock()
	l.t.Log(level, s)
}
func (l *testLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
func (*testLog) Level() telegraf.LogLevel            { return telegraf.Trace }
func (*testLog) AddAttribute(string, interface{})    {}
func (l *testLog) Errorf(f string, a ...interface{}) { l.add("E!", fmt.Sprintf(f, a...)) }
func (l *testLog) Error(a ...interface{})            { l.add("E!", fmt.Sprint(a...)) }
func (l *testLog) Warnf(f string, a ...interface{})  { l.add("W!", fmt.Sprintf(f, a...)) }
func (l *testLog) Warn(a ...interface{})             { l.add("W!", fmt.Sprint(a...)) }
func (l *testLog) Infof(f string, a ...interface{})  { l.add("I!", fmt.Sprintf(f, a...)) }
func (l *testLog) Info(a ...interface{})             { l.add("I!", fmt.Sprint(a...)) }
func (l *testLog) Debugf(f string, a ...interface{}) { l.add("D!", fmt.Sprintf(f, a...)) }
func (l *testLog) Debug(a ...interface{})            { l.add("D!", fmt.Sprint(a...)) }
func (l *testLog) Tracef(f string, a ...interface{}) { l.add("T!", fmt.Sprintf(f, a...)) }
func (l *testLog) Trace(a ...interface{})            { l.add("T!", fmt.Sprint(a...)) }
func (l *testLog) contains(s string) bool            { return strings.Contains(l.text(), s) }
func (l *testLog) leaked(secret string) bool         { return l.contains(secret) }

// maker is the agent's view of the plugin: it passes metrics through.
type maker struct{ log telegraf.Logger }

func (maker) LogName() string                              { return "inputs.auditpull" }
func (maker) MakeMetric(m telegraf.Metric) telegraf.Metric { return m }
func (m maker) Log() telegraf.Logger                       { return m.log }

// fixture is a simulated NordPass organization behind an httptest server.
type fixture struct{ *testkit.Org }

func newFixture(t *testing.T, count int) *fixture {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	return &fixture{testkit.NewOrg(t, sim.NordPassConfig{Seed: 7, Count: count, From: now.Add(-48 * time.Hour), To: now.Add(-2 * time.Hour), RateLimit: -1}, testToken)}
}

func (f *fixture) plugin(t *testing.T, dir string) (*AuditPull, *testLog) {
	t.Helper()
	a := New()
	a.Source = "nordpass"
	a.InitialLookback = config.Duration(72 * time.Hour)
	a.PollInterval = config.Duration(200 * time.Millisecond)
	a.PageSize = 50
	a.SettleDelay = 0 // events added during a test are read at once
	a.StatsInterval = 0
	a.ShutdownTimeout = config.Duration(2 * time.Second)
	a.Checkpoint.Path = dir
	a.NordPass = &NordPassOptions{BaseURL: f.Base, Token: config.NewSecret([]byte(testToken))}
	l := &testLog{t: t}
	a.Log = l
	return a, l
}

// start initialises a and starts it delivering into s (a new sink when
// s is nil), failing the test if either step fails.
func start(t *testing.T, a *AuditPull, l *testLog, s *sink) *sink {
	t.Helper()
	if s == nil {
		s = newSink()
	}
	if err := a.Init(); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(s.acc(l)); err != nil {
		t.Fatal(err)
	}
	return s
}

// sink receives what the plugin emits and decides each metric's fate.
type sink struct {
	ch       chan telegraf.Metric
	mu       sync.Mutex
	accepted []string // messages of accepted event metrics
	received int      // event metrics seen, accepted or not
	stats    []telegraf.Metric
	events   []telegraf.Metric
	decide   func(m telegraf.Metric) bool // true: accept; nil: accept all
	hold     bool                         // keep event metrics undecided
	held     []telegraf.Metric
	done     chan struct{}
}

func newSink() *sink {
	s := &sink{ch: make(chan telegraf.Metric, 10000), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *sink) run() {
	defer close(s.done)
	for m := range s.ch {
		s.mu.Lock()
		if strings.HasSuffix(m.Name(), "_stats") {
			s.stats = append(s.stats, m)
			s.mu.Unlock()
			m.Accept()
			continue
		}
		s.received++
		s.events = append(s.events, m)
		if s.hold {
			s.held = append(s.held, m)
			s.mu.Unlock()
			continue
		}
		decide := s.decide
		s.mu.Unlock()
		if decide == nil || decide(m) {
			msg, _ := m.GetField("message")
			s.mu.Lock()
			s.accepted = append(s.accepted, msg.(string))
			s.mu.Unlock()
			m.Accept()
		} else {
			m.Reject()
		}
	}
}

func (s *sink) acc(l telegraf.Logger) telegraf.Accumulator {
	return agent.NewAccumulator(maker{l}, s.ch)
}

func (s *sink) acceptedSorted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.accepted)
	sort.Strings(out)
	return out
}

func (s *sink) counts() (received, accepted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received, len(s.accepted)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func checkpointFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCoreMapTranslatesTelegrafTypes(t *testing.T) {
	a := New()
	a.Source = "nordpass"
	a.InitialLookback = config.Duration(7 * 24 * time.Hour)
	a.Overlap = 0
	a.RateLimit.Enabled = false
	a.NordPass = &NordPassOptions{Token: config.NewSecret([]byte(testToken)), UserUUIDs: []string{uuidA, uuidB}}
	m, err := a.Options.coreMap()
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]any{
		"source":           "nordpass",
		"initial_lookback": "168h0m0s",
		"overlap":          "0s",
		"poll_interval":    "30s",
		"page_size":        0,
	}
	for k, v := range checks {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	for _, k := range []string{"stream", "start_time"} {
		if _, ok := m[k]; ok {
			t.Errorf("empty %s passed to the core; its default must apply", k)
		}
	}
	if rl := m["rate_limit"].(map[string]any); rl["enabled"] != false {
		t.Errorf("rate_limit.enabled = %#v", rl["enabled"])
	}
	np := m["nordpass"].(map[string]any)
	if np["token"] != testToken || !reflect.DeepEqual(np["user_uuids"], []any{uuidA, uuidB}) {
		t.Errorf("nordpass section = %v", np)
	}
	if _, ok := np["region"]; ok {
		t.Error("empty region passed; the source's default must apply")
	}
	if _, err := core.ParseMap(m); err != nil {
		t.Fatalf("core rejects the translated defaults: %v", err)
	}
}

func TestCoreMapKeepsDollarSigns(t *testing.T) {
	// Telegraf expanded ${VAR} already; the core must see the values as
	// they are, "$" included.
	for _, v := range []string{"ab$cd", "ab$$cd", "a${HOME}b", "a$}b", "end$", "}{$"} {
		a := New()
		a.Source = "nordpass"
		a.StartTime = "" // no string options besides the section's
		a.Checkpoint.Path = "/tmp/x" + v
		a.NordPass = &NordPassOptions{BaseURL: "https://example.com/" + v, Token: config.NewSecret([]byte("t"))}
		m, err := a.Options.coreMap()
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := core.ParseMap(m)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		got, _ := cfg.SourceSection().String("base_url", -1)
		if got != "https://example.com/"+v || cfg.Checkpoint.Path != "/tmp/x"+v {
			t.Errorf("%q reached the core as %q and %q", v, got, cfg.Checkpoint.Path)
		}
	}
}

func TestTokenWithDollarSignsReachesTheAPIUnchanged(t *testing.T) {
	f := newFixture(t, 20)
	tok := "np$$tok${HOME}x$"
	f.NP.AddToken(tok, sim.TokenValid)
	a, l := f.plugin(t, t.TempDir())
	a.NordPass.Token = config.NewSecret([]byte(tok))
	s := start(t, a, l, nil)
	want := f.Truth()
	waitFor(t, "every event", func() bool { _, n := s.counts(); return n >= len(want) })
	a.Stop()
}

func TestInitErrorNamesTheOption(t *testing.T) {
	valid := func() *AuditPull {
		a := New()
		a.Source = "nordpass"
		a.Checkpoint.Path = t.TempDir()
		a.NordPass = &NordPassOptions{Token: config.NewSecret([]byte(testToken))}
		return a
	}
	cases := []struct {
		name, key string
		mod       func(a *AuditPull)
	}{
		{"source is required", "source", func(a *AuditPull) { a.Source = "" }},
		{"unknown source", "source", func(a *AuditPull) { a.Source = "lastpass" }},
		{"token is required", "nordpass.token", func(a *AuditPull) { a.NordPass.Token = config.Secret{} }},
		{"token without Bearer", "nordpass.token", func(a *AuditPull) { a.NordPass.Token = config.NewSecret([]byte("Bearer " + testToken)) }},
		{"unreadable token file", "nordpass.token", func(a *AuditPull) { a.NordPass.Token = config.NewSecret([]byte("file:/nonexistent/token")) }},
		{"unknown region", "nordpass.region", func(a *AuditPull) { a.NordPass.Region = "asia" }},
		{"plain http to a remote host", "nordpass.base_url", func(a *AuditPull) { a.NordPass.BaseURL = "http://api.example.com" }},
		{"user uuid", "nordpass.user_uuids.0", func(a *AuditPull) { a.NordPass.UserUUIDs = []string{"me"} }},
		{"page size above the vendor's limit", "page_size", func(a *AuditPull) { a.PageSize = 500 }},
		{"window above the vendor's limit", "max_window", func(a *AuditPull) { a.MaxWindow = config.Duration(100 * 24 * time.Hour) }},
		{"poll interval zero", "poll_interval", func(a *AuditPull) { a.PollInterval = 0 }},
		{"negative overlap", "overlap", func(a *AuditPull) { a.Overlap = config.Duration(-time.Minute) }},
		{"bad start time", "start_time", func(a *AuditPull) { a.StartTime = "yesterday" }},
		{"no pages in flight", "max_undelivered_pages", func(a *AuditPull) { a.MaxUndeliveredPages = 0 }},
		{"retry attempts", "retry.max_attempts", func(a *AuditPull) { a.Retry.MaxAttempts = 0 }},
		{"backoff order", "retry.max_backoff", func(a *AuditPull) { a.Retry.MaxBackoff = config.Duration(time.Millisecond) }},
		{"rate limit period", "rate_limit.period", func(a *AuditPull) { a.RateLimit.Requests = 10 }},
		{"checkpoint type", "checkpoint.type", func(a *AuditPull) { a.Checkpoint.Type = "redis" }},
		{"client cert without key", "http.cert_file", func(a *AuditPull) { a.HTTP.CertFile = "/x.pem" }},
		{"measurement", "measurement", func(a *AuditPull) { a.Measurement = "" }},
		{"stats interval", "stats_interval", func(a *AuditPull) { a.StatsInterval = config.Duration(-time.Second) }},
		{"shutdown timeout", "shutdown_timeout", func(a *AuditPull) { a.ShutdownTimeout = config.Duration(-time.Second) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := valid()
			c.mod(a)
			err := a.Init()
			if err == nil {
				t.Fatal("Init accepted the configuration")
			}
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Key != c.key {
				t.Errorf("error does not name %q: %v", c.key, err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error reveals the token: %v", err)
			}
		})
	}
	t.Run("valid configuration", func(t *testing.T) {
		if err := valid().Init(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDeliversEveryEventOnceAndResumesFromTheCheckpoint(t *testing.T) {
	f := newFixture(t, 730)
	dir := t.TempDir()
	a, l := f.plugin(t, dir)
	s := start(t, a, l, nil)
	want := f.Truth()
	waitFor(t, "every event", func() bool { _, n := s.counts(); return n >= len(want) })
	a.Stop()
	if got := s.acceptedSorted(); !slices.Equal(got, want) {
		t.Fatalf("delivered %d events, want the %d the API holds (exact multiset)", len(got), len(want))
	}
	if len(checkpointFiles(t, dir)) != 1 {
		t.Fatalf("want one checkpoint file, have %v", checkpointFiles(t, dir))
	}

	// The metric's shape.
	m := s.events[0]
	if m.Name() != "auditpull" {
		t.Errorf("measurement %q", m.Name())
	}
	for _, tag := range []string{"source", "stream", "event_type", "event_action"} {
		if !m.HasTag(tag) {
			t.Errorf("tag %s missing: %v", tag, m.TagList())
		}
	}
	for _, field := range []string{"event_id", "message", "user_uuid", "user_email"} {
		if !m.HasField(field) {
			t.Errorf("field %s missing: %v", field, m.FieldList())
		}
	}
	if src, _ := m.GetTag("source"); src != "nordpass" {
		t.Errorf("source tag %q", src)
	}
	if m.Time().Before(f.Start) || !m.Time().Before(f.End) {
		t.Errorf("metric time %v is not the event time", m.Time())
	}

	// A restart resumes from the checkpoint: nothing is delivered twice, and
	// an event that arrived meanwhile is delivered once.
	fresh := f.NP.AddEvent(time.Now(), time.Time{}, "item", "item_created", 3)
	a2, l2 := f.plugin(t, dir)
	s2 := start(t, a2, l2, nil)
	waitFor(t, "the new event", func() bool { _, n := s2.counts(); return n >= 1 })
	time.Sleep(600 * time.Millisecond) // a few more polls
	a2.Stop()
	if got := s2.acceptedSorted(); len(got) != 1 || got[0] != string(fresh.JSON) {
		t.Fatalf("after restart delivered %d events, want only the new one", len(got))
	}
	if l.leaked(testToken) || l2.leaked(testToken) {
		t.Fatal("the token appears in the log")
	}
}

func TestAtMostMaxUndeliveredPagesInFlight(t *testing.T) {
	f := newFixture(t, 400)
	a, l := f.plugin(t, t.TempDir())
	a.PageSize = 10
	a.MaxUndeliveredPages = 3
	a.ShutdownTimeout = 0
	s := newSink()
	s.hold = true
	start(t, a, l, s)
	waitFor(t, "three pages", func() bool { n, _ := s.counts(); return n >= 30 })
	time.Sleep(500 * time.Millisecond)
	if n, _ := s.counts(); n != 30 {
		t.Fatalf("%d events handed to Telegraf with 3 pages of 10 undelivered; want 30", n)
	}
	// Delivering the held pages lets the rest flow.
	s.mu.Lock()
	held := s.held
	s.held, s.hold = nil, false
	s.mu.Unlock()
	for _, m := range held {
		msg, _ := m.GetField("message")
		s.mu.Lock()
		s.accepted = append(s.accepted, msg.(string))
		s.mu.Unlock()
		m.Accept()
	}
	want := f.Truth()
	waitFor(t, "every event", func() bool { _, n := s.counts(); return n >= len(want) })
	a.Stop()
	if got := s.acceptedSorted(); !slices.Equal(got, want) {
		t.Fatalf("delivered %d events, want %d", len(got), len(want))
	}
}

func TestRejectedPageIsSentAgainAndNothingIsLost(t *testing.T) {
	f := newFixture(t, 300)
	dir := t.TempDir()
	a, l := f.plugin(t, dir)
	s := newSink()
	var mu sync.Mutex
	rejected := 0
	s.decide = func(telegraf.Metric) bool {
		mu.Lock()
		defer mu.Unlock()
		if rejected < 50 { // the whole first page
			rejected++
			return false
		}
		return true
	}
	start(t, a, l, s)
	want := f.Truth()
	waitFor(t, "every event", func() bool { _, n := s.counts(); return n >= len(want) })
	a.Stop()
	if got := s.acceptedSorted(); !slices.Equal(got, want) {
		t.Fatalf("accepted %d events, want each of the %d exactly once", len(got), len(want))
	}
	if n, _ := s.counts(); n != len(want)+50 {
		t.Fatalf("%d events sent, want %d (+50 for the rejected page)", n, len(want))
	}
	if !l.contains("rejected or dropped by an output") {
		t.Error("the rejection was not logged")
	}
}

func TestUndeliveredPagesAreReadAgainAfterRestart(t *testing.T) {
	f := newFixture(t, 300)
	dir := t.TempDir()
	a, l := f.plugin(t, dir)
	a.ShutdownTimeout = config.Duration(200 * time.Millisecond)
	s := newSink()
	s.hold = true // the outputs never report delivery
	start(t, a, l, s)
	waitFor(t, "pages in flight", func() bool { n, _ := s.counts(); return n >= 100 })
	a.Stop()
	if !l.contains("not yet delivered") {
		t.Error("stopping with undelivered pages was not reported")
	}
	if files := checkpointFiles(t, dir); len(files) != 0 {
		t.Fatalf("checkpoint written although nothing was delivered: %v", files)
	}

	a2, l2 := f.plugin(t, dir)
	s2 := start(t, a2, l2, nil)
	want := f.Truth()
	waitFor(t, "every event", func() bool { _, n := s2.counts(); return n >= len(want) })
	a2.Stop()
	if got := s2.acceptedSorted(); !slices.Equal(got, want) {
		t.Fatalf("re-read %d events, want %d", len(got), len(want))
	}
}

func TestStopWaitsForPagesInFlight(t *testing.T) {
	f := newFixture(t, 120)
	dir := t.TempDir()
	a, l := f.plugin(t, dir)
	a.ShutdownTimeout = config.Duration(10 * time.Second)
	s := newSink()
	s.hold = true
	start(t, a, l, s)
	want := f.Truth()
	waitFor(t, "every event in flight", func() bool { n, _ := s.counts(); return n >= len(want) })
	// The outputs deliver while the input is stopping.
	go func() {
		time.Sleep(300 * time.Millisecond)
		s.mu.Lock()
		held := s.held
		s.mu.Unlock()
		for _, m := range held {
			m.Accept()
		}
	}()
	began := time.Now()
	a.Stop()
	if d := time.Since(began); d < 250*time.Millisecond || d > 5*time.Second {
		t.Fatalf("Stop returned after %s; want it to wait for the deliveries only", d)
	}
	if len(checkpointFiles(t, dir)) != 1 {
		t.Fatal("the delivered pages were not checkpointed on stop")
	}
	// Nothing is left to read.
	a2, l2 := f.plugin(t, dir)
	s2 := start(t, a2, l2, nil)
	time.Sleep(800 * time.Millisecond)
	a2.Stop()
	if n, _ := s2.counts(); n != 0 {
		t.Fatalf("%d events delivered again after a clean stop", n)
	}
}

// Telegraf's outputs flush for the last time only after the inputs have
// stopped: what they hold when Stop waits is written only if Stop can ask
// for a flush, and a stop that cannot says what to change.
func TestStopAsksTheOutputsToFlushThePagesTheyHold(t *testing.T) {
	for _, tc := range []struct {
		name       string
		flusher    bool
		failing    bool // the outputs never write, flushed or not
		saved      bool
		warning    []string
		maxFlushes int
	}{
		{name: "a flush writes them", flusher: true, saved: true, maxFlushes: 3},
		{name: "no flusher", warning: []string{"flush_interval + flush_jitter", "shutdown_timeout"}},
		{name: "a failing output", flusher: true, failing: true, warning: []string{"after asking them to flush"}, maxFlushes: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 120)
			dir := t.TempDir()
			a, l := f.plugin(t, dir)
			a.ShutdownTimeout = config.Duration(2 * time.Second)
			s := newSink()
			s.hold = true // written only when flushed
			var flushes atomic.Int32
			if tc.flusher {
				a.SetOutputFlusher(func() {
					flushes.Add(1)
					if tc.failing {
						return
					}
					s.mu.Lock()
					held := s.held
					s.held = nil
					s.mu.Unlock()
					for _, m := range held {
						m.Accept()
					}
				})
			}
			start(t, a, l, s)
			waitFor(t, "every event in flight", func() bool { n, _ := s.counts(); return n >= len(f.Truth()) })
			a.Stop()

			if saved := len(checkpointFiles(t, dir)) == 1; saved != tc.saved {
				t.Errorf("checkpoint saved: %v; want %v", saved, tc.saved)
			}
			for _, w := range tc.warning {
				if !l.contains(w) {
					t.Errorf("the log does not say %q:\n%s", w, l.text())
				}
			}
			if len(tc.warning) == 0 && l.contains("not yet delivered") {
				t.Errorf("warned although every page was delivered:\n%s", l.text())
			}
			if n := int(flushes.Load()); tc.flusher && (n < 1 || n > tc.maxFlushes) {
				t.Errorf("asked for %d flushes; want 1 to %d", n, tc.maxFlushes)
			}
		})
	}
}

func TestDryRunNeverMovesTheCheckpoint(t *testing.T) {
	f := newFixture(t, 200)
	dir := t.TempDir()

	// A dry run from scratch writes nothing, even over empty windows.
	d, l := f.plugin(t, dir)
	d.SetDryRun(true)
	s := newSink()
	s.decide = func(telegraf.Metric) bool { return false } // as telegraf --test does
	start(t, d, l, s)
	waitFor(t, "the dry run's pages", func() bool { n, _ := s.counts(); return n >= 50 })
	time.Sleep(300 * time.Millisecond)
	d.Stop()
	if files := checkpointFiles(t, dir); len(files) != 0 {
		t.Fatalf("dry run wrote %v", files)
	}
	if n, _ := s.counts(); n > 16*50 {
		t.Fatalf("dry run sent %d events: rejected pages were re-sent", n)
	}

	// A real run, then a dry run that sees a new event: the file is untouched.
	a, l2 := f.plugin(t, dir)
	s2 := start(t, a, l2, nil)
	want := f.Truth()
	waitFor(t, "every event", func() bool { _, n := s2.counts(); return n >= len(want) })
	a.Stop()
	files := checkpointFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("checkpoint files %v", files)
	}
	before, _ := os.ReadFile(files[0])

	fresh := f.NP.AddEvent(time.Now(), time.Time{}, "item", "item_deleted", 1)
	d2, l3 := f.plugin(t, dir)
	d2.SetDryRun(true)
	d2.ShutdownTimeout = config.Duration(5 * time.Second)
	s3 := newSink()
	s3.decide = func(telegraf.Metric) bool { return false }
	start(t, d2, l3, s3)
	waitFor(t, "the new event in the dry run", func() bool { n, _ := s3.counts(); return n >= 1 })
	time.Sleep(600 * time.Millisecond)
	d2.Stop()
	after, _ := os.ReadFile(files[0])
	if !bytes.Equal(before, after) {
		t.Fatal("the dry run changed the checkpoint")
	}
	msg, _ := s3.events[0].GetField("message")
	if msg != string(fresh.JSON) {
		t.Fatalf("dry run showed %v, want the new event", msg)
	}
}

// A dry run may be allowed to read the checkpoint directory only: it
// creates and writes nothing there, and still names what a bad checkpoint
// leaves to roll back to.
func TestDryRunOnlyReadsTheCheckpointDirectory(t *testing.T) {
	f := newFixture(t, 60)
	for _, tc := range []struct {
		name     string
		setup    func(t *testing.T, dir string)
		startErr []string // "" : Start succeeds and the events are shown
	}{
		{name: "a missing directory stays missing", setup: func(*testing.T, string) {}},
		{name: "a corrupt checkpoint names its fallback", startErr: []string{"audit.json", "audit.json.prev"},
			setup: func(t *testing.T, dir string) {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "audit.json"), []byte("{not json"), 0o600); err != nil {
					t.Fatal(err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			tc.setup(t, dir)
			before, _ := os.Stat(dir)
			d, l := f.plugin(t, dir)
			d.Stream = "audit"
			d.SetDryRun(true)
			if err := d.Init(); err != nil {
				t.Fatal(err)
			}
			s := newSink()
			s.decide = func(telegraf.Metric) bool { return false } // as telegraf --test does
			err := d.Start(s.acc(l))
			if len(tc.startErr) > 0 {
				if err == nil {
					d.Stop()
					t.Fatal("the dry run started over a corrupt checkpoint")
				}
				for _, w := range tc.startErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Start: %v; want it to name %s", err, w)
					}
				}
			} else {
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
				waitFor(t, "the dry run's events", func() bool { n, _ := s.counts(); return n >= len(f.Truth()) })
				d.Stop()
			}
			after, err := os.Stat(dir)
			switch {
			case before == nil && err == nil:
				t.Fatal("the dry run created the checkpoint directory")
			case before != nil && !after.ModTime().Equal(before.ModTime()):
				t.Fatal("the dry run wrote in the checkpoint directory")
			}
		})
	}
}

func TestStatisticsMeasurement(t *testing.T) {
	f := newFixture(t, 100)
	a, l := f.plugin(t, t.TempDir())
	a.StatsInterval = config.Duration(100 * time.Millisecond)
	s := start(t, a, l, nil)
	want := len(f.Truth())
	waitFor(t, "statistics counting every event read and confirmed", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.stats) == 0 {
			return false
		}
		read, _ := s.stats[len(s.stats)-1].GetField("events")
		acked, _ := s.stats[len(s.stats)-1].GetField("events_acked")
		return read == int64(want) && acked == int64(want)
	})
	a.Stop()
	s.mu.Lock()
	m := s.stats[len(s.stats)-1]
	s.mu.Unlock()
	if m.Name() != "auditpull_stats" {
		t.Errorf("statistics measurement %q", m.Name())
	}
	for _, name := range append(slices.Clone(core.MetricNames), "pages_in_flight") {
		if !m.HasField(name) {
			t.Errorf("statistics lack %s", name)
		}
	}
	if src, _ := m.GetTag("source"); src != "nordpass" {
		t.Errorf("statistics source tag %q", src)
	}
	if req, _ := m.GetField("requests"); req.(int64) < 2 {
		t.Errorf("requests = %v", req)
	}
	// One publication only: not the measurement and selfstat counters both.
	for _, sm := range selfstat.Metrics() {
		if sm.Name() == "internal_"+Name {
			t.Errorf("statistics registered with selfstat too: %v", sm)
		}
	}
}

func TestRefusedTokenStopsPollingWithAClearError(t *testing.T) {
	f := newFixture(t, 10)
	f.NP.SetTokenState(testToken, sim.TokenExpired)
	a, l := f.plugin(t, t.TempDir())
	start(t, a, l, nil)
	waitFor(t, "the error", func() bool { return l.contains("polling stopped") })
	requests := f.NP.Requests()
	time.Sleep(500 * time.Millisecond)
	a.Stop()
	if f.NP.Requests() != requests {
		t.Error("polling went on after a refused token")
	}
	if !l.contains("authentication failed") {
		t.Errorf("the vendor's reason is not reported:\n%s", l.text())
	}
	if l.leaked(testToken) {
		t.Fatal("the token appears in the log")
	}
}

func TestSampleConfigIsEmbeddedInTheCodeAndTheREADME(t *testing.T) {
	sample := New().SampleConfig()
	if !strings.Contains(sample, "[[inputs.auditpull]]") {
		t.Fatal("sample.conf not embedded")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```toml @sample.conf\n"+sample+"```") {
		t.Fatal("README.md does not embed the current sample.conf")
	}
}

func TestQualtricsStreamsAreTaggedPerActivityType(t *testing.T) {
	now := time.Now().UTC()
	q := sim.NewQualtrics(sim.QualtricsConfig{Seed: 3, Count: 400, From: now.Add(-30 * time.Hour), To: now.Add(-time.Hour)})
	q.AddAPIToken(testToken)
	srv := httptest.NewServer(sim.NewServer().Mount(sim.QualtricsPrefix, q))
	defer srv.Close()

	a, l := qualtricsPlugin(t, srv.URL)
	a.InitialLookback = config.Duration(48 * time.Hour)
	a.PollInterval = config.Duration(200 * time.Millisecond)
	s := start(t, a, l, nil)
	var want []string
	for _, r := range q.Truth(now.Add(-48*time.Hour), now) {
		want = append(want, string(r))
	}
	sort.Strings(want)
	waitFor(t, "every event", func() bool { _, n := s.counts(); return n >= len(want) })
	a.Stop()
	if got := s.acceptedSorted(); !slices.Equal(got, want) {
		t.Fatalf("delivered %d events, want %d", len(got), len(want))
	}
	streams := map[string]bool{}
	for _, m := range s.events {
		stream, _ := m.GetTag("stream")
		typ, _ := m.GetTag("event_type")
		if src, _ := m.GetTag("source"); src != "qualtrics" || typ == "" || !strings.Contains(stream, typ) {
			t.Fatalf("tags %v", m.Tags())
		}
		streams[stream] = true
	}
	if len(streams) < 2 {
		t.Fatalf("events came from %d stream(s); want one per activity type", len(streams))
	}
}

// Qualtrics with activity_types "all" lists the types before it knows its
// streams; while that listing fails the plugin starts anyway (DeferOpen).
// Once the streams are listed, the statistics measurement carries them.
func TestStatisticsTakeTheStreamsListedAfterADeferredOpen(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	q := sim.NewQualtrics(sim.QualtricsConfig{Seed: 3, Count: 60, From: now.Add(-6 * time.Hour), To: now.Add(-time.Hour), ActivityTypes: []string{"login", "logout"}})
	q.AddAPIToken(testToken)
	inner := sim.NewServer().Mount(sim.QualtricsPrefix, q)
	var listed atomic.Bool // the type list fails until the test sets it
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/logs/activitytypes") && !listed.Load() {
			http.Error(w, `{"meta":{"httpStatus":"503 - Service Unavailable"}}`, http.StatusServiceUnavailable)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	a, l := qualtricsPlugin(t, srv.URL)
	a.InitialLookback = config.Duration(12 * time.Hour)
	a.StatsInterval = config.Duration(50 * time.Millisecond)
	a.ShutdownTimeout = config.Duration(2 * time.Second)
	a.RequestTimeout = config.Duration(300 * time.Millisecond)
	a.Retry = RetryOptions{MaxAttempts: 2, InitialBackoff: config.Duration(20 * time.Millisecond), MaxBackoff: config.Duration(100 * time.Millisecond)}
	s := start(t, a, l, nil) // even while the type list fails
	defer a.Stop()

	streamTag := func() string {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.stats) == 0 {
			return ""
		}
		v, _ := s.stats[len(s.stats)-1].GetTag("stream")
		return v
	}
	waitFor(t, "statistics while the types cannot be listed", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.stats) > 0
	})
	if got := streamTag(); got != "" {
		t.Fatalf("stream tag %q before any stream was listed", got)
	}
	listed.Store(true)
	waitFor(t, "statistics tagged with the listed streams", func() bool { return streamTag() != "" })
	if got := streamTag(); !strings.Contains(got, "login") || !strings.Contains(got, "logout") {
		t.Fatalf("statistics stream tag %q; want both activity types' streams", got)
	}
}

// qualtricsPlugin is the plugin reading every activity type of the
// simulated brand served at srvURL, with a fresh checkpoint directory.
func qualtricsPlugin(t *testing.T, srvURL string) (*AuditPull, *testLog) {
	t.Helper()
	a := New()
	a.Source = "qualtrics"
	a.SettleDelay = 0
	a.StatsInterval = 0
	a.Checkpoint.Path = t.TempDir()
	a.Qualtrics = &QualtricsOptions{BaseURL: srvURL + sim.QualtricsPrefix + sim.QualtricsAPIPath,
		APIToken: config.NewSecret([]byte(testToken)), ActivityTypes: []string{"all"}}
	l := &testLog{t: t}
	a.Log = l
	return a, l
}

// Two inputs of one account (one per output, routed with tags; a service
// and a --once cron job) would share one checkpoint, each moving it past
// pages only the other had delivered. The second is refused at Start,
// naming the checkpoint and the fix, until the first has stopped.
func TestASecondInputOfTheSameStreamIsRefusedAtStart(t *testing.T) {
	f := newFixture(t, 30)
	dir := t.TempDir()
	a, la := f.plugin(t, dir)
	sa := start(t, a, la, nil)
	b, lb := f.plugin(t, dir)
	if err := b.Init(); err != nil {
		t.Fatal(err)
	}
	err := b.Start(newSink().acc(lb))
	if err == nil || !strings.Contains(err.Error(), "in use by another input") || !strings.Contains(err.Error(), dir) {
		b.Stop()
		t.Fatalf("the second input started: %v", err)
	}
	waitFor(t, "the first input to deliver", func() bool { _, n := sa.counts(); return n >= len(f.Truth()) })
	a.Stop()
	again, l := f.plugin(t, dir)
	start(t, again, l, nil)
	again.Stop()
}
