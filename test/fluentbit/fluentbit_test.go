package fluentbit

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/test/sim"
)

const events = 1200

func token(name string) string { return "tok-" + name + "-" + strings.Repeat("x", 20) }

func TestDeliversExactlyTheSimulatorsEvents(t *testing.T) {
	cases := []struct {
		name      string
		abi       string
		noCleanup bool
		interval  int
	}{
		{name: "fluent bit 4.1 calls the ctx callbacks", abi: "4.1"},
		{name: "fluent bit 2.2 to 4.0 call the plain callbacks", abi: "2.1"},
		{name: "a host without cleanup callback frees the buffer itself", abi: "4.1", noCleanup: true},
		{name: "on fluent bit's one-second timer", abi: "4.1", interval: 1000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := newOrgs(t, events, token("exact"))[0]
			res := harnessRun{
				ABI: c.abi, NoCleanup: c.noCleanup, IntervalMS: c.interval, Records: events,
				Instances: [][]string{o.props(t.TempDir(), "stream=exact")},
			}.run(t)
			assertClean(t, res, c.noCleanup)
			assertSameEvents(t, res.Records, o.truth())
			assertRecordShape(t, res.Records, "exact")
			assertNoSecret(t, res, o.token)
			if got, want := res.Stats.Instances[0].RemoteContext, c.abi == "4.1"; got != want {
				t.Errorf("remote_context set = %v, want %v (only Fluent Bit >= 4.1 has one)", got, want)
			}
		})
	}
}

func TestSeveralInstancesRunConcurrently(t *testing.T) {
	for _, abi := range []string{"4.1", "2.1"} {
		name := map[string]string{
			"4.1": "ctx callbacks find their instance by handle",
			"2.1": "plain callbacks find their instance by thread",
		}[abi]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			orgs := newOrgs(t, 500, token("a"), token("b"), token("c"))
			dir := t.TempDir() // one checkpoint directory: the streams differ
			run := harnessRun{ABI: abi, IntervalMS: 100, Records: 1500}
			for _, o := range orgs {
				run.Instances = append(run.Instances, o.props(dir, "callback_max_bytes=16K"))
			}
			res := run.run(t)
			assertClean(t, res, false)
			streams := map[string]bool{}
			for i, o := range orgs {
				got := byInstance(res.Records, i)
				assertSameEvents(t, got, o.truth())
				assertRecordShape(t, got, "")
				streams[got[0].Record["stream"].(string)] = true
				assertNoSecret(t, res, o.token)
			}
			if len(streams) != len(orgs) {
				t.Errorf("instances share streams: %v", streams)
			}
			for i, st := range res.Stats.Instances {
				if st.Buffers < 2 {
					t.Errorf("instance %d got %d buffers; the byte budget should have spread it over several callbacks", i, st.Buffers)
				}
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
			if len(files) != len(orgs) {
				t.Errorf("checkpoint files %v, want one per instance", files)
			}
		})
	}
}

