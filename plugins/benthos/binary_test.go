package benthos

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auditpull/auditpull/internal/testkit"
)

// These tests run the shipped build (buildPkg) as a user would: built here
// with `go build`, so they never depend on `make build`.

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// benthosBinary builds buildPkg once per test process.
func benthosBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the Benthos binary; skipped with -short")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "auditpull-benthos-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "benthos")
		// go test puts the toolchain that runs it first on PATH.
		gobin := "go"
		cmd := exec.Command(gobin, "build", "-o", binPath, buildPkg)
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build %s: %v\n%s", buildPkg, err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func examplesDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(examplesRel)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBinaryLintsTheExampleConfigs(t *testing.T) {
	bin := benthosBinary(t)
	files, err := filepath.Glob(filepath.Join(examplesDir(t), "*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("example configs: %v %v", files, err)
	}
	files = append(files, sharedExamples...)
	cmd := exec.Command(bin, append([]string{"lint"}, files...)...)
	cmd.Env = append(os.Environ(), "NORDPASS_TOKEN=placeholder-token", "OLOID_CLIENT_SECRET=placeholder-secret", "QUALTRICS_CLIENT_SECRET=placeholder-secret")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("benthos lint: %v\n%s", err, out)
	}

	t.Run("a bad value fails the lint, naming the field", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		conf := "input:\n  auditpull:\n    source: nordpass\n    nordpass:\n      region: mars\n      token: secret-value-1234\noutput:\n  stdout: {}\n"
		if err := os.WriteFile(bad, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "lint", bad).CombinedOutput()
		if err == nil {
			t.Fatalf("lint accepted the bad config:\n%s", out)
		}
		if !strings.Contains(string(out), "nordpass.region") || strings.Contains(string(out), "secret-value-1234") {
			t.Fatalf("lint output should name nordpass.region and hide the token:\n%s", out)
		}
	})
	t.Run("the input is listed with its documentation", func(t *testing.T) {
		out, err := exec.Command(bin, "list", "inputs").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "auditpull") {
			t.Fatalf("benthos list inputs: %v\n%s", err, out)
		}
		out, err = exec.Command(bin, "create", "auditpull").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "poll_interval: 30s") {
			t.Fatalf("benthos create auditpull: %v\n%s", err, out)
		}
	})
}

// proc is a Benthos process whose stdout (one event per line) is collected.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  [][]byte
	times  []time.Time // when each line arrived
	stderr testkit.SyncBuffer
	exited chan struct{}
}

func startBinary(t testing.TB, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, append([]byte(nil), sc.Bytes()...))
			p.times = append(p.times, time.Now())
			p.mu.Unlock()
		}
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("benthos stderr:\n%s", p.stderr.String())
		}
		if strings.Contains(p.stderr.String(), testToken) {
			t.Errorf("the API token appears in the Benthos logs")
		}
	})
	return p
}

// waitFor is the package's waitFor, failing at once if the process exits.
func (p *proc) waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	waitFor(t, timeout, what, func() bool {
		select {
		case <-p.exited:
			t.Fatalf("benthos exited (%v) while waiting for %s", p.cmd.ProcessState, what)
		default:
		}
		return cond()
	})
}

func (p *proc) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// snapshot is a copy of the lines printed so far.
func (p *proc) snapshot() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.lines...)
}

func (p *proc) bag() bag {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bagOf(p.lines)
}

// terminate stops the process like an operator would (SIGTERM) and
// requires a clean exit.
func (p *proc) terminate(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("benthos did not stop after SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("benthos exited with %d:\n%s", code, p.stderr.String())
	}
}

func TestBinaryRunsTheDemoConfigAndResumes(t *testing.T) {
	bin := benthosBinary(t)
	s := startSim(t, 700, 7)
	state := t.TempDir()
	env := []string{
		"AUDITPULL_SIM_URL=" + s.srv.baseURL(),
		"AUDITPULL_DEMO_TOKEN=" + testToken,
		"AUDITPULL_STATE_DIR=" + state,
	}
	conf := filepath.Join(examplesDir(t), "demo.yaml")

	first := startBinary(t, bin, env, "-c", conf)
	first.waitFor(t, 60*time.Second, "the demo to print every event", func() bool { return first.count() >= len(s.truth) })
	time.Sleep(3 * time.Second) // a poll or two more: nothing new, nothing twice
	first.terminate(t)
	requireSameBag(t, "first run", first.bag(), bagOf(s.truth))
	if !strings.Contains(first.stderr.String(), "no checkpoint: starting fresh") {
		t.Errorf("core logs missing from Benthos' log")
	}

	// New activity while Benthos was down.
	now := time.Now()
	added := [][]byte{s.np.AddRandom(now).JSON, s.np.AddRandom(now).JSON}

	second := startBinary(t, bin, env, "-c", conf)
	second.waitFor(t, 30*time.Second, "the new events", func() bool { return second.count() >= len(added) })
	time.Sleep(3 * time.Second)
	second.terminate(t)
	requireSameBag(t, "second run (resumed)", second.bag(), bagOf(added))
	if !strings.Contains(second.stderr.String(), "resuming from checkpoint") {
		t.Errorf("second run did not resume from the checkpoint")
	}
}

