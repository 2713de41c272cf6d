package main

// End-to-end tests of the Telegraf build: the test binary re-executes itself
// as the telegraf command (TestMain), so every case runs the real agent,
// with real configuration loading and real outputs, in its own process,
// against the NordPass simulator served from this process.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/auditpull/auditpull/test/sim"

	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/internal/testkit/testkeys"
)

const (
	mainEnv   = "AUDITPULL_TELEGRAF_TEST_MAIN"
	tokenEnv  = "AP_TEST_NORDPASS_TOKEN"
	testToken = "np-tok-7c1e-SECRET-must-not-leak"
)

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

type org struct{ *testkit.Org }

func newOrg(t *testing.T, count int) *org {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	return &org{testkit.NewOrg(t, sim.NordPassConfig{Seed: 11, Count: count, From: now.Add(-48 * time.Hour), To: now.Add(-time.Hour), RateLimit: -1}, testToken)}
}

// conf renders a configuration: the agent, auditpull reading o into the
// checkpoint directory dir, extra input options, and the given outputs.
func (o *org) conf(t *testing.T, dir, inputExtra, outputs string) string {
	t.Helper()
	c := fmt.Sprintf(`
[agent]
  interval = "1s"
  flush_interval = "300ms"
  flush_jitter = "0s"
  metric_batch_size = 1000
  metric_buffer_limit = 10000
  omit_hostname = true
  skip_processors_after_aggregators = true

[[inputs.auditpull]]
  source = "nordpass"
  initial_lookback = "3d"
  poll_interval = "300ms"
  settle_delay = "0s"
  page_size = 50
  stats_interval = "0s"
  shutdown_timeout = "5s"
%s
  [inputs.auditpull.checkpoint]
    type = "file"
    path = %q
  [inputs.auditpull.nordpass]
    base_url = %q
    token = "${%s}"

%s
`, inputExtra, dir, o.Base, tokenEnv, outputs)
	path := filepath.Join(t.TempDir(), "telegraf.conf")
	if err := os.WriteFile(path, []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func fileOutput(path string) string {
	return fmt.Sprintf(`[[outputs.file]]
  files = [%q]
  data_format = "json"
  json_timestamp_units = "1ms"
  namepass = ["auditpull"]
`, path)
}

// proc is one run of the telegraf command.
type proc struct {
	t              *testing.T
	cmd            *exec.Cmd
	stdout, stderr testkit.SyncBuffer
	done           chan struct{}
	err            error
}

func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), mainEnv+"=1", tokenEnv+"="+testToken)
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("telegraf did not exit within %s\nstderr:\n%s", d, p.stderr.String())
	}
	p.checkNoLeak()
	return p.cmd.ProcessState.ExitCode()
}

// stop sends SIGTERM, as systemd does, and waits for a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	if code := p.wait(30 * time.Second); code != 0 {
		p.t.Fatalf("telegraf exited with %d\nstderr:\n%s", code, p.stderr.String())
	}
}

func (p *proc) checkNoLeak() {
	p.t.Helper()
	if strings.Contains(p.stdout.String(), testToken) || strings.Contains(p.stderr.String(), testToken) {
		p.t.Fatal("the token appears in telegraf's output")
	}
}

// written is one JSON line of outputs.file.
type written struct {
	Name      string            `json:"name"`
	Tags      map[string]string `json:"tags"`
	Fields    map[string]any    `json:"fields"`
	Timestamp int64             `json:"timestamp"`
}

func readOutput(t *testing.T, path string) []written {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []written
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var w written
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
			// A line being written right now; the next read sees it whole.
			break
		}
		out = append(out, w)
	}
	return out
}

func messages(ws []written) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.Fields["message"].(string))
	}
	sort.Strings(out)
	return out
}

