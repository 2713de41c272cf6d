package fluentbit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditpull/auditpull/test/sim"
)

// The artifacts under test: in_auditpull.so and the harness binary.
var soPath, harnessPath string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	soPath = os.Getenv("AUDITPULL_FLUENTBIT_SO")
	harnessPath = os.Getenv("AUDITPULL_FLUENTBIT_HARNESS")
	if soPath == "" || harnessPath == "" {
		if _, err := exec.LookPath("gcc"); err != nil {
			fmt.Println("skipping the Fluent Bit tests: gcc is needed to build the harness")
			return 0
		}
		dir, err := os.MkdirTemp("", "auditpull-fluentbit-")
		if err != nil {
			fmt.Println(err)
			return 1
		}
		defer os.RemoveAll(dir)
		if soPath == "" {
			soPath = filepath.Join(dir, "in_auditpull.so")
			cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", soPath, "./plugins/fluentbit")
			cmd.Dir = "../.."
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Printf("building the plugin: %v\n%s", err, out)
				return 1
			}
		}
		if harnessPath == "" {
			harnessPath = filepath.Join(dir, "fbharness")
			cmd := exec.Command("gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-g", "-pthread", "-rdynamic",
				"-o", harnessPath, "harness/harness.c", "-ldl")
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Printf("building the harness: %v\n%s", err, out)
				return 1
			}
		}
	}
	return m.Run()
}

// harnessRun is one run of the harness.
type harnessRun struct {
	ABI          string // "4.1" (default) or "2.1"
	IntervalMS   int    // default 200
	Records      int    // stop at this many records
	Timeout      time.Duration
	Duration     time.Duration
	Idle         time.Duration
	NoCleanup    bool
	ExitFromMain bool
	Instances    [][]string // each instance's key=value properties
	// Wrapper runs the harness under another program (valgrind).
	Wrapper []string
	// SO replaces the plugin under test; Env is added to the environment.
	SO  string
	Env []string
	// TermAt sends SIGTERM once the harness has written this many records,
	// as a service manager stops Fluent Bit.
	TermAt int
	// CrashAfterBuffers makes the harness SIGKILL itself right after the
	// Nth non-empty collect was appended to the ring buffer and cleaned up.
	CrashAfterBuffers int
	// RingBufferMS is the engine's ring buffer period: 0 is Fluent Bit's
	// 250 ms, -1 appends at once (an input with threaded off).
	RingBufferMS int
	// NoMetricsAPI leaves input_get_cmt_instance out of the API table.
	NoMetricsAPI bool
	// Reloads plays Fluent Bit's hot reload that many times, ReloadMS
	// after each start.
	Reloads, ReloadMS int
}

type record struct {
	Instance int            `json:"instance"`
	Time     string         `json:"time"`
	Record   map[string]any `json:"record"`
}

type bufferLine struct {
	Instance int `json:"instance"`
	Bytes    int `json:"bytes"`
	Records  int `json:"records"`
}

type stats struct {
	Records        int  `json:"records"`
	Callbacks      int  `json:"callbacks"`
	EmptyCallbacks int  `json:"empty_callbacks"`
	Buffers        int  `json:"buffers"`
	Bytes          int  `json:"bytes"`
	MaxBuffer      int  `json:"max_buffer"`
	Cleanups       int  `json:"cleanups"`
	HostFrees      int  `json:"host_frees"`
	MaxCallbackUS  int  `json:"max_callback_us"`
	InitFailed     bool `json:"init_failed"`
	Violations     int  `json:"violations"`
	Pauses         int  `json:"pauses"`
	Reloads        int  `json:"reloads"`
	RBDiscarded    int  `json:"rb_discarded"`
	Logs           struct {
		Error, Warn, Info, Debug, Trace int
	} `json:"logs"`
	LogsOffThread int          `json:"logs_off_thread"`
	Metrics       []hostMetric `json:"metrics"`
	Instances     []struct {
		Records       int  `json:"records"`
		Buffers       int  `json:"buffers"`
		Init          int  `json:"init"`
		RemoteContext bool `json:"remote_context"`
	} `json:"instances"`
}

// hostMetric is a metric the plugin registered in an instance's cmetrics
// context, as the harness saw it.
type hostMetric struct {
	Instance      int     `json:"instance"`
	Name          string  `json:"name"`
	Type          string  `json:"type"`
	Label         string  `json:"label"`
	Value         float64 `json:"value"`
	Sets          int     `json:"sets"`
	OffThreadSets int     `json:"off_thread_sets"`
}

type result struct {
	Code    int
	Killed  bool // ended by SIGKILL (CrashAfterBuffers)
	Stderr  string
	Out     string // the NDJSON as written
	Records []record
	Buffers []bufferLine
	Stats   stats
}

