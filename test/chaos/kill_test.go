package chaos

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/test/bench/hostrun"
)

const (
	// pageSize is the auditpull default; re-deliveries are reported in
	// pages of this size.
	pageSize = 100
	// killLatency is added to every API request of a kill run, so the
	// backfill lasts across the kills (about 20 pages per second).
	killLatency = 40 * time.Millisecond
	// Each run is killed after a uniformly random uptime in this range:
	// during startup, before the first event, mid-page, mid-checkpoint.
	minUptime, maxUptime = 100 * time.Millisecond, 3 * time.Second
)

// killResult is what one host's kill run measured.
type killResult struct {
	host          hostrun.Host
	kills         int
	events        int   // in the history
	lines         int   // events written, all runs together
	redelivered   []int // events written again after each kill
	midBackfill   int   // kills while events were still missing
	beforeFirst   int   // kills before the run wrote anything
	torn          int   // torn last lines after kills
	finalDuration time.Duration
	wall          time.Duration
	lost          int
	identical     int
	stop          string // how the last run ended
}

// killRun runs host h against a long backfill, kills it s.kills times at
// random moments, lets a last run finish, and checks the union of what all
// runs wrote against the truth.
func killRun(t *testing.T, s settings, bin hostrun.Binaries, h hostrun.Host, seed int64, art *artifacts) killResult {
	t0 := time.Now()
	res := killResult{host: h, kills: s.kills}
	// Enough history that the backfill outlasts the kills (a run lives 1.5
	// s on average and reads up to ~2,000 events a second).
	count := s.kills*3000 + 20000
	org := serveOrgs(t, seed, 1, count, killLatency, s.token)[0]
	truth := org.truth()
	res.events = len(truth)
	l, err := newLedger(truth)
	if err != nil {
		t.Fatal(err)
	}
	dir := art.dir(t, "kill-"+string(h))
	cp := filepath.Join(dir, "checkpoints")
	spec := hostrun.Run{Host: h, Bin: bin, Dir: dir, Env: []string{tokenEnv + "=" + s.token},
		Inputs: []hostrun.Input{org.input(cp)}}
	rnd := rand.New(rand.NewPCG(uint64(seed), 0x6b696c6c))

	// read adds a run's output to the ledger; final also takes the torn
	// rest of a killed writer's last line.
	read := func(tail *hostrun.Tail, final bool) (torn bool) {
		if err := tail.Lines(func(b []byte) { l.line(h, b) }); err != nil {
			t.Fatal(err)
		}
		if final && len(tail.Rest()) > 0 {
			return true // a line cut by SIGKILL: not delivered
		}
		return false
	}

	for run := 0; run <= s.kills; run++ {
		name := fmt.Sprintf("run-%03d", run)
		spec.Out = filepath.Join(dir, name+".ndjson")
		art.addFile(spec.Out)
		dups0, lines0 := l.dups, l.lines
		p, err := spec.Start(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Kill)
		art.addProc(p)
		tail := &hostrun.Tail{Path: spec.Out}

		if run < s.kills {
			up := minUptime + time.Duration(rnd.Int64N(int64(maxUptime-minUptime)))
			select {
			case <-p.Done():
				t.Fatalf("%s exited by itself after %s (%v):\n%s", name, time.Since(p.Started).Round(time.Millisecond), p.ExitErr(), tailOf(p.Stderr, 20))
			case <-time.After(up):
			}
			p.Kill()
			if read(tail, true) {
				res.torn++
			}
			if l.lines == lines0 {
				res.beforeFirst++
			}
			if l.missing > 0 {
				res.midBackfill++
			}
		} else {
			// The last run: until every event is there, then a little
			// longer (anything written twice would show), then a clean stop.
			tf := time.Now()
			limit := time.Now().Add(90*time.Second + time.Duration(l.missing)*time.Millisecond)
			for l.missing > 0 && time.Now().Before(limit) && !p.Exited() {
				time.Sleep(250 * time.Millisecond)
				read(tail, false)
			}
			res.finalDuration = time.Since(tf)
			time.Sleep(2 * time.Second)
			if err := p.Stop(30 * time.Second); err != nil {
				t.Errorf("%s did not stop cleanly on SIGTERM: %v\n%s", name, err, tailOf(p.Stderr, 20))
				res.stop = "FAILED"
			} else {
				res.stop = "SIGTERM, exit 0"
			}
			if read(tail, true) {
				res.torn++
			}
		}
		if run == 0 && l.dups > dups0 {
			t.Errorf("the first run (no kill before it) wrote %d events twice", l.dups-dups0)
		}
		if run > 0 {
			res.redelivered = append(res.redelivered, l.dups-dups0)
		}
	}
	if entries, err := os.ReadDir(cp); err == nil {
		for _, e := range entries {
			art.addFile(filepath.Join(cp, e.Name()))
		}
	}
	res.lines, res.lost, res.wall, res.identical = l.lines, l.missing, time.Since(t0), l.identical

	if l.missing > 0 {
		t.Errorf("%d of %d events LOST after %d kills; e.g.\n%s", l.missing, l.want, s.kills, strings.Join(l.missingSamples(3), "\n"))
	}
	if l.foreign > 0 || l.badLines > 0 {
		t.Errorf("%d events not in the history and %d unreadable lines; e.g.\n%s", l.foreign, l.badLines, strings.Join(l.samples, "\n"))
	}
	t.Logf("%s: %d kills, %d events, %d written (%d twice), %d kills mid-backfill, %d before the first event, %d torn lines; final run %s; %s in all",
		h, s.kills, l.want, l.lines, l.dups, res.midBackfill, res.beforeFirst, res.torn, res.finalDuration.Round(time.Millisecond), res.wall.Round(time.Second))
	return res
}

// tailOf returns the last n lines of a log file.
func tailOf(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
