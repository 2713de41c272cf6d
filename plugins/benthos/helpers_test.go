package benthos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core/checkpoint"
	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/test/sim"
)

// testToken is what the simulator accepts; tests check that it never shows
// up in logs.
const testToken = "tok-8c1f0b2e-never-logged"

// simEnv is a simulated NordPass organisation whose whole history is
// settled, so one complete read must deliver exactly Truth.
type simEnv struct {
	np    *sim.NordPass
	srv   *countingServer
	start time.Time
	truth [][]byte
}

func startSim(t *testing.T, count int, seed int64) *simEnv {
	t.Helper()
	now := time.Now()
	from := now.Add(-48 * time.Hour).Truncate(time.Second)
	np := sim.NewNordPass(sim.NordPassConfig{
		Seed: seed, Count: count, From: from, To: now.Add(-30 * time.Second), RateLimit: -1,
	})
	np.AddToken(testToken, sim.TokenValid)
	e := &simEnv{np: np, start: from.Add(-time.Hour), truth: np.Truth(from.Add(-time.Hour), now)}
	e.srv = newCountingServer(t, np)
	if len(e.truth) != count {
		t.Fatalf("simulator holds %d visible events, want %d", len(e.truth), count)
	}
	return e
}

// countingServer serves the simulator and remembers when it was asked, so a
// test can tell which Benthos process polled and when.
type countingServer struct {
	*httptest.Server
	mu          sync.Mutex
	n           int
	first, last time.Time
	times       []time.Time
}

func newCountingServer(t *testing.T, np *sim.NordPass) *countingServer {
	return newCountingServerFor(t, sim.NewServer().Mount(sim.NordPassPrefix, np))
}

// newCountingServerFor serves h, counting its requests.
func newCountingServerFor(t testing.TB, h http.Handler) *countingServer {
	cs := &countingServer{}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		cs.mu.Lock()
		if cs.n == 0 {
			cs.first = now
		}
		cs.n++
		cs.last = now
		cs.times = append(cs.times, now)
		cs.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(cs.Close)
	return cs
}

func (cs *countingServer) requests() (n int, first, last time.Time) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.n, cs.first, cs.last
}

// requestsBetween counts the requests received in [from, to].
func (cs *countingServer) requestsBetween(from, to time.Time) int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	n := 0
	for _, t := range cs.times {
		if !t.Before(from) && !t.After(to) {
			n++
		}
	}
	return n
}

func (cs *countingServer) baseURL() string { return cs.URL + sim.NordPassPrefix }

// inputConf is the auditpull input config used by most tests; extra lines
// are appended inside the input (indented by four spaces).
func inputConf(baseURL string, start time.Time, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `auditpull:
    source: nordpass
    start_time: %s
    poll_interval: 1s
    settle_delay: 5s
    page_size: 50
    nordpass:
      base_url: %s
      token: %s
`, start.UTC().Format(time.RFC3339), baseURL, testToken)
	for _, l := range extra {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

// bag is a multiset of raw events.
type bag map[string]int

func bagOf(raws [][]byte) bag {
	b := bag{}
	for _, r := range raws {
		b[string(r)]++
	}
	return b
}

func (b bag) add(o bag) bag {
	out := bag{}
	for k, v := range b {
		out[k] += v
	}
	for k, v := range o {
		out[k] += v
	}
	return out
}

func (b bag) size() int {
	n := 0
	for _, v := range b {
		n += v
	}
	return n
}

// requireSameBag fails with the differences when got is not exactly want.
func requireSameBag(t *testing.T, what string, got, want bag) {
	t.Helper()
	var missing, extra []string
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	for k := range keys {
		switch d := got[k] - want[k]; {
		case d < 0:
			missing = append(missing, fmt.Sprintf("%dx %.120s", -d, k))
		case d > 0:
			extra = append(extra, fmt.Sprintf("%dx %.120s", d, k))
		}
	}
	if len(missing)+len(extra) == 0 {
		return
	}
	sort.Strings(missing)
	sort.Strings(extra)
	t.Fatalf("%s: got %d events, want %d; %d missing, %d unexpected\nmissing: %s\nunexpected: %s", what,
		got.size(), want.size(), len(missing), len(extra), head(missing), head(extra))
}

func head(v []string) string {
	if len(v) > 5 {
		v = append(v[:5:5], "…")
	}
	return strings.Join(v, "\n  ")
}

// collector is a Benthos output that records what it acknowledges and lets
// a test decide the fate of each batch: decide returns nil to ack, an error
// to nack, or blocks to hold the batch.
type collector struct {
	decide func(ctx context.Context, call int, b batchInfo) error
	delay  time.Duration
	policy service.BatchPolicy // the output's batching

	mu      sync.Mutex
	calls   int
	acked   bag
	batches []batchInfo // acknowledged, in order of acknowledgement
	seen    []batchInfo // every write, in order of arrival
}

type batchInfo struct {
	raws  [][]byte
	metas []map[string]string
}

func (b batchInfo) bag() bag { return bagOf(b.raws) }

func newCollector() *collector { return &collector{acked: bag{}} }

func (c *collector) Connect(context.Context) error { return nil }
func (c *collector) Close(context.Context) error   { return nil }

func (c *collector) WriteBatch(ctx context.Context, mb service.MessageBatch) error {
	bi := batchInfo{}
	for _, m := range mb {
		raw, err := m.AsBytes()
		if err != nil {
			return err
		}
		meta := map[string]string{}
		_ = m.MetaWalk(func(k, v string) error { meta[k] = v; return nil })
		bi.raws = append(bi.raws, append([]byte(nil), raw...))
		bi.metas = append(bi.metas, meta)
	}
	c.mu.Lock()
	c.calls++
	call := c.calls
	c.seen = append(c.seen, bi)
	c.mu.Unlock()
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	if c.decide != nil {
		if err := c.decide(ctx, call, bi); err != nil {
			return err
		}
	}
	c.mu.Lock()
	for _, r := range bi.raws {
		c.acked[string(r)]++
	}
	c.batches = append(c.batches, bi)
	c.mu.Unlock()
	return nil
}

func (c *collector) ackedBag() bag {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bag{}.add(c.acked)
}

func (c *collector) ackedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acked.size()
}