// run runs the harness and decodes what it wrote. It fails the test only on
// things no test expects (a crash, unreadable output).
func (r harnessRun) run(t *testing.T) result {
	t.Helper()
	dir := t.TempDir()
	out, st, bufs := filepath.Join(dir, "out.ndjson"), filepath.Join(dir, "stats.json"), filepath.Join(dir, "buffers.ndjson")
	so := soPath
	if r.SO != "" {
		so = r.SO
	}
	args := []string{"-so", so, "-out", out, "-stats", st, "-buffers", bufs}
	if r.ABI != "" {
		args = append(args, "-abi", r.ABI)
	}
	if r.IntervalMS == 0 {
		r.IntervalMS = 200
	}
	args = append(args, "-interval-ms", strconv.Itoa(r.IntervalMS))
	if r.Records > 0 {
		args = append(args, "-records", strconv.Itoa(r.Records))
	}
	if r.Timeout == 0 {
		r.Timeout = 60 * time.Second
	}
	args = append(args, "-timeout-ms", strconv.FormatInt(r.Timeout.Milliseconds(), 10))
	if r.Duration > 0 {
		args = append(args, "-duration-ms", strconv.FormatInt(r.Duration.Milliseconds(), 10))
	}
	if r.Idle > 0 {
		args = append(args, "-idle-ms", strconv.FormatInt(r.Idle.Milliseconds(), 10))
	}
	if r.NoCleanup {
		args = append(args, "-no-cleanup")
	}
	if r.ExitFromMain {
		args = append(args, "-exit-from-main")
	}
	if r.CrashAfterBuffers > 0 {
		args = append(args, "-crash-after-buffers", strconv.Itoa(r.CrashAfterBuffers))
	}
	switch {
	case r.RingBufferMS < 0:
		args = append(args, "-rb-ms", "0")
	case r.RingBufferMS > 0:
		args = append(args, "-rb-ms", strconv.Itoa(r.RingBufferMS))
	}
	if r.NoMetricsAPI {
		args = append(args, "-no-metrics-api")
	}
	if r.Reloads > 0 {
		args = append(args, "-reloads", strconv.Itoa(r.Reloads), "-reload-ms", strconv.Itoa(r.ReloadMS))
	}
	for _, props := range r.Instances {
		args = append(args, "-instance")
		for _, p := range props {
			args = append(args, "-p", p)
		}
	}
	bin := harnessPath
	if len(r.Wrapper) > 0 {
		bin = r.Wrapper[0]
		args = append(append(slices.Clone(r.Wrapper[1:]), harnessPath), args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), r.Env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if r.TermAt > 0 {
		done := make(chan struct{})
		defer close(done)
		go func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(10 * time.Millisecond):
				}
				if b, _ := os.ReadFile(out); bytes.Count(b, []byte("\n")) >= r.TermAt {
					cmd.Process.Signal(syscall.SIGTERM)
					return
				}
			}
		}()
	}
	err := cmd.Wait()
	res := result{Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		res.Code = ee.ExitCode()
	case r.CrashAfterBuffers > 0 && errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
		res.Killed = true
	default:
		t.Fatalf("harness did not exit normally: %v\nstderr:\n%s", err, tail(res.Stderr))
	}
	if b, err := os.ReadFile(out); err == nil {
		res.Out = string(b)
		res.Records = decodeLines[record](t, b)
	}
	if b, err := os.ReadFile(bufs); err == nil {
		res.Buffers = decodeLines[bufferLine](t, b)
	}
	if b, err := os.ReadFile(st); err == nil {
		if err := json.Unmarshal(b, &res.Stats); err != nil {
			t.Fatalf("stats: %v: %s", err, b)
		}
	}
	return res
}

func decodeLines[T any](t *testing.T, b []byte) []T {
	t.Helper()
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var v T
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("harness wrote a line that is not JSON: %v: %.200s", err, sc.Bytes())
		}
		out = append(out, v)
	}
	return out
}

func tail(s string) string {
	const n = 6000
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// org is one simulated NordPass organization served over HTTP.
type org struct {
	np       *sim.NordPass
	base     string // nordpass.base_url
	token    string
	from, to time.Time // the generated history
}

// newOrgs serves one simulated NordPass organization per token, each with
// count events spread over the three days that end ten minutes ago (so the
// default settle delay has passed), under /o0, /o1, … of one server.
func newOrgs(t *testing.T, count int, tokens ...string) []org {
	t.Helper()
	return newOrgsLike(t, sim.NordPassConfig{Count: count}, tokens...)
}

// newOrgsLike is newOrgs with the organizations' other settings from cfg.
func newOrgsLike(t *testing.T, cfg sim.NordPassConfig, tokens ...string) []org {
	t.Helper()
	to := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	from := to.Add(-72 * time.Hour)
	srv := sim.NewServer()
	var orgs []org
	for i, tok := range tokens {
		cfg.Seed, cfg.From, cfg.To = int64(1000+i), from, to
		np := sim.NewNordPass(cfg)
		np.AddToken(tok, sim.TokenValid)
		prefix := fmt.Sprintf("/o%d", i)
		srv.Mount(prefix, np)
		orgs = append(orgs, org{np: np, token: tok, from: from, to: to, base: prefix})
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	for i := range orgs {
		orgs[i].base = hs.URL + orgs[i].base
	}
	return orgs
}

// props is the configuration of an instance reading o, checkpointing in dir.
func (o org) props(dir string, extra ...string) []string {
	p := []string{
		"source=nordpass",
		"nordpass.base_url=" + o.base,
		"nordpass.token=" + o.token,
		"checkpoint.path=" + dir,
		"start_time=" + o.from.Add(-time.Hour).UTC().Format(time.RFC3339),
		"page_size=100",
		"retry.initial_backoff=50ms",
		"retry.max_backoff=200ms",
	}
	// A property given twice is read as its first value: extra replaces.
	for _, e := range extra {
		k, _, _ := strings.Cut(e, "=")
		p = slices.DeleteFunc(p, func(s string) bool { return strings.HasPrefix(s, k+"=") })
	}
	return append(p, extra...)
}

// truth is every event of the organization's history.
func (o org) truth() [][]byte { return o.np.Truth(o.from.Add(-time.Hour), o.to.Add(time.Hour)) }

// canon renders a JSON value canonically: sorted keys, integers as
// integers, other numbers in Go's shortest float form.
func canon(v any) string {
	b, err := json.Marshal(normalize(v))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = normalize(e)
		}
		return s
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return x
		}
		f, _ := x.Float64()
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
	}
	return v
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("invalid JSON from the simulator: %v", err)
	}
	return v
}

