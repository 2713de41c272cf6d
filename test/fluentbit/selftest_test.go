package fluentbit

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The harness's checks have teeth: a plugin that breaks the contract is
// caught, with the reason.
func TestHarnessCatchesBrokenPlugins(t *testing.T) {
	so := filepath.Join(t.TempDir(), "badplugin.so")
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-Wall", "-o", so, "harness/badplugin.c").CombinedOutput(); err != nil {
		t.Fatalf("building badplugin: %v\n%s", err, out)
	}
	for mode, want := range map[string]string{
		"wrapped":    "wrapped in an outer array",
		"int-time":   "not an EventTime",
		"size0-leak": "size 0",
		"truncated":  "truncated msgpack",
	} {
		t.Run(mode, func(t *testing.T) {
			res := harnessRun{SO: so, IntervalMS: 50, Duration: 2 * time.Second, Env: []string{"BADPLUGIN_MODE=" + mode},
				Instances: [][]string{{"x=y"}}}.run(t)
			if res.Code != 3 || !strings.Contains(res.Stderr, "VIOLATION") || !strings.Contains(res.Stderr, want) {
				t.Fatalf("exit %d, want 3 with a violation naming %q:\n%s", res.Code, want, res.Stderr)
			}
		})
	}
}