func (c *collector) ackedBatches() []batchInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]batchInfo(nil), c.batches...)
}

// metricsCapture is a Benthos metrics exporter that keeps the latest value
// of every auditpull_* metric, and which of them are gauges.
type metricsCapture struct {
	mu     sync.Mutex
	v      map[string]float64
	gauges map[string]bool
}

func (m *metricsCapture) isGauge(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gauges[name]
}

func (m *metricsCapture) get(name string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v[name]
}

type captureCounter struct {
	m    *metricsCapture
	name string
}

func (c captureCounter) Incr(n int64) {
	c.m.mu.Lock()
	c.m.v[c.name] += float64(n)
	c.m.mu.Unlock()
}

func (c captureCounter) Timing(int64) {}

func (c captureCounter) Set(v int64) { c.SetFloat64(float64(v)) }

func (c captureCounter) SetFloat64(v float64) {
	c.m.mu.Lock()
	c.m.v[c.name] = v
	c.m.mu.Unlock()
}

func (m *metricsCapture) NewCounterCtor(name string, _ ...string) service.MetricsExporterCounterCtor {
	return func(...string) service.MetricsExporterCounter { return captureCounter{m, name} }
}

func (m *metricsCapture) NewTimerCtor(name string, _ ...string) service.MetricsExporterTimerCtor {
	return func(...string) service.MetricsExporterTimer { return captureCounter{m, name} }
}

func (m *metricsCapture) NewGaugeCtor(name string, _ ...string) service.MetricsExporterGaugeCtor {
	m.mu.Lock()
	m.gauges[name] = true
	m.mu.Unlock()
	return func(...string) service.MetricsExporterGauge { return captureCounter{m, name} }
}

func (m *metricsCapture) Close(context.Context) error { return nil }

// run is one Benthos stream built with the StreamBuilder: the given input
// config, the collector as output, captured metrics and logs.
type run struct {
	t       *testing.T
	out     *collector
	metrics *metricsCapture
	logs    *testkit.SyncBuffer
	stream  *service.Stream
	done    chan error
	stopped atomic.Bool
}