func TestBinaryReplicaTakesOverWhenTheReaderDies(t *testing.T) {
	bin := benthosBinary(t)
	kind := "file"
	if hasRedis {
		kind = "redis"
	}
	cache := newSharedCache(t, kind)
	s := startSim(t, 4000, 8)
	dir := t.TempDir()
	conf := filepath.Join(dir, "replica.yaml")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`http:
  enabled: false
input:
  auditpull:
    source: nordpass
    stream: replicated
    start_time: %s
    poll_interval: 1s
    settle_delay: 5s
    page_size: 20
    max_undelivered_pages: 2
    nordpass:
      base_url: %s
      token: ${TEST_NORDPASS_TOKEN}
    checkpoint:
      cache: state
      lease_ttl: 2s
%s
pipeline:
  processors:
    - sleep: { duration: 1ms } # slow, so the reader dies part-way
output:
  stdout: {}
`, s.start.UTC().Format(time.RFC3339), s.srv.baseURL(), cache.resources)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"TEST_NORDPASS_TOKEN=" + testToken}

	a := startBinary(t, bin, env, "-c", conf)
	a.waitFor(t, 60*time.Second, "replica A to print events", func() bool { return a.count() >= 100 })
	b := startBinary(t, bin, env, "-c", conf)
	time.Sleep(1500 * time.Millisecond)
	if n := b.count(); n != 0 {
		t.Fatalf("replica B printed %d events while A held the lease", n)
	}

	// A dies without giving the lease back.
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.exited
	killed := time.Now()
	gotA := a.bag()
	if gotA.size() >= len(s.truth) {
		t.Fatal("replica A printed everything before it died; the test needs a take-over part-way")
	}

	b.waitFor(t, 30*time.Second, "replica B to take over", func() bool { return b.count() > 0 })
	takeover := time.Since(killed)
	// The lease (2s) expires at most 2s after A's last renewal (a cache
	// without TTLs, like the file cache, is replaced a TTL after that); B
	// checks it every third of a second, then reads a page.
	if takeover > 8*time.Second {
		t.Errorf("replica B took over %s after A died; want about the lease TTL (2s)", takeover)
	}

	// B takes over once the lease expires, from A's last checkpoint: every
	// event arrives, and only events A printed without having checkpointed
	// them yet (at most the pages in flight) arrive twice.
	truth := bagOf(s.truth)
	b.waitFor(t, 60*time.Second, "replica B to deliver the rest", func() bool {
		all := gotA.add(b.bag())
		for k, n := range truth {
			if all[k] < n {
				return false
			}
		}
		return true
	})
	caughtUp := time.Since(killed)
	time.Sleep(2 * time.Second)
	b.terminate(t)
	all := gotA.add(b.bag())
	twice := 0
	for k, n := range all {
		want := truth[k]
		if want == 0 {
			t.Fatalf("unexpected event %.120s", k)
		}
		twice += n - want
	}
	// Pages of 20, at most 2 unacknowledged plus what Benthos had in
	// flight: a bound well above that proves no wholesale re-read.
	if twice > 100 {
		t.Errorf("%d events delivered twice after the take-over; want only the in-flight pages", twice)
	}
	if !strings.Contains(b.stderr.String(), "took over the stream's lease") {
		t.Errorf("replica B did not report the take-over")
	}
	t.Logf("A printed %d events before it was killed; take-over %s and catch-up %s after the kill; %d of %d events delivered twice", gotA.size(), takeover.Round(time.Millisecond), caughtUp.Round(time.Millisecond), twice, len(s.truth))
}

// With -w, Benthos stops the pipeline when its config file changes and
// builds it again in the same process: the new input must read on from the
// checkpoint the stopped one saved, its file lock released.
func TestBinaryReloadingItsConfigMidBackfillReadsOnFromTheCheckpoint(t *testing.T) {
	bin := benthosBinary(t)
	s := startSim(t, 3000, 5)
	conf, state := filepath.Join(t.TempDir(), "reload.yaml"), t.TempDir()
	write := func(rev int) {
		// Ten pages of 50 a second: the backfill outlasts the reloads.
		c := fmt.Sprintf(`http:
  enabled: false
input:
  auditpull:
    source: nordpass
    stream: reload
    initial_lookback: 3d
    page_size: 50
    poll_interval: 300ms
    settle_delay: 0s
    rate_limit:
      requests: 10
      period: 1s
    checkpoint:
      path: %s
    nordpass:
      base_url: %s
      token: ${AUDITPULL_TEST_TOKEN}
output:
  stdout: {}
# revision %d
`, state, s.srv.baseURL(), rev)
		if err := os.WriteFile(conf, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	p := startBinary(t, bin, []string{"AUDITPULL_TEST_TOKEN=" + testToken}, "-w", "-c", conf)

	const reloads = 3
	resumed := func() int { return strings.Count(p.stderr.String(), "resuming from checkpoint") }
	for i := 1; i <= reloads; i++ {
		seen := p.count()
		p.waitFor(t, 60*time.Second, "more events before a reload", func() bool { return p.count() > seen })
		if n := p.count(); n >= len(s.truth) {
			t.Fatalf("the backfill ended (%d events) before reload %d: the test must reload mid-backfill", n, i)
		}
		write(i)
		p.waitFor(t, 60*time.Second, "the reloaded input to resume", func() bool { return resumed() == i })
	}
	p.waitFor(t, 60*time.Second, "every event", func() bool { return p.count() >= len(s.truth) })
	time.Sleep(time.Second) // more polls: a repeat would show now
	p.terminate(t)
	requireSameBag(t, fmt.Sprintf("after %d reloads", reloads), p.bag(), bagOf(s.truth))
}
