package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/tinylib/msgp/msgp"

	"github.com/auditpull/auditpull/test/sim"
)

// simOrg serves one simulated NordPass organization with n events, all
// older than the settle delay, and returns the properties of an instance
// reading it.
func simOrg(t *testing.T, n int, seed int64, dir string) map[string]string {
	t.Helper()
	to := time.Now().Add(-10 * time.Minute)
	np := sim.NewNordPass(sim.NordPassConfig{Seed: seed, Count: n, From: to.Add(-24 * time.Hour), To: to})
	token := fmt.Sprintf("unit-token-%d", seed)
	np.AddToken(token, sim.TokenValid)
	hs := httptest.NewServer(sim.NewServer().Mount(sim.NordPassPrefix, np))
	t.Cleanup(hs.Close)
	return map[string]string{
		"source":            "nordpass",
		"nordpass.base_url": hs.URL + sim.NordPassPrefix,
		"nordpass.token":    token,
		"initial_lookback":  "2d",
		"checkpoint.path":   dir,
		"page_size":         "50",
		// Commit at the next callback: these tests are about other
		// things; TestCommitWaitsForTheRingBufferToDrain is about this.
		commitDelayKey: "0s",
	}
}

// freshRegistry gives the test a registry of its own.
func freshRegistry(t *testing.T) {
	t.Helper()
	prev := reg
	reg = newRegistry()
	t.Cleanup(func() { reg.exit(0); reg = prev })
	captureLog(t)
}

// countRecords counts back-to-back [EventTime, map] records; their content
// is internal/fbrecord's to test.
func countRecords(t *testing.T, b []byte) int {
	t.Helper()
	n := 0
	for ; len(b) > 0; n++ {
		sz, rest, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil || sz != 2 || len(rest) < 10 || rest[0] != 0xd7 || rest[1] != 0 || msgp.NextType(rest[10:]) != msgp.MapType {
			t.Fatalf("record %d is not [EventTime, map]: %x", n, b[:min(len(b), 32)])
		}
		if b, err = msgp.Skip(rest[10:]); err != nil {
			t.Fatalf("record %d: %v", n, err)
		}
	}
	return n
}