// A stopped Fluent Bit restarts where delivery ended. The checkpoint
// covers only collects the engine has had commit_delay to move out of the
// ring buffer before the stop (Fluent Bit pauses every input first), so
// the newest collects of the first run are delivered again: at-least-once,
// and only that tail.
func TestRestartResumesFromTheCheckpoint(t *testing.T) {
	const interval, delay = 100, 200 * time.Millisecond
	cases := []struct {
		name         string
		abi          string
		noCleanup    bool
		exitFromMain bool
		term         bool // stopped by SIGTERM instead of at a record count
	}{
		{name: "exit on the instance's thread", abi: "4.1"},
		{name: "exit from another thread stops every instance", abi: "4.1", exitFromMain: true},
		{name: "plain callbacks", abi: "2.1"},
		{name: "host frees the buffers", abi: "4.1", noCleanup: true},
		{name: "SIGTERM shuts down like Fluent Bit", abi: "4.1", term: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := newOrgs(t, events, token("restart"))[0]
			dir := t.TempDir()
			// A budget of about one page per callback, so the first run stops
			// part-way through the history.
			props := o.props(dir, "callback_max_bytes=16K", "commit_delay="+delay.String())
			first := harnessRun{ABI: c.abi, NoCleanup: c.noCleanup, ExitFromMain: c.exitFromMain, IntervalMS: interval,
				Records: events / 3, Instances: [][]string{props}}
			if c.term {
				first.Records, first.TermAt = 0, events/3
			}
			res := first.run(t)
			assertClean(t, res, c.noCleanup)
			if n := len(res.Records); n >= events {
				t.Fatalf("first run delivered %d of %d records: the restart would test nothing", n, events)
			}
			second := harnessRun{ABI: c.abi, NoCleanup: c.noCleanup, IntervalMS: interval,
				Idle: 1500 * time.Millisecond, Instances: [][]string{props}}.run(t)
			assertClean(t, second, c.noCleanup)
			if !strings.Contains(second.Stderr, "resuming from checkpoint") {
				t.Errorf("second run did not resume from the checkpoint:\n%s", tail(second.Stderr))
			}
			// At most the collects of the last commit_delay (and the one
			// in progress), one page each.
			again := assertRestartLosesNothing(t, res.Records, second.Records, o.truth(), (int(delay/time.Millisecond)/interval+2)*100)
			t.Logf("first run %d records, second %d, %d delivered again", len(res.Records), len(second.Records), again)
		})
	}
}

// assertRestartLosesNothing checks two runs across a restart: together they
// hold every event of truth, and what they hold twice is exactly the tail
// of the first run's output, at most maxAgain records. It returns how many
// records were delivered again.
func assertRestartLosesNothing(t *testing.T, first, second []record, truth [][]byte, maxAgain int) int {
	t.Helper()
	all := append(append([]record(nil), first...), second...)
	again := len(all) - len(truth)
	if again < 0 {
		assertSameEvents(t, all, truth) // names what is missing
	}
	if again > maxAgain || again > len(first) {
		t.Fatalf("%d records delivered again (the runs hold %d, the truth %d); want 0 to %d", again, len(all), len(truth), maxAgain)
	}
	// Remove the first run's tail: what is left must be the truth exactly.
	once := append(append([]record(nil), first[:len(first)-again]...), second...)
	assertSameEvents(t, once, truth)
	return again
}

func TestBadConfigurationFailsInitCleanly(t *testing.T) {
	o := org{base: "http://127.0.0.1:1/nordpass", token: token("bad"), from: time.Now().Add(-time.Hour)}
	corrupt := t.TempDir()
	if err := os.WriteFile(filepath.Join(corrupt, "broken.json"), []byte(`{"version": 1, "cursor": `), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		props []string
		want  []string // in the log, in this order
	}{
		{"missing token", []string{"source=nordpass", "checkpoint.type=memory"}, []string{"nordpass.token", "required"}},
		{"page size beyond the vendor's limit", o.props(t.TempDir(), "page_size=500"), []string{"page_size", "500"}},
		{"unknown region", o.props(t.TempDir(), "nordpass.region=mars"), []string{"nordpass.region", "mars"}},
		{"unknown source", []string{"source=nordpazz"}, []string{"source", "nordpazz"}},
		{"no source", []string{"nordpass.token=" + o.token}, []string{"source", "required"}},
		{"underscored property name", []string{"source=nordpass", "nordpass_token=" + o.token}, []string{"nordpass_token", "nordpass.token"}},
		{"bad duration", o.props(t.TempDir(), "poll_interval=soon"), []string{"poll_interval"}},
		{"bad callback budget", o.props(t.TempDir(), "callback_max_bytes=lots"), []string{"callback_max_bytes"}},
		{"corrupt checkpoint", o.props(corrupt, "stream=broken"), []string{"checkpoint", filepath.Join(corrupt, "broken.json")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := harnessRun{Duration: 5 * time.Second, Instances: [][]string{c.props}}.run(t)
			if res.Code != 2 || !res.Stats.InitFailed {
				t.Fatalf("exit %d (init failed: %v), want 2: init must fail\n%s", res.Code, res.Stats.InitFailed, tail(res.Stderr))
			}
			line := ""
			for _, l := range strings.Split(res.Stderr, "\n") {
				if strings.Contains(l, "[error] [input:auditpull:auditpull.0]") {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("no error logged by the plugin:\n%s", res.Stderr)
			}
			rest := line
			for _, w := range c.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q does not name %q", line, w)
				}
				rest = rest[i+len(w):]
			}
			if len(res.Records) > 0 {
				t.Errorf("%d records from a failed instance", len(res.Records))
			}
			assertNoSecret(t, res, o.token)
		})
	}

	t.Run("a bad second instance stops the first cleanly", func(t *testing.T) {
		t.Parallel()
		good := newOrgs(t, 100, token("good"))[0]
		res := harnessRun{Duration: 5 * time.Second, Instances: [][]string{
			good.props(t.TempDir()),
			{"source=nordpass", "nordpass.base_url=" + good.base},
		}}.run(t)
		if res.Code != 2 {
			t.Fatalf("exit %d, want 2\n%s", res.Code, tail(res.Stderr))
		}
		for _, want := range []string{"[error] [input:auditpull:auditpull.1]", "nordpass.token", "[ info] [input:auditpull:auditpull.0] stopped"} {
			if !strings.Contains(res.Stderr, want) {
				t.Errorf("log lacks %q:\n%s", want, tail(res.Stderr))
			}
		}
		assertNoSecret(t, res, good.token)
	})
}

