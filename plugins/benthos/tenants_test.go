package benthos

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/test/sim"
)

// Many accounts in one input, as a Benthos list: each tenant's events
// arrive exactly once, and a tenant whose credential the vendor refuses
// stops alone, named by its stream, while the others deliver everything.
func TestTenantsAsABenthosListDeliverEachAccountAndARefusedOneStopsAlone(t *testing.T) {
	now := time.Now()
	from := now.Add(-24 * time.Hour).Truncate(time.Second)
	var tenants []string
	want := bag{}
	srv := sim.NewServer()
	for i, tok := range []string{"tok-acme-never-logged", "tok-globex-never-logged", "tok-initech-never-logged"} {
		np := sim.NewNordPass(sim.NordPassConfig{Seed: int64(40 + i), Count: 300, From: from, To: now.Add(-time.Minute), RateLimit: -1})
		state := sim.TokenValid
		if i == 2 {
			state = sim.TokenExpired
		} else {
			want = want.add(bagOf(np.Truth(from.Add(-time.Hour), now)))
		}
		np.AddToken(tok, state)
		prefix := fmt.Sprintf("/org%d", i)
		srv.Mount(prefix, np)
		tenants = append(tenants, fmt.Sprintf("      - stream: tenant-%d\n        nordpass: {base_url: %q, token: %s}\n", i, "BASE"+prefix, tok))
	}
	cs := newCountingServerFor(t, srv)
	conf := fmt.Sprintf(`auditpull:
    source: nordpass
    start_time: %s
    poll_interval: 1s
    settle_delay: 5s
    checkpoint: {path: %s}
    tenants:
%s`, from.Add(-time.Hour).UTC().Format(time.RFC3339), t.TempDir(), strings.ReplaceAll(strings.Join(tenants, ""), "BASE", cs.URL))
	out := newCollector()
	r := startRun(t, conf, "", out)
	waitFor(t, 30*time.Second, "both valid tenants' events", func() bool { return out.ackedCount() >= want.size() })
	waitFor(t, 10*time.Second, "the refused tenant's stop", func() bool { return strings.Contains(r.logs.String(), "tenant-2") })
	time.Sleep(1500 * time.Millisecond) // more polls: nothing may come twice
	r.stop(5 * time.Second)
	requireSameBag(t, "delivered", out.ackedBag(), want)
	if got := r.metrics.get("auditpull_tenants_failed"); got != 1 {
		t.Errorf("auditpull_tenants_failed = %v, want 1", got)
	}
	if strings.Contains(r.logs.String(), "tok-initech") {
		t.Error("the refused tenant's token appears in the log")
	}
}