// drainAll collects (and cleans up) until n records arrived or time is up.
func drainAll(t *testing.T, handle uintptr, tid uint64, n int) int {
	t.Helper()
	got := 0
	deadline := time.Now().Add(20 * time.Second)
	for got < n && time.Now().Before(deadline) {
		c := collect(handle, tid)
		if !c.ok {
			t.Fatalf("collect: no instance for handle %d / thread %d", handle, tid)
		}
		if c.size == 0 {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		data := unsafe.Slice((*byte)(c.buf), c.size)
		got += countRecords(t, data)
		if rc := cleanup(c.buf); int(rc) != 1 {
			t.Fatalf("cleanup returned %d", rc)
		}
	}
	return got
}

func TestInstancesAreFoundByHandleOrThread(t *testing.T) {
	freshRegistry(t)
	a, err := reg.start(props(simOrg(t, 10, 1, t.TempDir())), host{level: levelInfo}, 101)
	if err != nil {
		t.Fatal(err)
	}
	if reg.lookup(0, 999) != a {
		t.Error("with one instance, a plain callback from any thread is that instance's")
	}
	b, err := reg.start(props(simOrg(t, 10, 2, t.TempDir())), host{level: levelInfo}, 102)
	if err != nil {
		t.Fatal(err)
	}
	if a.name != "auditpull.0" || b.name != "auditpull.1" || a.id == b.id {
		t.Errorf("names %s %s, handles %d %d", a.name, b.name, a.id, b.id)
	}
	cases := []struct {
		handle uintptr
		tid    uint64
		want   *instance
	}{
		{a.id, 0, a}, {b.id, 0, b}, {b.id, 101, b}, // the handle decides
		{0, 101, a}, {0, 102, b}, // plain callbacks: the thread decides
		{0, 999, nil}, {12345, 101, nil},
	}
	for _, c := range cases {
		if got := reg.lookup(c.handle, c.tid); got != c.want {
			t.Errorf("lookup(%d, %d) = %v, want %v", c.handle, c.tid, got, c.want)
		}
	}
	if c := collect(0, 999); c.ok || c.buf != nil || c.size != 0 {
		t.Errorf("collect for no instance = %+v, want size 0, no buffer, error", c)
	}
}

func TestExitStopsTheCallingThreadsInstance(t *testing.T) {
	freshRegistry(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	a, err := reg.start(props(simOrg(t, 120, 3, dirA)), host{level: levelInfo}, 201)
	if err != nil {
		t.Fatal(err)
	}
	b, err := reg.start(props(simOrg(t, 120, 4, dirB)), host{level: levelInfo}, 202)
	if err != nil {
		t.Fatal(err)
	}
	if got := drainAll(t, a.id, 201, 120); got != 120 {
		t.Fatalf("instance a delivered %d of 120", got)
	}
	reg.exit(201)
	if reg.lookup(a.id, 0) != nil || reg.lookup(b.id, 0) != b {
		t.Fatal("exit on a's thread must stop a and only a")
	}
	if c := collect(a.id, 201); c.ok {
		t.Error("a stopped instance is no longer found")
	}
	if files, _ := filepath.Glob(filepath.Join(dirA, "*.json")); len(files) != 1 {
		t.Errorf("a's checkpoint was not written at exit: %v", files)
	}
	if got := drainAll(t, b.id, 202, 120); got != 120 {
		t.Fatalf("instance b delivered %d of 120 after a stopped", got)
	}
	reg.exit(777) // unknown thread: stop everything
	if len(reg.insts) != 0 || reg.ordinal != 0 {
		t.Errorf("after exit from a foreign thread: %d instances, ordinal %d", len(reg.insts), reg.ordinal)
	}
	reg.exit(202) // nothing left: harmless
}

func TestCleanupOfAForeignOrRepeatedBufferIsRefused(t *testing.T) {
	freshRegistry(t)
	in, err := reg.start(props(simOrg(t, 50, 5, t.TempDir())), host{level: levelInfo}, 301)
	if err != nil {
		t.Fatal(err)
	}
	var c collected
	for deadline := time.Now().Add(10 * time.Second); c.size == 0 && time.Now().Before(deadline); {
		c = collect(in.id, 301)
		time.Sleep(5 * time.Millisecond)
	}
	if c.size == 0 {
		t.Fatal("no records")
	}
	if rc := cleanup(c.buf); int(rc) != 1 {
		t.Fatalf("first cleanup returned %d", rc)
	}
	if rc := cleanup(c.buf); int(rc) != 0 { // a double free would crash
		t.Fatalf("second cleanup of the same buffer returned %d, want 0 (refused)", rc)
	}
	if rc := cleanup(nil); int(rc) != 1 {
		t.Fatalf("cleanup(NULL) returned %d", rc)
	}
}

// A host without a cleanup callback frees the buffer itself; the batches are
// acked at the next collect, so the checkpoint still advances.
func TestBuffersNotCleanedUpAreAckedAtTheNextCollect(t *testing.T) {
	freshRegistry(t)
	dir := t.TempDir()
	p := simOrg(t, 100, 6, dir)
	p["stream"] = "settle"
	in, err := reg.start(props(p), host{level: levelInfo}, 401)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for deadline := time.Now().Add(10 * time.Second); got < 100 && time.Now().Before(deadline); {
		c := collect(in.id, 401)
		if c.size > 0 {
			got += countRecords(t, unsafe.Slice((*byte)(c.buf), c.size))
			hostFree(c.buf) // the host's free(), no cleanup callback
		}
		time.Sleep(5 * time.Millisecond)
	}
	reg.exit(401) // on the instance's thread: the last buffer was taken too
	b, err := os.ReadFile(filepath.Join(dir, "settle.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got != 100 || !strings.Contains(string(b), `"cursor"`) {
		t.Errorf("delivered %d; checkpoint %s", got, b)
	}
	if len(reg.buffers) != 0 {
		t.Errorf("%d buffers still tracked", len(reg.buffers))
	}
}

// When Fluent Bit calls cleanup, a collect's records are only in the
// input's ring buffer; the engine moves them into a chunk up to 250 ms
// later. The checkpoint moves past them only once the input has run for
// commit_delay since: a crash before re-delivers the collect, a crash
// after re-delivers nothing. Each case plays Fluent Bit's callbacks on one
// instance holding exactly one page, then crashes: a new process starts
// from what is on disk at that moment.
func TestCommitWaitsForTheRingBufferToDrain(t *testing.T) {
	const delay = 150 * time.Millisecond
	type step func(in *instance, tid uint64)
	later := func(in *instance, tid uint64) { // a later collect, past commit_delay
		time.Sleep(delay + 50*time.Millisecond)
		if c := collect(in.id, tid); c.size != 0 {
			t.Fatalf("a later collect handed out %d more bytes; the case needs one page", c.size)
		}
	}
	soon := func(in *instance, tid uint64) { // a later collect within commit_delay
		if c := collect(in.id, tid); c.size != 0 {
			t.Fatalf("a later collect handed out %d more bytes", c.size)
		}
	}
	pause := func(in *instance, tid uint64) { in.pause(time.Now()) }
	resume := func(in *instance, tid uint64) { in.resume(time.Now()) }
	cases := []struct {
		name        string
		after       []step // after the collect that took the page was cleaned up
		redelivered bool
	}{
		{name: "a crash right after cleanup re-delivers the collect", redelivered: true},
		{name: "a crash after a collect within commit_delay re-delivers it", after: []step{soon}, redelivered: true},
		{name: "a crash after a collect past commit_delay re-delivers nothing", after: []step{later}},
		{name: "a pause right after the append holds the commit", after: []step{pause, later}, redelivered: true},
		{name: "after a resume the input must run commit_delay again", after: []step{pause, later, resume, soon}, redelivered: true},
		{name: "after a resume and commit_delay the collect is committed", after: []step{pause, later, resume, later}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			freshRegistry(t)
			dir := t.TempDir()
			p := simOrg(t, 50, int64(20+i), dir) // one page of 50
			p["stream"] = "crash"
			p[commitDelayKey] = delay.String()
			tid := uint64(600 + i)
			a, err := reg.start(props(p), host{level: levelInfo}, tid)
			if err != nil {
				t.Fatal(err)
			}
			first := 0
			for deadline := time.Now().Add(10 * time.Second); first == 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if cl := collect(a.id, tid); cl.size > 0 {
					first = countRecords(t, unsafe.Slice((*byte)(cl.buf), cl.size))
					if rc := cleanup(cl.buf); int(rc) != 1 {
						t.Fatalf("cleanup returned %d", rc)
					}
				}
			}
			if first != 50 {
				t.Fatalf("the first collect took %d records, want the page of 50", first)
			}
			for _, st := range c.after {
				st(a, tid)
			}
			// The crash: a new process finds what is on disk now.
			crashed := t.TempDir()
			files, _ := os.ReadDir(dir)
			for _, f := range files {
				b, err := os.ReadFile(filepath.Join(dir, f.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(crashed, f.Name()), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			reg.exit(tid) // what it writes now no longer matters
			p["checkpoint.path"] = crashed
			b, err := reg.start(props(p), host{level: levelInfo}, tid+1000)
			if err != nil {
				t.Fatal(err)
			}
			again := drainFor(t, b.id, tid+1000, time.Second)
			reg.exit(tid + 1000)
			if want := map[bool]int{true: 50, false: 0}[c.redelivered]; again != want {
				t.Errorf("after the crash %d records were delivered again, want %d", again, want)
			}
		})
	}
}

// drainFor collects and cleans up for d, and returns the records taken.
func drainFor(t *testing.T, handle uintptr, tid uint64, d time.Duration) int {
	t.Helper()
	n := 0
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if c := collect(handle, tid); c.size > 0 {
			n += countRecords(t, unsafe.Slice((*byte)(c.buf), c.size))
			cleanup(c.buf)
		}
	}
	return n
}

// Fluent Bit calls every instance from its own thread: collect, cleanup
// and exit race. Run under -race.
func TestConcurrentInstances(t *testing.T) {
	freshRegistry(t)
	const n, per = 3, 150
	var ins []*instance
	for i := range n {
		in, err := reg.start(props(simOrg(t, per, int64(10+i), t.TempDir())), host{level: levelInfo}, uint64(500+i))
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in)
	}
	var wg sync.WaitGroup
	counts := make([]int, n)
	for i, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i] = drainAll(t, in.id, uint64(500+i), per)
			reg.exit(uint64(500 + i))
		}()
	}
	wg.Wait()
	for i, c := range counts {
		if c != per {
			t.Errorf("instance %d delivered %d of %d", i, c, per)
		}
	}
	if len(reg.insts) != 0 || len(reg.buffers) != 0 {
		t.Errorf("left behind: %d instances, %d buffers", len(reg.insts), len(reg.buffers))
	}
}

func TestDrainKeepsToTheBudget(t *testing.T) {
	in := &instance{opts: pluginOptions{budget: 100}, queue: make(chan ready, 10)}
	for _, size := range []int{40, 40, 40, 300, 10} {
		in.queue <- ready{data: make([]byte, size)}
	}
	var got [][]int
	for range 4 {
		pieces, total := in.drain()
		var sizes []int
		sum := 0
		for _, p := range pieces {
			sizes = append(sizes, len(p.data))
			sum += len(p.data)
		}
		if sum != total {
			t.Fatalf("total %d, pieces sum to %d", total, sum)
		}
		got = append(got, sizes)
	}
	want := "[[40 40] [40] [300] [10]]" // a page larger than the budget goes alone
	if fmt.Sprint(got) != want {
		t.Errorf("drains %v, want %s", got, want)
	}
}
