package fluentbit

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestUnderValgrind runs the harness and the plugin under valgrind's memcheck
// and requires: no invalid access or uninitialised use anywhere (the C
// harness, cgo, the Go code touching C memory), no definite or indirect leak
// of malloc'ed memory, and no block from the plugin's C.malloc/C.CString
// still allocated at exit, reachable or not — so no callback buffer leaks
// even where a stale copy of its address would make valgrind call it
// reachable.
//
// The plugin is built with -tags valgrind (Go >= 1.25), which makes the Go
// runtime describe its stacks and heap to valgrind; without it every stack
// switch reads as an invalid access. GOGC=off keeps the runtime from
// recycling heap blocks during the short run (valgrind 3.19 aborts on a Go
// block registered twice) and GODEBUG=asyncpreemptoff=1 stops the preemption
// signal handler writing below the goroutine's stack pointer, which valgrind
// reports. GODEBUG=cpu.all=off keeps the Go runtime to the baseline x86-64
// instructions whatever the CPU advertises: valgrind 3.19 cannot decode
// some that Go 1.26 uses when the CPU has them (RDTSCP in runtime.cputicks,
// on AMD EPYC machines), and the harness then dies of SIGILL, so the test
// would pass or fail with the CPU model. valgrind.supp suppresses the Go
// heap objects the collector, not free, would reclaim.
func TestUnderValgrind(t *testing.T) {
	if os.Getenv("AUDITPULL_FLUENTBIT_VALGRIND") != "1" {
		t.Skip("set AUDITPULL_FLUENTBIT_VALGRIND=1 to run under valgrind (make test-fluentbit does)")
	}
	vg, err := exec.LookPath("valgrind")
	if err != nil {
		t.Fatal("AUDITPULL_FLUENTBIT_VALGRIND=1 but valgrind is not installed")
	}
	so := os.Getenv("AUDITPULL_FLUENTBIT_SO_VALGRIND")
	if so == "" {
		so = filepath.Join(t.TempDir(), "in_auditpull-valgrind.so")
		cmd := exec.Command("go", "build", "-tags", "valgrind", "-buildmode=c-shared", "-o", so, "./plugins/fluentbit")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the valgrind plugin: %v\n%s", err, out)
		}
	}
	supp, err := filepath.Abs("valgrind.supp")
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name      string
		abi       string
		noCleanup bool
		orgs      int
		badConfig bool
		reload    bool // a hot reload: the plugin registered, exited and initialised again
	}{
		{name: "two instances with ctx callbacks", abi: "4.1", orgs: 2},
		{name: "plain callbacks", abi: "2.1", orgs: 1},
		{name: "host frees the buffers", abi: "4.1", noCleanup: true, orgs: 1},
		{name: "init fails", abi: "4.1", badConfig: true},
		{name: "a hot reload", abi: "4.1", orgs: 1, reload: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logFile := filepath.Join(t.TempDir(), "valgrind.log")
			run := harnessRun{
				ABI: c.abi, NoCleanup: c.noCleanup, IntervalMS: 200, Timeout: 3 * time.Minute, SO: so,
				Env: []string{"GOGC=off", "GODEBUG=asyncpreemptoff=1,cpu.all=off"},
				Wrapper: []string{vg, "--error-exitcode=99", "--leak-check=full", "--show-leak-kinds=all",
					"--errors-for-leak-kinds=definite,indirect", "--suppressions=" + supp, "--log-file=" + logFile},
			}
			const per = 250
			var tokens []string
			for i := range c.orgs {
				tokens = append(tokens, token(string(rune('p'+i))))
			}
			var orgs []org
			if c.badConfig {
				run.Instances = [][]string{{"source=nordpass", "nordpass.region=mars", "checkpoint.type=memory"}}
				run.Duration = 2 * time.Second
			} else {
				orgs = newOrgs(t, per, tokens...)
				for _, o := range orgs {
					run.Instances = append(run.Instances, o.props(t.TempDir(), "callback_max_bytes=32K"))
				}
				run.Records = per * len(orgs)
				if c.reload {
					// Idle, not a count: the reload may deliver a collect again.
					run.Records, run.Idle, run.Reloads, run.ReloadMS = 0, 4*time.Second, 1, 1000
				}
			}
			res := run.run(t)
			b, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatalf("no valgrind log: %v\nstderr:\n%s", err, tail(res.Stderr))
			}
			log := string(b)
			summary := regexp.MustCompile(`ERROR SUMMARY: (\d+) errors`).FindStringSubmatch(log)
			if summary == nil {
				t.Fatalf("valgrind did not finish:\n%s", tail(log))
			}
			leaks := regexp.MustCompile(`(definitely|indirectly) lost: [\d,]+ bytes in [\d,]+ blocks`).FindAllString(log, -1)
			t.Logf("valgrind: %s errors; %s", summary[1], strings.Join(leaks, "; "))
			if res.Code == 99 || summary[1] != "0" {
				t.Fatalf("valgrind found %s errors:\n%s", summary[1], valgrindErrors(log))
			}
			if m := regexp.MustCompile(`(?s)[^\n]*are (still reachable|possibly lost|definitely lost|indirectly lost)[^\n]*\n(==\d+==    (at|by) [^\n]*\n)*?==\d+==    (at|by) [^\n]*(Cfunc__C[Mm]alloc|_cgo_cmalloc)`).FindString(log); m != "" {
				t.Fatalf("memory the plugin malloc'ed is still allocated at exit:\n%s", m)
			}
			if c.badConfig {
				if res.Code != 2 {
					t.Fatalf("exit %d, want 2 (init failed)\n%s", res.Code, tail(res.Stderr))
				}
				return
			}
			assertClean(t, res, c.noCleanup)
			if c.reload && res.Stats.Reloads != 1 {
				t.Fatalf("%d reloads played, want 1\n%s", res.Stats.Reloads, tail(res.Stderr))
			}
			for i, o := range orgs {
				assertSameEvents(t, firstOfEach(byInstance(res.Records, i)), o.truth())
			}
		})
	}
}

// valgrindErrors picks the reports out of a valgrind log: the paragraphs
// about invalid accesses, uninitialised values, bad frees and lost blocks.
func valgrindErrors(log string) string {
	pid := regexp.MustCompile(`(?m)^==\d+== ?`)
	var out []string
	for _, para := range regexp.MustCompile(`(?m)^==\d+== *\n`).Split(log, -1) {
		if regexp.MustCompile(`Invalid|uninitialised|Mismatched|free\(\)|definitely lost in|indirectly lost in`).MatchString(para) {
			out = append(out, pid.ReplaceAllString(para, ""))
		}
		if len(out) == 8 {
			break
		}
	}
	return strings.Join(out, "\n")
}
