// Command adapters measures the auditpull hosts end to end, as processes,
// on one NordPass backfill served by the standalone simulator on loopback
// with rate limits off, and prints one table:
//
//   - auditpull in the Benthos build, in the Telegraf build (writing the
//     vendor's JSON one event per line with the examples' template
//     serializer, the bytes every Benthos row writes, and again with
//     Telegraf's JSON serializer), and the Fluent Bit plugin in the harness that plays Fluent Bit's Go proxy (once with
//     the defaults and once with max_undelivered_pages raised, because the
//     defaults cap a Fluent Bit backfill at 16 pages per 1-second collect);
//   - the peer: stock Benthos pulling the same pages with generate + http
//     processors + unarchive (see hostrun's peerConfig);
//   - filecopy: stock Benthos moving the events another row wrote, already
//     split, from a file to the same file output in batches of 100 — what
//     Benthos itself spends per message, without HTTP or JSON work.
//
// For each: events delivered, wall time from start to the last event,
// events/s, CPU seconds (user+system of the host process, from wait4) per
// million events, events per CPU-second and its ratio to the peer's, peak
// RSS (ru_maxrss) and the requests the simulator served. Runs are
// sequential, each from an empty checkpoint, on the same history, in -runs
// rounds; each row shows its median run and the spread (the default Fluent
// Bit row, bound by its collect timer, runs once). Nothing is asserted
// about timings; the run fails only if a host does not deliver every event,
// or if the token shows up in any log or output.
//
//	go run ./test/bench/adapters [-events 200000] [-runs 5] [-hosts benthos,telegraf,telegraf-json,fluentbit,fluentbit-tuned,peer,filecopy]
//
// Prebuilt binaries are taken from AUDITPULL_BENTHOS, AUDITPULL_TELEGRAF,
// AUDITPULL_FLUENTBIT_SO, AUDITPULL_FLUENTBIT_HARNESS and AUDITPULL_SIM
// (make bench passes build/out/...); missing ones are built.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/auditpull/auditpull/test/bench/hostrun"
)

// row is one measured configuration.
type row struct {
	key   string
	host  hostrun.Host
	label string
	extra hostrun.Input
	raw   bool // Telegraf: hostrun.Run.RawEvents
	// base: the binaries of an earlier build (-baseline), measured in
	// the same rounds as the current ones so that a change is compared
	// side by side, not against figures from another day.
	base *hostrun.Binaries

	// once: measured in the first round only (its figures are bound by a
	// timer, not by the CPU, and it takes long).
	once bool

	// The run with the median events per CPU-second, and the spread.
	measurement
	runs           []measurement // in round order
	minCPU, maxCPU float64
	err            error
}

// measurement is one run of one row.
type measurement struct {
	events   int
	wall     time.Duration
	usage    hostrun.Usage
	requests int64
}

func (m measurement) perCPU() float64 { return float64(m.events) / m.usage.CPU.Seconds() }

var variants = map[string]row{
	"benthos": {host: hostrun.Benthos},
	// As the examples configure it for a SIEM: the vendor's JSON, one event
	// per line, the bytes every Benthos row writes.
	"telegraf": {host: hostrun.Telegraf, label: hostrun.Telegraf.Title() + ", raw events (template)", raw: true},
	// Telegraf's JSON serializer: metrics, the event escaped in a field.
	"telegraf-json": {host: hostrun.Telegraf, label: hostrun.Telegraf.Title() + ", JSON metrics"},
	"fluentbit":     {host: hostrun.FluentBit, once: true},
	"fluentbit-tuned": {host: hostrun.FluentBit, label: hostrun.FluentBit.Title() + ", max_undelivered_pages 100",
		extra: hostrun.Input{"max_undelivered_pages": "100"}},
	"peer": {host: hostrun.Peer},
	// After another row: it replays that row's output.
	"filecopy": {host: hostrun.FileCopy},
}