func waitFor(t *testing.T, p *proc, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\nstderr:\n%s", what, p.stderr.String())
		}
		select {
		case <-p.done:
			if !cond() {
				t.Fatalf("telegraf exited before %s\nstderr:\n%s", what, p.stderr.String())
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func checkpoints(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAgentWritesEveryEventAndResumesAfterRestart(t *testing.T) {
	o := newOrg(t, 650)
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "events.json")
	want := o.Truth()

	p := start(t, nil, "--config", o.conf(t, dir, "", fileOutput(out)))
	waitFor(t, p, "every event in the file", func() bool { return len(readOutput(t, out)) >= len(want) })
	p.stop()

	ws := readOutput(t, out)
	if got := messages(ws); !slices.Equal(got, want) {
		t.Fatalf("the file holds %d events; want exactly the %d the API holds", len(got), len(want))
	}
	for _, w := range ws {
		var ev struct {
			Timestamp int64  `json:"timestamp"`
			Type      string `json:"type"`
			Action    string `json:"action"`
			User      struct {
				UUID string `json:"uuid"`
			} `json:"user"`
		}
		if err := json.Unmarshal([]byte(w.Fields["message"].(string)), &ev); err != nil {
			t.Fatalf("message is not the raw event JSON: %v", err)
		}
		if w.Name != "auditpull" || w.Tags["source"] != "nordpass" || w.Tags["stream"] == "" ||
			w.Tags["event_type"] != ev.Type || w.Tags["event_action"] != ev.Action {
			t.Fatalf("unexpected name or tags: %+v", w)
		}
		if w.Timestamp != ev.Timestamp*1000 {
			t.Fatalf("metric time %d ms, event time %d s", w.Timestamp, ev.Timestamp)
		}
		if id, _ := w.Fields["event_id"].(string); id == "" {
			t.Fatalf("no event_id: %+v", w.Fields)
		}
		if w.Fields["user_uuid"] != ev.User.UUID {
			t.Fatalf("user_uuid %v, event user %s", w.Fields["user_uuid"], ev.User.UUID)
		}
	}
	if len(checkpoints(t, dir)) != 1 {
		t.Fatalf("checkpoint files: %v", checkpoints(t, dir))
	}

	// Restarted, it reads on from the checkpoint: only what is new.
	fresh := o.NP.AddEvent(time.Now(), time.Time{}, "item", "item_shared", 2)
	out2 := filepath.Join(t.TempDir(), "events.json")
	p2 := start(t, nil, "--config", o.conf(t, dir, "", fileOutput(out2)))
	waitFor(t, p2, "the new event", func() bool { return len(readOutput(t, out2)) >= 1 })
	time.Sleep(time.Second) // several more polls
	p2.stop()
	if got := messages(readOutput(t, out2)); len(got) != 1 || got[0] != string(fresh.JSON) {
		t.Fatalf("after the restart the file holds %d events; want only the new one", len(got))
	}
}

func TestFailingOutputKeepsPagesUnackedAndARestartRedelivers(t *testing.T) {
	o := newOrg(t, 400)
	dir := t.TempDir()
	want := o.Truth()

	var attempts atomic.Int64
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		attempts.Add(1)
		http.Error(w, "backend down", http.StatusServiceUnavailable)
	}))
	defer broken.Close()
	httpOut := fmt.Sprintf(`[[outputs.http]]
  url = %q
  data_format = "json"
  namepass = ["auditpull"]
`, broken.URL)
	p := start(t, nil, "--config", o.conf(t, dir, "", httpOut))
	waitFor(t, p, "several failed writes", func() bool { return attempts.Load() >= 3 })
	p.stop()
	if files := checkpoints(t, dir); len(files) != 0 {
		t.Fatalf("the checkpoint moved although no page was written: %v", files)
	}
	if !strings.Contains(p.stderr.String(), "not yet delivered") {
		t.Errorf("the undelivered pages were not reported on stop:\n%s", p.stderr.String())
	}

	out := filepath.Join(t.TempDir(), "events.json")
	p2 := start(t, nil, "--config", o.conf(t, dir, "", fileOutput(out)))
	waitFor(t, p2, "every event in the file", func() bool { return len(readOutput(t, out)) >= len(want) })
	p2.stop()
	if got := messages(readOutput(t, out)); !slices.Equal(got, want) {
		t.Fatalf("after the restart the file holds %d events; want each of the %d exactly once", len(got), len(want))
	}
}