func newTestEnv(t *testing.T, out *collector, m *metricsCapture) *service.Environment {
	t.Helper()
	env := service.NewEnvironment()
	err := env.RegisterBatchOutput("collect", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			return out, out.policy, 64, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	err = env.RegisterMetricsExporter("capture", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) { return m, nil })
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// startRun builds and starts a stream; resources is optional YAML of
// cache_resources and the like.
func startRun(t *testing.T, input, resources string, out *collector) *run {
	t.Helper()
	r := &run{t: t, out: out, metrics: &metricsCapture{v: map[string]float64{}, gauges: map[string]bool{}}, logs: &testkit.SyncBuffer{}, done: make(chan error, 1)}
	env := newTestEnv(t, out, r.metrics)
	b := env.NewStreamBuilder()
	b.SetLogger(slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err := b.SetMetricsYAML("capture: {}"); err != nil {
		t.Fatal(err)
	}
	if resources != "" {
		if err := b.AddResourcesYAML(resources); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.AddInputYAML(input); err != nil {
		t.Fatalf("input config rejected: %v\n%s", err, input)
	}
	if err := b.AddOutputYAML("collect: {}"); err != nil {
		t.Fatal(err)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	r.stream = s
	go func() { r.done <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		r.stop(5 * time.Second)
		if strings.Contains(r.logs.String(), testToken) {
			t.Errorf("the API token appears in the logs")
		}
		if t.Failed() {
			t.Logf("benthos logs:\n%s", r.logs.String())
		}
	})
	return r
}

// stop shuts the stream down gracefully, forcing it after timeout.
func (r *run) stop(timeout time.Duration) {
	if r.stopped.Swap(true) {
		return
	}
	_ = r.stream.StopWithin(timeout)
	select {
	case err := <-r.done:
		// Teardown: a stream that failed shows in what the test checked.
		if err != nil {
			r.t.Logf("stream ended: %v", err)
		}
	case <-time.After(timeout + 5*time.Second):
		r.t.Errorf("stream did not stop")
	}
}

// waitFor polls cond until it holds or the timeout passes.
var waitFor = testkit.WaitFor

// redisServer is a redis-server started for one test on a free loopback
// port, with persistence off.
type redisServer struct {
	addr string
}

func startRedis(t testing.TB) *redisServer {
	t.Helper()
	if !hasRedis {
		t.Skip("this build has no redis cache; the file cache runs the same tests")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server is required in CI (.ci/run installs it): %v", err)
		}
		t.Skip("redis-server is not installed (apt-get install redis-server); skipping the Redis checkpoint and lease tests")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	var logs testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ok := redisPing(addr); ok {
			break
		}
		select {
		case <-exited:
			t.Fatalf("redis-server exited: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not answer on %s: %s", addr, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &redisServer{addr: addr}
}

func redisPing(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	return err == nil && strings.HasPrefix(string(buf[:n]), "+PONG")
}

// redisCommand sends one command and returns the first line of the reply.
func redisCommand(t testing.TB, addr string, args ...string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(line)
}

// redisGet reads one key with the inline protocol: ("", false) when absent.
func redisGet(t testing.TB, addr, key string) (string, bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(c)
	hdr, err := rd.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	hdr = strings.TrimSpace(hdr)
	if hdr == "$-1" {
		return "", false
	}
	var n int
	if _, err := fmt.Sscanf(hdr, "$%d", &n); err != nil {
		t.Fatalf("unexpected redis reply %q", hdr)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(rd, buf); err != nil {
		t.Fatal(err)
	}
	return string(buf[:n]), true
}

var errNack = errors.New("test output rejects this batch")

// sharedCache is a cache resource labelled "state" that the streams of a
// test share, with its entries readable and writable from outside, as by
// another process.
type sharedCache struct {
	resources string // YAML: cache_resources
	get       func(t *testing.T, key string) (string, bool)
	set       func(t *testing.T, key, value string, ttl time.Duration)
}

// cacheKinds are the shared caches of this engine's build: the file cache
// everywhere, Redis where the build has it.
func cacheKinds() []string {
	if hasRedis {
		return []string{"file", "redis"}
	}
	return []string{"file"}
}

func newSharedCache(t testing.TB, kind string) sharedCache {
	t.Helper()
	if kind == "redis" {
		rs := startRedis(t)
		return sharedCache{
			resources: fmt.Sprintf("cache_resources:\n  - label: state\n    redis:\n      url: redis://%s\n", rs.addr),
			get:       func(t *testing.T, key string) (string, bool) { return redisGet(t, rs.addr, key) },
			set: func(t *testing.T, key, value string, ttl time.Duration) {
				if reply := redisCommand(t, rs.addr, "SET", key, value, "PX", fmt.Sprint(ttl.Milliseconds())); reply != "+OK" {
					t.Fatalf("SET: %s", reply)
				}
			},
		}
	}
	dir := t.TempDir()
	return sharedCache{
		resources: fmt.Sprintf("cache_resources:\n  - label: state\n    file:\n      directory: %s\n", dir),
		get: func(t *testing.T, key string) (string, bool) {
			b, err := os.ReadFile(filepath.Join(dir, key))
			if errors.Is(err, fs.ErrNotExist) {
				return "", false
			} else if err != nil {
				t.Fatal(err)
			}
			return string(b), true
		},
		// The file cache keeps no TTL: the lease entry's own expiry counts.
		set: func(t *testing.T, key, value string, _ time.Duration) {
			if err := os.WriteFile(filepath.Join(dir, key), []byte(value), 0o600); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// checkpointKey and leaseKey name a stream's entries in the cache, as the
// input writes them.
func checkpointKey(stream string) string {
	return checkpoint.KVSetup{Prefix: keyPrefix}.CheckpointKey(stream)
}

func leaseKey(stream string) string { return checkpoint.KVSetup{Prefix: keyPrefix}.LeaseKey(stream) }