func TestFatalErrorStopsOnlyItsInstance(t *testing.T) {
	t.Parallel()
	orgs := newOrgs(t, 400, token("valid"), token("revoked"))
	orgs[1].np.SetTokenState(orgs[1].token, sim.TokenExpired)
	res := harnessRun{IntervalMS: 100, Records: 400, Instances: [][]string{
		orgs[0].props(t.TempDir()),
		orgs[1].props(t.TempDir()),
	}}.run(t)
	assertClean(t, res, false)
	assertSameEvents(t, byInstance(res.Records, 0), orgs[0].truth())
	if n := len(byInstance(res.Records, 1)); n > 0 {
		t.Errorf("the instance with a revoked token delivered %d records", n)
	}
	want := "[error] [input:auditpull:auditpull.1] polling stopped"
	if !strings.Contains(res.Stderr, want) || !strings.Contains(res.Stderr, "token introspection failed") {
		t.Errorf("log lacks %q with the vendor's reason:\n%s", want, tail(res.Stderr))
	}
	assertNoSecret(t, res, orgs[0].token, orgs[1].token)
}

func TestCallbackNeverWaitsForTheAPI(t *testing.T) {
	t.Parallel()
	o := newOrgs(t, 300, token("slow"))[0]
	// Every request takes 1.5 s; the callback runs every 100 ms.
	o.np.Faults().Random(1, 1, sim.Fault{Kind: sim.FaultLatency, Delay: 1500 * time.Millisecond})
	res := harnessRun{IntervalMS: 100, Records: 300, Instances: [][]string{o.props(t.TempDir())}}.run(t)
	assertClean(t, res, false)
	assertSameEvents(t, res.Records, o.truth())
	if res.Stats.EmptyCallbacks == 0 {
		t.Errorf("no empty callbacks while the API was slow: %+v", res.Stats)
	}
	// Far below one request (1.5 s), with room for a loaded machine.
	if limit := 250 * time.Millisecond; time.Duration(res.Stats.MaxCallbackUS)*time.Microsecond > limit {
		t.Errorf("slowest callback took %dµs; it must never wait for the API (limit %s)", res.Stats.MaxCallbackUS, limit)
	}
}