// vendorPart is a delivered record without the fields the plugin adds.
func vendorPart(r record) map[string]any {
	m := make(map[string]any, len(r.Record))
	for k, v := range r.Record {
		switch k {
		case "source", "stream", "event_id":
		default:
			m[k] = v
		}
	}
	return m
}

// assertSameEvents fails unless got holds exactly the events of truth, each
// as often as the truth holds it (two genuine events may be identical).
func assertSameEvents(t *testing.T, got []record, truth [][]byte) {
	t.Helper()
	want := map[string]int{}
	for _, raw := range truth {
		want[canon(decodeJSON(t, raw))]++
	}
	have := map[string]int{}
	for _, r := range got {
		have[canon(vendorPart(r))]++
	}
	var missing, extra []string
	for k, n := range want {
		for i := have[k]; i < n; i++ {
			missing = append(missing, k)
		}
	}
	for k, n := range have {
		for i := want[k]; i < n; i++ {
			extra = append(extra, k)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		sort := func(s []string) []string { slices.Sort(s); return s[:min(3, len(s))] }
		t.Fatalf("delivered %d records, truth has %d: %d missing, %d extra (duplicates or foreign)\nmissing e.g. %q\nextra e.g. %q",
			len(got), len(truth), len(missing), len(extra), sort(missing), sort(extra))
	}
}

// assertRecordShape checks what the plugin adds to every record: source,
// stream, event_id, and the EventTime equal to the event's own timestamp.
func assertRecordShape(t *testing.T, recs []record, stream string) {
	t.Helper()
	for i, r := range recs {
		if r.Record["source"] != "nordpass" {
			t.Fatalf("record %d: source = %v, want nordpass", i, r.Record["source"])
		}
		if s, _ := r.Record["stream"].(string); s == "" || (stream != "" && s != stream) {
			t.Fatalf("record %d: stream = %v, want %q", i, r.Record["stream"], stream)
		}
		if id, _ := r.Record["event_id"].(string); id == "" {
			t.Fatalf("record %d: no event_id", i)
		}
		ts, _ := r.Record["timestamp"].(json.Number)
		if want := string(ts) + ".000000000"; r.Time != want {
			t.Fatalf("record %d: EventTime %s, want the event's timestamp %s", i, r.Time, want)
		}
	}
}

// assertNoSecret fails if a token appears in anything the run printed.
func assertNoSecret(t *testing.T, res result, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(res.Stderr, s) || strings.Contains(res.Out, s) {
			t.Fatalf("secret %q… appears in the output or the log", s[:4])
		}
	}
}

// assertClean checks a run that should have worked: exit 0, every buffer
// returned, no ABI violation.
func assertClean(t *testing.T, res result, hostFrees bool) {
	t.Helper()
	if res.Code != 0 || res.Stats.Violations > 0 {
		t.Fatalf("harness exit %d, %d violations\nstderr:\n%s", res.Code, res.Stats.Violations, tail(res.Stderr))
	}
	returned := res.Stats.Cleanups
	if hostFrees {
		returned = res.Stats.HostFrees
	}
	if res.Stats.Buffers == 0 || returned != res.Stats.Buffers {
		t.Fatalf("%d buffers handed out, %d returned (cleanups %d, host frees %d)", res.Stats.Buffers, returned, res.Stats.Cleanups, res.Stats.HostFrees)
	}
}

// firstOfEach is recs without the records delivered again: the first of
// each event_id.
func firstOfEach(recs []record) []record {
	var out []record
	seen := map[string]bool{}
	for _, r := range recs {
		if id, _ := r.Record["event_id"].(string); !seen[id] {
			seen[id] = true
			out = append(out, r)
		}
	}
	return out
}

func byInstance(recs []record, i int) []record {
	var out []record
	for _, r := range recs {
		if r.Instance == i {
			out = append(out, r)
		}
	}
	return out
}
