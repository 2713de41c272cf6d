package benthos

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditpull/auditpull/test/sim"
)

// fleetRun is what one run of replicas sharing tenants measured.
type fleetRun struct {
	events      int
	killedHeld  int           // tenants the killed replica was reading, unfinished
	claimed     time.Duration // from the kill until the others held every unfinished tenant of the killed one
	takeover    time.Duration // … and had printed an event of each
	lost, twice int
}

// runFleet starts three built replicas sharing `tenants` NordPass
// organisations through one cache, kills one with SIGKILL part-way
// through the history, and checks that the others read everything: per
// tenant, the exact multiset, except what the killed replica had printed
// without having checkpointed it yet, which may come twice.
func runFleet(t testing.TB, kind string, tenants, perTenant int) fleetRun {
	bin := benthosBinary(t)
	cache := newSharedCache(t, kind)
	now := time.Now()
	from := now.Add(-48 * time.Hour).Truncate(time.Second)
	srv := sim.NewServer()
	truth := map[string]bag{}
	var list strings.Builder
	for i := range tenants {
		stream := fmt.Sprintf("org-%03d", i)
		np := sim.NewNordPass(sim.NordPassConfig{Seed: int64(500 + i), Count: perTenant, From: from, To: now.Add(-30 * time.Second), RateLimit: -1})
		tok := fmt.Sprintf("tok-%03d-never-logged", i)
		np.AddToken(tok, sim.TokenValid)
		srv.Mount("/"+stream, np)
		truth[stream] = bagOf(np.Truth(from.Add(-time.Hour), now))
		fmt.Fprintf(&list, "      - stream: %s\n        nordpass: {base_url: \"BASE/%s\", token: %s}\n", stream, stream, tok)
	}
	cs := newCountingServerFor(t, srv)
	conf := filepath.Join(t.TempDir(), "fleet.yaml")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`http:
  enabled: false
input:
  auditpull:
    source: nordpass
    start_time: %s
    poll_interval: 1s
    settle_delay: 5s
    page_size: 20
    max_undelivered_pages: 2
    checkpoint:
      cache: state
      lease_ttl: 2s
    tenants:
%s
%s
pipeline:
  processors:
    - sleep: { duration: 2ms } # slow, so a replica dies part-way
    - mapping: 'root = meta("stream") + " " + content().string()'
output:
  stdout: {}
`, from.Add(-time.Hour).UTC().Format(time.RFC3339), strings.ReplaceAll(list.String(), "BASE", cs.URL), cache.resources)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	a := startBinary(t, bin, nil, "-c", conf)
	b := startBinary(t, bin, nil, "-c", conf)
	c := startBinary(t, bin, nil, "-c", conf)
	fleet := []*proc{a, b, c}
	for _, p := range fleet {
		p.waitFor(t, 60*time.Second, "every replica to print events", func() bool { return p.count() > 50 })
	}
	time.Sleep(time.Second) // let them settle on their shares

	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-b.exited
	killed := time.Now()
	logsAt := []int{len(a.stderr.String()), len(c.stderr.String())}
	byB := byStream(b.snapshot())
	atKill := byStream(a.snapshot()).add(byStream(c.snapshot())).add(byB)
	unfinished := map[string]bool{}
	for s := range heldBy(b.stderr.String()) {
		if atKill[s].size() < truth[s].size() {
			unfinished[s] = true
		}
	}
	if len(unfinished) == 0 {
		t.Fatalf("the killed replica had finished all its tenants (its log names %d it held, it printed events of %d); the test needs a kill part-way", len(heldBy(b.stderr.String())), len(byB))
	}
	var run fleetRun
	run.killedHeld = len(unfinished)
	var claimed, takenOver time.Time
	done := func() bool {
		all := byStream(a.snapshot()).add(byStream(c.snapshot())).add(byB)
		if claimed.IsZero() {
			logs := a.stderr.String()[logsAt[0]:] + c.stderr.String()[logsAt[1]:]
			ok := true
			for s := range unfinished {
				ok = ok && claimedIn(logs, s)
			}
			if ok {
				claimed = time.Now()
			}
		}
		if takenOver.IsZero() {
			after := linesSince(killed, a, c)
			ok := true
			for s := range unfinished {
				ok = ok && after[s]
			}
			if ok {
				takenOver = time.Now()
			}
		}
		for s, want := range truth {
			for k, n := range want {
				if all[s][k] < n {
					return false
				}
			}
		}
		return !takenOver.IsZero() && !claimed.IsZero()
	}
	for _, p := range []*proc{a, c} {
		p.waitFor(t, 120*time.Second, "the surviving replicas to deliver every tenant's events", done)
	}
	time.Sleep(2 * time.Second) // more polls: nothing new may come
	a.terminate(t)
	c.terminate(t)
	run.takeover = takenOver.Sub(killed)
	run.claimed = claimed.Sub(killed)
	all := byStream(a.snapshot()).add(byStream(c.snapshot())).add(byB)
	for s, want := range truth {
		got := all[s]
		for k, n := range want {
			run.events += n
			if got[k] < n {
				run.lost += n - got[k]
			} else {
				run.twice += got[k] - n
			}
		}
		for k := range got {
			if want[k] == 0 {
				t.Fatalf("%s: an event that tenant never had: %.120s", s, k)
			}
		}
	}
	if strings.Contains(a.stderr.String()+c.stderr.String(), "-never-logged") {
		t.Fatal("a tenant's token appears in the logs")
	}
	return run
}