func TestCallbackByteBudget(t *testing.T) {
	t.Parallel()
	const budget = 2048
	// One event per page: a buffer holds several pages only within budget.
	// Without runs of one second, which a page boundary splits and which
	// are then read again in one page of many.
	o := newOrgsLike(t, sim.NordPassConfig{Count: 120, SameSecondBursts: -1, DuplicatePairs: -1}, token("budget"))[0]
	res := harnessRun{IntervalMS: 100, Records: 120,
		Instances: [][]string{o.props(t.TempDir(), "page_size=1", "callback_max_bytes=2K", "rate_limit.enabled=false")}}.run(t)
	assertClean(t, res, false)
	assertSameEvents(t, res.Records, o.truth())
	multi := 0
	for _, b := range res.Buffers {
		if b.Records > 1 {
			multi++
			if b.Bytes > budget {
				t.Fatalf("a buffer of %d pages holds %d bytes, over the %d-byte budget", b.Records, b.Bytes, budget)
			}
		}
	}
	if multi == 0 {
		t.Errorf("no buffer held more than one page; the budget was not exercised")
	}
}

// format ocsf and ecs reach Fluent Bit: one record per event, each the
// normalised record with the event's id, and the vendor's record kept
// whole inside it.
func TestNormalisedFormatsReachFluentBit(t *testing.T) {
	tests := []struct {
		format string
		id     func(r map[string]any) any
		vendor string // where the vendor's record is kept
	}{
		{"ocsf", func(r map[string]any) any { m, _ := r["metadata"].(map[string]any); return m["uid"] }, "unmapped"},
		{"ecs", func(r map[string]any) any { m, _ := r["event"].(map[string]any); return m["id"] }, "nordpass"},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			t.Parallel()
			o := newOrgs(t, 300, token(tc.format))[0]
			res := harnessRun{ABI: "4.1", Records: 300,
				Instances: [][]string{o.props(t.TempDir(), "format="+tc.format)}}.run(t)
			assertClean(t, res, false)
			if len(res.Records) != len(o.truth()) {
				t.Fatalf("%d records, want %d", len(res.Records), len(o.truth()))
			}
			for i, r := range res.Records {
				if id := tc.id(r.Record); id == nil || id != r.Record["event_id"] {
					t.Fatalf("record %d: the %s id is %v, the event's %v", i, tc.format, id, r.Record["event_id"])
				}
				if _, ok := r.Record[tc.vendor].(map[string]any); !ok {
					t.Fatalf("record %d: the vendor's record is not under %q: %v", i, tc.vendor, r.Record)
				}
			}
		})
	}
}

// One input reading several accounts from a tenants_file: each tenant's
// events exactly, under its own stream, and no tenant's token anywhere.
func TestTenantsFromAFileEachDeliverExactlyTheirOwnEvents(t *testing.T) {
	for _, abi := range []string{"4.1", "2.1"} {
		t.Run("abi "+abi, func(t *testing.T) {
			t.Parallel()
			orgs := newOrgs(t, 400, token("t0"), token("t1"), token("t2"))
			dir := t.TempDir()
			var list strings.Builder
			for i, o := range orgs {
				fmt.Fprintf(&list, "- {stream: tenant-%d, nordpass: {base_url: %q, token: %q}}\n", i, o.base, o.token)
			}
			file := filepath.Join(dir, "tenants.yaml")
			if err := os.WriteFile(file, []byte(list.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			props := slices.DeleteFunc(orgs[0].props(dir, "tenants_file="+file), func(p string) bool {
				return strings.HasPrefix(p, "nordpass.base_url=") || strings.HasPrefix(p, "nordpass.token=")
			})
			res := harnessRun{ABI: abi, IntervalMS: 100, Records: 1200, Instances: [][]string{props}}.run(t)
			assertClean(t, res, false)
			for i, o := range orgs {
				stream := fmt.Sprintf("tenant-%d", i)
				var got []record
				for _, r := range res.Records {
					if r.Record["stream"] == stream {
						got = append(got, r)
					}
				}
				assertSameEvents(t, got, o.truth())
				assertRecordShape(t, got, stream)
				assertNoSecret(t, res, o.token)
			}
			if !strings.Contains(res.Stderr, "started source=nordpass tenants=3 ") {
				t.Errorf("the started line does not count the tenants:\n%s", tail(res.Stderr))
			}
		})
	}
}