func TestTestFlagPrintsWithoutMovingTheCheckpointAndOnceDelivers(t *testing.T) {
	o := newOrg(t, 300)
	dir := t.TempDir()
	want := o.Truth()
	out := filepath.Join(t.TempDir(), "events.json")
	cfg := o.conf(t, dir, "", fileOutput(out))

	printed := func(p *proc) int { return strings.Count(p.stdout.String(), "> auditpull,") }

	// --test from scratch prints every event and writes nothing.
	p := start(t, nil, "--config", cfg, "--test", "--test-wait", "3")
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatalf("--test exited with %d\nstderr:\n%s", code, p.stderr.String())
	}
	if n := printed(p); n != len(want) {
		t.Fatalf("--test printed %d events; want %d\nstdout:\n%.2000s", n, len(want), p.stdout.String())
	}
	if files := checkpoints(t, dir); len(files) != 0 {
		t.Fatalf("--test wrote a checkpoint: %v", files)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("--test wrote to the output")
	}

	// --once delivers everything and saves the checkpoint.
	p = start(t, nil, "--config", cfg, "--once", "--test-wait", "3")
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatalf("--once exited with %d\nstderr:\n%s", code, p.stderr.String())
	}
	if got := messages(readOutput(t, out)); !slices.Equal(got, want) {
		t.Fatalf("--once wrote %d events; want %d", len(got), len(want))
	}
	files := checkpoints(t, dir)
	if len(files) != 1 {
		t.Fatalf("--once left checkpoint files %v", files)
	}
	before, _ := os.ReadFile(files[0])

	// --test after that shows only what is new, and leaves the file alone.
	// NordPass times are whole seconds: the new event is readable once its
	// second has passed, at the first poll after that (polls of such an
	// API are timed to the second), so give the agent a few seconds.
	fresh := o.NP.AddEvent(time.Now(), time.Time{}, "user", "user_invited", 4)
	p = start(t, nil, "--config", cfg, "--test", "--test-wait", "4")
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatalf("--test exited with %d\nstderr:\n%s", code, p.stderr.String())
	}
	if n := printed(p); n != 1 {
		t.Fatalf("--test printed %d events; want the one new event\nstdout:\n%s", n, p.stdout.String())
	}
	after, _ := os.ReadFile(files[0])
	if !bytes.Equal(before, after) {
		t.Fatal("--test changed the checkpoint")
	}

	// The new event is still there for the next real run.
	p = start(t, nil, "--config", cfg, "--once", "--test-wait", "4")
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatalf("--once exited with %d\nstderr:\n%s", code, p.stderr.String())
	}
	got := messages(readOutput(t, out))
	if len(got) != len(want)+1 || !slices.Contains(got, string(fresh.JSON)) {
		t.Fatalf("the second --once left %d events in the file; want %d with the new one", len(got), len(want)+1)
	}
}

func TestInvalidConfigurationFailsAtStartupNamingTheOption(t *testing.T) {
	o := newOrg(t, 5)
	corrupt := t.TempDir()
	if err := os.WriteFile(filepath.Join(corrupt, "audit.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		dir     string
		extra   string
		replace [2]string // applied to the rendered configuration
		env     []string
		want    string
	}{
		{name: "missing token", env: []string{tokenEnv + "="}, want: "nordpass.token"},
		{name: "page size above the vendor's limit", extra: "  page_size = 1000", want: "page_size"},
		{name: "zero poll interval", extra: `  poll_interval = "0s"`, want: "poll_interval"},
		{name: "unknown region", replace: [2]string{"[inputs.auditpull.nordpass]\n", "[inputs.auditpull.nordpass]\n    region = \"mars\"\n"}, want: "nordpass.region"},
		{name: "unknown checkpoint type", replace: [2]string{`type = "file"`, `type = "redis"`}, want: "checkpoint.type"},
		{name: "misspelt option", extra: `  pol_interval = "1m"`, want: "pol_interval"},
		{name: "corrupt checkpoint", dir: corrupt, extra: `  stream = "audit"`, want: filepath.Join(corrupt, "audit.json")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := c.dir
			if dir == "" {
				dir = t.TempDir()
			}
			path := o.conf(t, dir, c.extra, fileOutput(filepath.Join(t.TempDir(), "out.json")))
			if c.replace[0] != "" {
				b, _ := os.ReadFile(path)
				edited := strings.Replace(string(b), c.replace[0], c.replace[1], 1)
				if edited == string(b) {
					t.Fatalf("%q not in the configuration", c.replace[0])
				}
				if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			p := start(t, c.env, "--config", path)
			if code := p.wait(60 * time.Second); code == 0 {
				t.Fatalf("telegraf started with an invalid configuration\nstderr:\n%s", p.stderr.String())
			}
			if !strings.Contains(p.stderr.String(), c.want) {
				t.Fatalf("the error does not name %q:\n%s", c.want, p.stderr.String())
			}
		})
	}
}

func TestUsageAndSampleConfiguration(t *testing.T) {
	p := start(t, nil, "--usage", "auditpull")
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("--usage exited with %d: %s", code, p.stderr.String())
	}
	if !strings.HasPrefix(p.stdout.String(), "# Pull SaaS audit") || !strings.Contains(p.stdout.String(), "[inputs.auditpull.nordpass]") {
		t.Fatalf("--usage auditpull printed:\n%s", p.stdout.String())
	}

	p = start(t, nil, "--sample-config")
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("--sample-config exited with %d: %s", code, p.stderr.String())
	}
	t.Setenv("NORDPASS_TOKEN", "x")
	c := config.NewConfig()
	if err := c.LoadConfigData([]byte(p.stdout.String()), "sample"); err != nil {
		t.Fatalf("the sample configuration does not load: %v", err)
	}
	if len(c.Inputs) != 1 || len(c.Outputs) != 1 {
		t.Fatalf("the sample configuration has %d inputs and %d outputs; want auditpull and file", len(c.Inputs), len(c.Outputs))
	}
}