// heldBy lists the tenants a replica's log says it reads at its end: claimed
// and not handed over or lost since.
func heldBy(logs string) map[string]bool {
	held := map[string]bool{}
	for _, l := range strings.Split(logs, "\n") {
		_, after, ok := strings.Cut(l, " stream=")
		if !ok {
			continue
		}
		stream, _, _ := strings.Cut(after, " ")
		switch {
		case strings.Contains(l, "reading tenant: its lease"):
			held[stream] = true
		case strings.Contains(l, "tenant handed over"), strings.Contains(l, "lease lost"):
			delete(held, stream)
		}
	}
	return held
}

// claimedIn reports whether logs hold a replica's claim of stream.
func claimedIn(logs, stream string) bool {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "reading tenant: its lease") && strings.Contains(l, "stream="+stream) {
			return true
		}
	}
	return false
}

// byStream splits printed lines ("stream raw-event") into a bag per stream.
func byStream(lines [][]byte) streamBags {
	out := streamBags{}
	for _, l := range lines {
		s, raw, _ := bytes.Cut(l, []byte(" "))
		if out[string(s)] == nil {
			out[string(s)] = bag{}
		}
		out[string(s)][string(raw)]++
	}
	return out
}

type streamBags map[string]bag

func (x streamBags) add(y streamBags) streamBags {
	out := streamBags{}
	for _, m := range []streamBags{x, y} {
		for s, b := range m {
			if out[s] == nil {
				out[s] = bag{}
			}
			out[s] = out[s].add(b)
		}
	}
	return out
}

// linesSince reports the streams printed by ps after t.
func linesSince(t time.Time, ps ...*proc) map[string]bool {
	out := map[string]bool{}
	for _, p := range ps {
		p.mu.Lock()
		for i, at := range p.times {
			if at.After(t) {
				s, _, _ := bytes.Cut(p.lines[i], []byte(" "))
				out[string(s)] = true
			}
		}
		p.mu.Unlock()
	}
	return out
}

func TestBinaryReplicasShareTenantsAndAKilledOnesAreTakenOverWithNothingLost(t *testing.T) {
	kind := "file"
	if hasRedis {
		kind = "redis"
	}
	run := runFleet(t, kind, 30, 400)
	if run.lost > 0 {
		t.Fatalf("%d of %d events lost", run.lost, run.events)
	}
	// Pages of 20, at most 2 unacknowledged per tenant plus what Benthos
	// had in flight: a bound well above that proves no wholesale re-read.
	if run.twice > run.killedHeld*100 {
		t.Errorf("%d events delivered twice; want at most the killed replica's pages in flight", run.twice)
	}
	// The killed replica's leases (2s) expire at most 2s after its last
	// renewal; the others see its slot gone within a quarter TTL and claim
	// its tenants every third of a second. The file cache keeps expired
	// entries: they are replaced one whole TTL after their recorded expiry.
	bound := 8 * time.Second
	if kind == "file" {
		bound = 12 * time.Second
	}
	if run.claimed > bound {
		t.Errorf("the killed replica's tenants were claimed %s after the kill; want about the lease TTL (2s)", run.claimed)
	}
	t.Logf("%s cache: 3 replicas, 30 tenants, %d events; the killed one was reading %d unfinished tenants; the others held them %s after the kill and had printed from each %s after it; %d lost, %d delivered twice",
		kind, run.events, run.killedHeld, run.claimed.Round(time.Millisecond), run.takeover.Round(time.Millisecond), run.lost, run.twice)
}

// BenchmarkThreeReplicasSharing300Tenants is the fleet at scale (make
// bench): 300 NordPass organisations of 100 events, three replicas over
// Redis, one killed with SIGKILL part-way.
func BenchmarkThreeReplicasSharing300Tenants(b *testing.B) {
	if !hasRedis {
		b.Skip("needs the redis cache")
	}
	for range b.N {
		run := runFleet(b, "redis", 300, 100)
		if run.lost > 0 {
			b.Fatalf("%d of %d events lost", run.lost, run.events)
		}
		b.ReportMetric(run.claimed.Seconds(), "claimed-s")
		b.ReportMetric(run.takeover.Seconds(), "printed-s")
		b.ReportMetric(float64(run.lost), "lost")
		b.ReportMetric(float64(run.twice), "redelivered")
		b.ReportMetric(float64(run.killedHeld), "killed-tenants")
		b.Logf("300 tenants, %d events; the killed replica was reading %d unfinished tenants; the others held them %s after the kill and had printed from each %s after it; %d lost, %d delivered twice",
			run.events, run.killedHeld, run.claimed.Round(time.Millisecond), run.takeover.Round(time.Millisecond), run.lost, run.twice)
	}
}
