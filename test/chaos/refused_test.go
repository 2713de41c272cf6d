package chaos

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditpull/auditpull/test/bench/hostrun"
	"github.com/auditpull/auditpull/test/sim"
)

// refusedReason is the vendor's reason for an expired or revoked token,
// which every host must report (and the token must not be in the report).
const refusedReason = "token introspection failed"

// refusedRun starts host h with a token the API refuses (403, expired or
// revoked): the error path, where a careless log line would quote the
// request. It requires the vendor's reason in the log and no event; the
// secrets check then searches these logs for the refused token too.
func refusedRun(t *testing.T, s settings, bin hostrun.Binaries, h hostrun.Host, seed int64, art *artifacts) {
	org := serveOrgs(t, seed, 1, 500, 0, s.token)[0]
	org.np.AddToken(s.refused, sim.TokenExpired)
	dir := art.dir(t, "refused-"+string(h))
	spec := hostrun.Run{Host: h, Bin: bin, Dir: dir, Out: filepath.Join(dir, "events.ndjson"),
		Env:    []string{tokenEnv + "=" + s.refused},
		Inputs: []hostrun.Input{org.input(filepath.Join(dir, "checkpoints"))}}
	art.addFile(spec.Out)
	p, err := spec.Start("refused")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	art.addProc(p)
	logged := func() bool {
		for _, f := range p.Logs() {
			if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(refusedReason)) {
				return true
			}
		}
		return false
	}
	limit := time.Now().Add(20 * time.Second)
	for !logged() && time.Now().Before(limit) && !p.Exited() {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	p.Kill()
	if !logged() {
		t.Errorf("%s never logged the vendor's reason %q for the refused token:\n%s", h, refusedReason, tailOf(p.Stderr, 10))
	}
	if b, _ := os.ReadFile(spec.Out); len(b) > 0 {
		t.Errorf("%s wrote %d bytes of events with a refused token", h, len(b))
	}
	t.Logf("%s: %s", h, fmt.Sprintf("refused token reported in %s", time.Since(p.Started).Round(time.Millisecond)))
}