// examplesDir holds the shipped example configurations.
const examplesDir = "../../examples/configs/telegraf"

var placeholder = regexp.MustCompile(`<[A-Z-]+>`)

func TestExampleConfigurationsLoadAndValidate(t *testing.T) {
	for k, v := range map[string]string{
		"NORDPASS_TOKEN": "x", "OLOID_CLIENT_ID": "x", "OLOID_TENANT": "x", "OLOID_CLIENT_SECRET": "x",
		"QUALTRICS_API_TOKEN": "x", "NORDPASS_UMBRELLA_TOKEN": "x",
		"SIEM_TOKEN": "x", "INFLUX_TOKEN": "x",
	} {
		t.Setenv(k, v)
	}
	keyFile := testkeys.WriteEC(t)
	// The tenants file of tenants.conf, its secrets in files as it says.
	secrets := t.TempDir()
	tb, err := os.ReadFile(filepath.Join(examplesDir, "..", "tenants.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"acme", "globex", "initech"} {
		if err := os.WriteFile(filepath.Join(secrets, "nordpass-"+name), []byte("tok-"+name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tenantsFile := filepath.Join(t.TempDir(), "tenants.yaml")
	if err := os.WriteFile(tenantsFile, bytes.ReplaceAll(tb, []byte("/run/secrets"), []byte(secrets)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"simulator.conf", "nordpass.conf", "nordpass_msp.conf", "oloid.conf", "qualtrics.conf", "tenants.conf"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(examplesDir, name))
			if err != nil {
				t.Fatal(err)
			}
			b = placeholder.ReplaceAll(b, []byte("example"))
			b = bytes.ReplaceAll(b, []byte("/etc/telegraf/nordpass-msp-key.pem"), []byte(keyFile))
			b = bytes.ReplaceAll(b, []byte("/etc/telegraf/auditpull-tenants.yaml"), []byte(tenantsFile))
			c := config.NewConfig()
			if err := c.LoadConfigData(b, name); err != nil {
				t.Fatalf("does not load: %v", err)
			}
			if len(c.Inputs) != 1 || len(c.Outputs) == 0 {
				t.Fatalf("%d inputs, %d outputs", len(c.Inputs), len(c.Outputs))
			}
			if err := c.Inputs[0].Init(); err != nil {
				t.Fatalf("auditpull refuses it: %v", err)
			}
			for _, o := range c.Outputs {
				if err := o.Init(); err != nil {
					t.Fatalf("%s refuses it: %v", o.LogName(), err)
				}
			}
		})
	}
}

// The examples hand a SIEM the vendor's JSON through the template
// serializer. This runs their serializer lines in a real agent: the file
// must hold every event byte for byte, one per line.
func TestExamplesRawEventOutputWritesOneEventPerLine(t *testing.T) {
	var serializer string
	for _, name := range []string{"nordpass.conf", "nordpass_msp.conf", "oloid.conf", "qualtrics.conf"} {
		b, err := os.ReadFile(filepath.Join(examplesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if l := strings.TrimSpace(l); strings.HasPrefix(l, `data_format = "template"`) || strings.HasPrefix(l, "template = ") {
				lines = append(lines, l)
			}
		}
		got := strings.Join(lines, "\n")
		if len(lines) != 2 || serializer != "" && got != serializer {
			t.Fatalf("%s: template serializer lines %q; want the two lines every example shares", name, lines)
		}
		serializer = got
	}
	for _, c := range []struct{ name, extra string }{
		{"one write per event", ""},
		// Telegraf v1.37's own template serializer writes nothing for a
		// batch of tracked metrics (influxdata/telegraf#18224) yet the
		// output reports it written; this build carries the fix.
		{"one write per batch (use_batch_format)", "use_batch_format = true"},
	} {
		t.Run(c.name, func(t *testing.T) { checkRawEventOutput(t, serializer+"\n  "+c.extra) })
	}
}

// checkRawEventOutput runs the agent with a file output configured by
// options and checks that the file holds every event, one per line, byte
// for byte.
func checkRawEventOutput(t *testing.T, options string) {
	t.Helper()
	o := newOrg(t, 300)
	out := filepath.Join(t.TempDir(), "events.jsonl")
	p := start(t, nil, "--config", o.conf(t, t.TempDir(), "", fmt.Sprintf("[[outputs.file]]\n  files = [%q]\n  namepass = [\"auditpull\"]\n  %s\n", out, options)))
	want := o.Truth()
	size := 0
	for _, w := range want {
		size += len(w)
	}
	waitFor(t, p, "every event's bytes in the file", func() bool { st, err := os.Stat(out); return err == nil && st.Size() >= int64(size) })
	p.stop()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("the file holds %d lines; want the %d events, one per line, byte for byte (first line %.200q)", len(got), len(want), got[0])
	}
}

func TestSimulatorExampleRunsOnce(t *testing.T) {
	o := newOrg(t, 120)
	state := t.TempDir()
	p := start(t, []string{
		"AUDITPULL_SIM_URL=" + o.Base, "AUDITPULL_DEMO_TOKEN=" + testToken, "AUDITPULL_STATE_DIR=" + state,
	}, "--config", filepath.Join(examplesDir, "simulator.conf"), "--once", "--test-wait", "4")
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr.String())
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(p.stdout.String()), "\n") {
		var w written
		if err := json.Unmarshal([]byte(line), &w); err != nil {
			t.Fatalf("stdout line is not a JSON metric: %q", line)
		}
		got = append(got, w.Fields["message"].(string))
	}
	sort.Strings(got)
	if want := o.Truth(); !slices.Equal(got, want) {
		t.Fatalf("printed %d events; want %d", len(got), len(want))
	}
	if len(checkpoints(t, state)) != 1 {
		t.Fatal("no checkpoint saved in AUDITPULL_STATE_DIR")
	}
}