func main() {
	events := flag.Int("events", 200_000, "events in the simulated 90-day history")
	span := flag.Duration("span", 2159*time.Hour, "length of the history, ending when the simulator starts")
	hosts := flag.String("hosts", "benthos,telegraf,telegraf-json,fluentbit,fluentbit-tuned,peer,filecopy", "what to run, in order")
	timeout := flag.Duration("timeout", 4*time.Minute, "longest run of one host")
	runs := flag.Int("runs", 5, "rounds over the hosts; each row reports its median run by events per CPU-second (the default Fluent Bit row runs once)")
	baseline := flag.String("baseline", "", "a directory holding an earlier build's benthos, telegraf, in_auditpull.so and fbharness: each host row is measured with them too, in the same rounds")
	flag.Parse()
	if err := run(*events, *span, strings.Split(*hosts, ","), *timeout, max(1, *runs), *baseline); err != nil {
		fmt.Fprintln(os.Stderr, "bench-adapters:", err)
		os.Exit(1)
	}
}

func run(events int, span time.Duration, keys []string, timeout time.Duration, runs int, baseline string) error {
	dir, err := os.MkdirTemp("", "auditpull-bench-adapters-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	var rows []*row
	var need []hostrun.Host
	for _, k := range keys {
		v, ok := variants[strings.TrimSpace(k)]
		if !ok {
			return fmt.Errorf("unknown host %q", k)
		}
		v.key = strings.TrimSpace(k)
		if v.label == "" {
			v.label = v.host.Title()
		}
		rows = append(rows, &v)
		need = append(need, v.host)
		if baseline != "" && v.host != hostrun.Peer && v.host != hostrun.FileCopy {
			b := v
			b.key, b.label = v.key+"-baseline", v.label+", baseline"
			b.base = &hostrun.Binaries{
				Benthos: filepath.Join(baseline, "benthos"), Telegraf: filepath.Join(baseline, "telegraf"),
				FluentBitSO: filepath.Join(baseline, "in_auditpull.so"), FluentBitHarness: filepath.Join(baseline, "fbharness"),
			}
			rows = append(rows, &b)
		}
	}
	bin, errs := hostrun.Find(dir, need...)
	for _, r := range rows {
		if err := errs[r.host]; err != nil {
			r.err = fmt.Errorf("not available: %w", err)
		}
	}

	token := "np-bench-" + randHex(12)
	const tokenEnv = "AP_BENCH_NORDPASS_TOKEN"
	simStart := time.Now()
	sim, err := startSim(dir, events, span, token)
	if err != nil {
		return err
	}
	defer sim.stop()
	start := simStart.Add(-span - 5*time.Minute).Truncate(time.Second)
	fmt.Printf("simulator: %d events over %s, serving at %s (rate limits off)\n", events, span, sim.url)

	for round := range runs {
		lastOut := "" // the events file of this round's latest complete run
		for i, r := range rows {
			if r.err != nil || (r.once && round > 0) {
				continue
			}
			rdir := filepath.Join(dir, fmt.Sprintf("%d-%d-%s", round, i, r.key))
			if err := os.MkdirAll(rdir, 0o755); err != nil {
				return err
			}
			rbin := bin
			if r.base != nil {
				rbin = *r.base
			}
			spec := hostrun.Run{
				Host: r.host, Bin: rbin, Dir: rdir, Out: filepath.Join(rdir, "events.ndjson"),
				Env: []string{tokenEnv + "=" + token}, RawEvents: r.raw,
			}
			if r.host == hostrun.FileCopy {
				if lastOut == "" {
					r.err = errors.New("filecopy replays the output of a row before it in -hosts")
					continue
				}
				spec.CopyIn = lastOut
			} else if r.host == hostrun.Peer {
				spec.PeerURL = sim.url + "/nordpass/activities/query"
				spec.PeerToken = "${" + tokenEnv + "}"
				spec.PeerWindows = days(start, time.Now())
			} else {
				in := hostrun.Input{
					"source":             "nordpass",
					"nordpass.base_url":  sim.url + "/nordpass",
					"nordpass.token":     "${" + tokenEnv + "}",
					"start_time":         start.UTC().Format(time.RFC3339),
					"settle_delay":       "0s",
					"rate_limit.enabled": "false",
					"checkpoint.path":    filepath.Join(rdir, "checkpoints"),
				}
				for k, v := range r.extra {
					in[k] = v
				}
				spec.Inputs = []hostrun.Input{in}
				spec.Records, spec.Timeout = events, timeout
			}
			fmt.Printf("round %d/%d: %s ...\n", round+1, runs, r.label)
			req0 := sim.requests.Load()
			m, err := measure(spec, events, timeout)
			time.Sleep(200 * time.Millisecond) // the simulator logs a request after answering it
			m.requests = sim.requests.Load() - req0
			if err == nil && m.events < events {
				err = fmt.Errorf("delivered %d of %d events", m.events, events)
			}
			if err != nil {
				r.err = err
				r.measurement = m
				continue
			}
			r.runs = append(r.runs, m)
			lastOut = spec.Out
		}
	}
	for _, r := range rows {
		if r.err != nil || len(r.runs) == 0 {
			continue
		}
		sorted := slices.Clone(r.runs)
		slices.SortFunc(sorted, func(a, b measurement) int { return cmp.Compare(a.perCPU(), b.perCPU()) })
		r.measurement = sorted[len(sorted)/2]
		r.minCPU, r.maxCPU = sorted[0].perCPU(), sorted[len(sorted)-1].perCPU()
	}

	leaks := grepToken(dir, token)
	printTable(os.Stdout, rows, events, span, runs)
	var failed []string
	for _, r := range rows {
		if r.err != nil {
			failed = append(failed, r.label+": "+r.err.Error())
		}
	}
	if len(leaks) > 0 {
		return fmt.Errorf("the token appears in %s", strings.Join(leaks, ", "))
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// measure runs one host until it has written events lines, then stops it
// the way its kind ends (SIGTERM; the harness and the peer exit by
// themselves) and collects its usage.
func measure(spec hostrun.Run, events int, timeout time.Duration) (measurement, error) {
	var m measurement
	p, err := spec.Start("host")
	if err != nil {
		return m, err
	}
	defer p.Kill()
	tail := &hostrun.Tail{Path: spec.Out}
	count := 0
	deadline := time.Now().Add(timeout)
	var last time.Time
	for count < events && time.Now().Before(deadline) && !p.Exited() {
		time.Sleep(25 * time.Millisecond)
		n := count
		if err := tail.Lines(func([]byte) { count++ }); err != nil {
			return m, err
		}
		if count > n {
			last = time.Now()
		}
	}
	switch spec.Host {
	case hostrun.FluentBit, hostrun.Peer, hostrun.FileCopy:
		err = p.Wait(30 * time.Second)
	default:
		err = p.Stop(30 * time.Second)
	}
	_ = tail.Lines(func([]byte) { count++ })
	m.events = count
	m.usage, _ = p.Usage()
	m.wall = last.Sub(p.Started)
	if err != nil {
		return m, fmt.Errorf("%w; stderr: %s", err, lastLines(p.Stderr, 5))
	}
	return m, nil
}

// days cuts [from, now) into day-long windows [from, to] (inclusive Unix
// seconds, as NordPass takes them), the last ending a second before now.
func days(from, now time.Time) [][2]int64 {
	var out [][2]int64
	end := now.Unix() - 1
	for f := from.Unix(); f <= end; f += 86400 {
		out = append(out, [2]int64{f, min(f+86399, end)})
	}
	return out
}

type simProc struct {
	cmd      *exec.Cmd
	url      string
	requests atomic.Int64
	done     chan struct{}
}

// startSim builds (or takes AUDITPULL_SIM) and starts the standalone
// simulator with request logging, which counts the requests.
func startSim(dir string, events int, span time.Duration, token string) (*simProc, error) {
	bin := os.Getenv("AUDITPULL_SIM")
	if bin == "" {
		root, err := hostrun.RepoRoot()
		if err != nil {
			return nil, err
		}
		bin = filepath.Join(dir, "auditpull-sim")
		// go run puts the bin of the toolchain running us first on PATH.
		build := exec.Command("go", "build", "-o", bin, "./test/sim/cmd/auditpull-sim")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building the simulator: %v\n%s", err, out)
		}
	}
	s := &simProc{done: make(chan struct{})}
	s.cmd = exec.Command(bin, "-listen", "127.0.0.1:0", "-events", fmt.Sprint(events), "-span", span.String(),
		"-rate-limit", "0", "-token", token, "-v")
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if bytes.Contains(sc.Bytes(), []byte(" POST /nordpass/activities/query ")) {
				s.requests.Add(1)
			}
		}
		close(s.done)
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("simulator: %v", err)
	}
	s.url = strings.TrimSpace(strings.TrimPrefix(line, "auditpull-sim listening on "))
	go io.Copy(io.Discard, stdout)
	return s, nil
}

