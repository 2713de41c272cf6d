package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/test/bench/hostrun"
	"github.com/auditpull/auditpull/test/sim"
)

const (
	// faultOrgs organizations are read by one host process, each by its
	// own input, so the waits (429, timeouts, slow answers) overlap.
	faultOrgs = 16
	// faultRate of the data requests fail.
	faultRate = 0.5
	// faultPageSize keeps pages small: many requests for few events.
	faultPageSize = 10
)

// faultMix is what a failing request gets, drawn uniformly from this list
// (repeats weight it): mostly fast failures, and a few that cost real time
// — 429 with Retry-After (at least a second), answers slower than the
// request timeout, and slow answers within it.
func faultMix() []sim.Fault {
	var mix []sim.Fault
	add := func(n int, f sim.Fault) {
		for range n {
			mix = append(mix, f)
		}
	}
	for _, status := range []int{500, 502, 503, 504} {
		add(6, sim.Fault{Kind: sim.FaultStatus5xx, Status: status})
	}
	add(24, sim.Fault{Kind: sim.FaultReset})
	add(20, sim.Fault{Kind: sim.FaultTruncated})
	add(20, sim.Fault{Kind: sim.FaultInvalidJSON})
	add(8, sim.Fault{Kind: sim.FaultLatency, Delay: 100 * time.Millisecond})
	add(1, sim.Fault{Kind: sim.FaultLatency, Delay: 1500 * time.Millisecond}) // > request_timeout
	add(1, sim.Fault{Kind: sim.FaultThrottle, RetryAfter: time.Second})
	return mix
}

// faultResult is what one fault run measured.
type faultResult struct {
	host     hostrun.Host
	orgs     int
	events   int
	requests int
	injected map[sim.FaultKind]int
	faults   int
	lines    int
	wall     time.Duration
	lost     int
	dups     int
}

// faultRun has host h read faultOrgs organizations whose APIs fail about
// half the requests, until at least s.faults faults were injected, and
// requires every event exactly once.
func faultRun(t *testing.T, s settings, bin hostrun.Binaries, h hostrun.Host, seed int64, art *artifacts) faultResult {
	t0 := time.Now()
	// About one successful request per page and as many failed ones: 20%
	// more pages than faults wanted.
	perOrg := (s.faults*12/10*faultPageSize + faultOrgs - 1) / faultOrgs
	orgs := serveOrgs(t, seed, faultOrgs, perOrg, 0, s.token)
	dir := art.dir(t, "faults-"+string(h))
	cp := filepath.Join(dir, "checkpoints")
	var truth [][]byte
	spec := hostrun.Run{Host: h, Bin: bin, Dir: dir, Out: filepath.Join(dir, "events.ndjson"),
		Env: []string{tokenEnv + "=" + s.token}}
	for i, o := range orgs {
		truth = append(truth, o.truth()...)
		o.np.Faults().Random(faultRate, seed*1000+int64(i), faultMix()...)
		in := o.input(cp)
		in["stream"] = fmt.Sprintf("faulty-%02d", i)
		in["page_size"] = fmt.Sprint(faultPageSize)
		in["request_timeout"] = "1s"
		in["retry.initial_backoff"] = "10ms"
		in["retry.max_backoff"] = "200ms"
		in["poll_interval"] = "1s"
		spec.Inputs = append(spec.Inputs, in)
	}
	res := faultResult{host: h, orgs: faultOrgs, events: len(truth), injected: map[sim.FaultKind]int{}}
	l, err := newLedger(truth)
	if err != nil {
		t.Fatal(err)
	}
	art.addFile(spec.Out)
	p, err := spec.Start("faults")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	art.addProc(p)
	tail := &hostrun.Tail{Path: spec.Out}
	limit := time.Now().Add(5 * time.Minute)
	for l.missing > 0 && time.Now().Before(limit) && !p.Exited() {
		time.Sleep(250 * time.Millisecond)
		if err := tail.Lines(func(b []byte) { l.line(h, b) }); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second) // anything delivered twice would show now
	if h == hostrun.FluentBit {
		p.Kill() // the harness has no signal handling
	} else if err := p.Stop(30 * time.Second); err != nil {
		t.Errorf("did not stop cleanly on SIGTERM: %v\n%s", err, tailOf(p.Stderr, 20))
	}
	if err := tail.Lines(func(b []byte) { l.line(h, b) }); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(cp); err == nil {
		for _, e := range entries {
			art.addFile(filepath.Join(cp, e.Name()))
		}
	}
	for _, o := range orgs {
		res.requests += o.np.Requests()
		for k, n := range o.np.Faults().Injected() {
			res.injected[k] += n
			res.faults += n
		}
	}
	res.lines, res.lost, res.dups, res.wall = l.lines, l.missing, l.dups, time.Since(t0)

	if l.missing > 0 {
		t.Errorf("%d of %d events LOST under %d faults; e.g.\n%s\nlog:\n%s", l.missing, l.want, res.faults,
			strings.Join(l.missingSamples(3), "\n"), tailOf(p.Stderr, 20))
	}
	if l.dups > 0 || l.foreign > 0 || l.badLines > 0 {
		t.Errorf("%d events written twice, %d not in the history, %d unreadable lines (no crash here: every event exactly once); e.g.\n%s",
			l.dups, l.foreign, l.badLines, strings.Join(l.samples, "\n"))
	}
	if res.faults < s.faults {
		t.Errorf("only %d faults were injected, %d wanted: the history is too small for the fault rate", res.faults, s.faults)
	}
	t.Logf("%s: %d events from %d organizations, %d requests, %d faults (%s), %s",
		h, l.want, faultOrgs, res.requests, res.faults, kinds(res.injected), res.wall.Round(time.Second))
	return res
}

// kinds renders fault counts by kind.
func kinds(m map[sim.FaultKind]int) string {
	var ks []sim.FaultKind
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