func TestPagesDroppedByAFullOutputBufferAreSentAgain(t *testing.T) {
	o := newOrg(t, 400)
	dir := t.TempDir()
	want := o.Truth()

	// The collector refuses writes for its first second, long enough for
	// the output buffer (120 metrics, pages of 50) to overflow and drop.
	var mu sync.Mutex
	got := map[string]int{}
	opened := time.Now().Add(time.Second)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if time.Now().Before(opened) {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		var batch struct {
			Metrics []written `json:"metrics"`
		}
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, m := range batch.Metrics {
			got[m.Fields["message"].(string)]++
		}
		mu.Unlock()
	}))
	defer collector.Close()
	out := fmt.Sprintf(`[[outputs.http]]
  url = %q
  data_format = "json"
  metric_buffer_limit = 120
  namepass = ["auditpull"]
`, collector.URL)
	p := start(t, nil, "--config", o.conf(t, dir, "  max_undelivered_pages = 4", out))
	complete := func() bool {
		mu.Lock()
		defer mu.Unlock()
		need := map[string]int{}
		for _, m := range want {
			need[m]++
		}
		for m, n := range need {
			if got[m] < n {
				return false
			}
		}
		return true
	}
	waitFor(t, p, "every event at the collector", complete)
	p.stop()
	if !strings.Contains(p.stderr.String(), "rejected or dropped by an output") {
		t.Fatalf("no page was dropped; the test did not overflow the buffer\nstderr:\n%s", p.stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	twice := 0
	for _, n := range got {
		twice += n - 1
	}
	// A dropped page is sent again whole, and the part of it the output had
	// written is written again: the README gives this count.
	t.Logf("%d of %d events written more than once", twice, len(want))
	for m := range got {
		if !slices.Contains(want, m) {
			t.Fatalf("the collector received an event the API does not hold: %s", m)
		}
	}
	if len(checkpoints(t, dir)) != 1 {
		t.Fatal("no checkpoint after every page was delivered")
	}
}

// The agent flushes its outputs for the last time only after its inputs
// have stopped; an output whose flush_interval is longer than the input's
// shutdown_timeout must still have written everything, and the checkpoint
// must be saved, when auditpull stops.
func TestAStopSavesWhatAnOutputWithALongFlushIntervalHolds(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, cfg string)
	}{
		{"--once", func(t *testing.T, cfg string) {
			p := start(t, nil, "--config", cfg, "--once", "--test-wait", "3")
			if code := p.wait(60 * time.Second); code != 0 {
				t.Fatalf("--once exited with %d\nstderr:\n%s", code, p.stderr.String())
			}
		}},
		{"SIGTERM", func(t *testing.T, cfg string) {
			p := start(t, nil, "--config", cfg)
			waitFor(t, p, "the backfill", func() bool { return strings.Contains(p.stderr.String(), "backfill done") })
			p.stop()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrg(t, 300)
			dir := t.TempDir()
			want := o.Truth()
			out := filepath.Join(t.TempDir(), "events.json")
			cfg := o.conf(t, dir, "", fileOutput(out)+`  flush_interval = "60s"`+"\n")

			began := time.Now()
			tc.run(t, cfg)
			if d := time.Since(began); d > 30*time.Second {
				t.Fatalf("the run took %s: the output was not asked to flush", d)
			}
			if got := messages(readOutput(t, out)); !slices.Equal(got, want) {
				t.Fatalf("the run wrote %d events; want each of the %d once", len(got), len(want))
			}
			if len(checkpoints(t, dir)) != 1 {
				t.Error("no checkpoint saved for what the output wrote")
			}

			p := start(t, nil, "--config", cfg, "--once", "--test-wait", "3")
			if code := p.wait(60 * time.Second); code != 0 {
				t.Fatalf("--once exited with %d\nstderr:\n%s", code, p.stderr.String())
			}
			if got := messages(readOutput(t, out)); !slices.Equal(got, want) {
				t.Fatalf("after a second run the file holds %d events; want each of the %d once", len(got), len(want))
			}
		})
	}
}