func (s *simProc) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
	}
	_ = s.cmd.Wait()
}

// grepToken returns the files under dir (logs, outputs, checkpoints,
// configs of every run) that contain the token.
func grepToken(dir, token string) []string {
	var hits []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "auditpull-sim" {
			return nil
		}
		if d.Type().IsRegular() {
			if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(token)) {
				hits = append(hits, path)
			}
		}
		return nil
	})
	return hits
}

func lastLines(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func printTable(w io.Writer, rows []*row, events int, span time.Duration, runs int) {
	var peer *row
	for _, r := range rows {
		if r.host == hostrun.Peer && r.err == nil {
			peer = r
		}
	}
	fmt.Fprintf(w, "\nAdapter throughput: %s-event %.0f-day NordPass backfill from the simulator on loopback, rate limits off (%d CPUs, %s)\n",
		thousands(int64(events)), span.Hours()/24, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(w, "each row: its median of %d interleaved runs by events per CPU-second (spread: lowest–highest); vs peer: median of the\n", runs)
	fmt.Fprintf(w, "per-round ratios of events per CPU-second; CPU (user+system) and peak RSS are the host process's own (wait4)\n")
	table := [][]string{{"host", "events", "wall s", "events/s", "CPU s", "CPU s / 1M events", "events / CPU s", "(spread)", "vs peer", "peak RSS MiB", "requests"}}
	for _, r := range rows {
		if r.err != nil && r.events == 0 {
			table = append(table, []string{r.label, "—", "—", "—", "—", "—", "—", "—", "—", "—", "—"})
			continue
		}
		ratio := "—"
		if peer != nil && r != peer {
			ratio = fmt.Sprintf("%.2f×", pairedRatio(r, peer))
		}
		spread := "1 run"
		if len(r.runs) > 1 {
			spread = fmt.Sprintf("%s–%s", thousands(int64(r.minCPU)), thousands(int64(r.maxCPU)))
		}
		table = append(table, []string{r.label,
			thousands(int64(r.events)), fmt.Sprintf("%.1f", r.wall.Seconds()), thousands(int64(float64(r.events) / r.wall.Seconds())),
			fmt.Sprintf("%.2f", r.usage.CPU.Seconds()), fmt.Sprintf("%.2f", r.usage.CPU.Seconds()/float64(r.events)*1e6),
			thousands(int64(r.perCPU())), spread, ratio, fmt.Sprintf("%.0f", float64(r.usage.MaxRSS)/(1<<20)), thousands(r.requests)})
	}
	hostrun.PrintTable(w, table)
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(w, "  %s: %v\n", r.label, r.err)
		}
	}
}

// pairedRatio is the median, over the rounds, of the row's events per
// CPU-second divided by the peer's in the same round: runs close in time
// share the machine's background load, which moves both alike.
func pairedRatio(r, peer *row) float64 {
	var q []float64
	for i, m := range r.runs {
		if i < len(peer.runs) {
			q = append(q, m.perCPU()/peer.runs[i].perCPU())
		}
	}
	if len(q) == 0 {
		return math.NaN()
	}
	slices.Sort(q)
	return q[len(q)/2]
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[0] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
