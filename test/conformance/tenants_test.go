package conformance

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/test/sim"
)

// npTenant is one NordPass organisation of a managed service provider:
// its own simulator (history and token) and its stream.
type npTenant struct {
	stream string
	token  string
	np     *sim.NordPass
}

// TestTenantsIsolateARevokedCredential polls several NordPass
// organisations in one input, revokes one organisation's token mid-run and
// fixes it later: the others deliver exactly their histories all along,
// and the revoked one resumes without a restart and delivers its own
// exactly once.
func TestTenantsIsolateARevokedCredential(t *testing.T) {
	t.Parallel()
	clock := sim.NewFakeClock(now0)
	start := now0.Add(-24 * time.Hour)
	var tenants []npTenant
	var list []any
	for i := range 4 {
		tn := npTenant{stream: fmt.Sprintf("org-%d", i), token: fmt.Sprintf("np-tenant-%d-token-%x", i, 0x5eed+i)}
		tn.np = sim.NewNordPass(sim.NordPassConfig{Seed: int64(100 + i), Count: 600 + 300*i, From: start, To: now0, Clock: clock, RateLimit: -1})
		tn.np.AddToken(tn.token, sim.TokenValid)
		srv := serve(t, sim.NewServer().Mount(sim.NordPassPrefix, tn.np))
		list = append(list, map[string]any{"stream": tn.stream, "nordpass": map[string]any{"base_url": srv.URL + sim.NordPassPrefix, "token": tn.token}})
		tenants = append(tenants, tn)
	}
	r := testkit.NewRig(t, clock, defaults()).Set(
		"source", "nordpass", "tenants", list, "tenant_retry", "1s", "start_time", start.Format(time.RFC3339))
	p := r.Poller()
	defer p.Close(context.Background())

	got := map[string][]string{}
	var reported []error
	take := func(n int) {
		for i := 0; n < 0 || i < n; {
			b, err := testkit.NextOrCaughtUp(p, testkit.ReadLimit)
			switch {
			case err == nil && b == nil && n < 0:
				return
			case err == nil && b == nil:
				t.Fatalf("caught up after %d of %d batches", i, n)
			case err != nil && core.IsFatal(err):
				t.Fatalf("one tenant's failure ended the input: %v", err)
			case err != nil:
				reported = append(reported, err)
				continue
			}
			got[b.Stream] = append(got[b.Stream], raws(b)...)
			b.Ack(nil)
			i++
		}
	}
	take(12) // every tenant is mid-backfill
	revoked := tenants[2]
	if len(got[revoked.stream]) == 0 || len(got[revoked.stream]) >= len(revoked.np.Truth(start, now0)) {
		t.Fatalf("the revoked tenant is not mid-run: %d events", len(got[revoked.stream]))
	}
	revoked.np.SetTokenState(revoked.token, sim.TokenExpired)
	take(-1)

	want := func(tn npTenant) []string {
		return testkit.Strings(tn.np.Truth(start, clock.Now().Add(-settle).Truncate(time.Second)))
	}
	for _, tn := range tenants {
		if tn.stream != revoked.stream {
			testkit.SameMultiset(t, got[tn.stream], want(tn))
		}
	}
	if n := p.Metrics().Snapshot()["tenants_failed"]; n != 1 {
		t.Fatalf("tenants_failed = %v while one credential is revoked, want 1", n)
	}
	if len(reported) == 0 || !strings.Contains(reported[0].Error(), revoked.stream) {
		t.Fatalf("the stopped tenant was not reported by its stream: %v", reported)
	}
	if !logged(r.Log, "tenant stopped", revoked.stream) {
		t.Fatal("no log line names the stopped tenant's stream")
	}

	// The organisation issues the token again; within tenant_retry the
	// tenant resumes where its checkpoint stopped, and the clock moving on
	// brings new polls for everyone.
	revoked.np.SetTokenState(revoked.token, sim.TokenValid)
	time.Sleep(time.Second)
	clock.Advance(2 * time.Minute)
	take(-1)
	for _, tn := range tenants {
		testkit.SameMultiset(t, got[tn.stream], want(tn))
	}
	if n := p.Metrics().Snapshot()["tenants_failed"]; n != 0 {
		t.Fatalf("tenants_failed = %v after the credential was fixed, want 0", n)
	}
	if !logged(r.Log, "tenant resumed", revoked.stream) {
		t.Fatal("no log line says the tenant resumed")
	}
	for _, l := range r.Log.Lines() {
		for _, tn := range tenants {
			if strings.Contains(l, tn.token) {
				t.Fatalf("a log line leaks a tenant's token: %s", l)
			}
		}
	}
}

func logged(c *testkit.LogSink, parts ...string) bool {
	for _, l := range c.Lines() {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return true
		}
	}
	return false
}