// SIGHUP makes Telegraf stop every plugin and start the configuration
// again in the same process: the stopped input must hand its checkpoint
// (and the journal's lock) to the new one, which reads on from it.
func TestAReloadMidBackfillReadsOnFromTheCheckpoint(t *testing.T) {
	o := newOrg(t, 2400)
	dir := t.TempDir()
	want := o.Truth()
	out := filepath.Join(t.TempDir(), "events.json")
	// Twenty pages a second: the backfill of 48 pages outlasts the reloads.
	slow := "  [inputs.auditpull.rate_limit]\n    requests = 20\n    period = \"1s\"\n"
	p := start(t, nil, "--config", o.conf(t, dir, slow, fileOutput(out)))

	const reloads = 4
	for i := range reloads {
		seen := len(readOutput(t, out))
		waitFor(t, p, "more events before a reload", func() bool { return len(readOutput(t, out)) > seen })
		if n := len(readOutput(t, out)); n >= len(want) {
			t.Fatalf("the backfill ended (%d events) before reload %d: the test must reload mid-backfill", n, i+1)
		}
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, p, "every event in the file", func() bool { return len(readOutput(t, out)) >= len(want) })
	time.Sleep(time.Second) // more polls: a repeat would show now
	p.stop()

	stderr := p.stderr.String()
	if n := strings.Count(stderr, "resuming from checkpoint"); n != reloads {
		t.Errorf("%d inputs resumed from a checkpoint; want one after each of the %d reloads\nstderr:\n%s", n, reloads, stderr)
	}
	if got := messages(readOutput(t, out)); !slices.Equal(got, want) {
		t.Fatalf("after %d reloads the file holds %d events; want each of the %d exactly once\nstderr:\n%s", reloads, len(got), len(want), stderr)
	}
}
