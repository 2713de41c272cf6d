package core_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
	"github.com/auditpull/auditpull/internal/testkit"
)

func tenantsBase(tenants ...any) map[string]any {
	return with(base(), "nordpass", map[string]any{"region": "us"}, "tenants", tenants)
}

func np(stream string, section map[string]any) map[string]any {
	t := map[string]any{"nordpass": section}
	if stream != "" {
		t["stream"] = stream
	}
	return t
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTenantConfigErrorsNameTheTenantsKey(t *testing.T) {
	tok := map[string]any{"token": "tok-a"}
	cases := []struct {
		name    string
		cfg     func(t *testing.T) map[string]any
		key     string
		message string
	}{
		{"duplicate stream", func(*testing.T) map[string]any {
			return tenantsBase(np("acme", tok), np("globex", tok), np("acme", tok))
		}, "tenants[2].stream", `"acme" is the stream of tenants[0] too`},
		{"missing stream", func(*testing.T) map[string]any {
			return tenantsBase(np("acme", tok), np("globex", tok), np("initech", tok), np("", tok))
		}, "tenants[3].stream", "required"},
		{"section for another source", func(*testing.T) map[string]any {
			return tenantsBase(np("acme", tok), map[string]any{"stream": "globex", "oloid": map[string]any{"tenant": "x"}})
		}, "tenants[1].oloid", `section given but source is "nordpass"`},
		{"unknown key in a tenant", func(*testing.T) map[string]any {
			return tenantsBase(map[string]any{"stream": "acme", "nordpass": tok, "poll_interval": "1m"})
		}, "tenants[0].poll_interval", "a tenant holds stream and a nordpass section"},
		{"tenant lacking a credential", func(*testing.T) map[string]any {
			return tenantsBase(np("acme", tok), np("globex", map[string]any{}))
		}, "tenants[1].nordpass.token", "required"},
		{"bad value in a tenant's section", func(*testing.T) map[string]any {
			return tenantsBase(np("acme", map[string]any{"token": "t", "region": "asia"}))
		}, "tenants[0].nordpass.region", `one of "eu", "us"`},
		{"misspelt shared setting", func(*testing.T) map[string]any {
			return with(tenantsBase(np("acme", tok)), "nordpass", map[string]any{"regoin": "us"})
		}, "nordpass.regoin", "unknown option"},
		{"stream beside tenants", func(*testing.T) map[string]any {
			return with(tenantsBase(np("acme", tok)), "stream", "all")
		}, "stream", "each tenant names its own"},
		{"tenants not a list of sections", func(*testing.T) map[string]any {
			return with(base(), "tenants", "stream: acme")
		}, "tenants", "must be a list"},
		{"empty file", func(t *testing.T) map[string]any {
			return with(base(), "tenants_file", writeFile(t, "t.yaml", "\n"))
		}, "tenants_file", "lists no tenants"},
		{"missing file", func(t *testing.T) map[string]any {
			return with(base(), "tenants_file", filepath.Join(t.TempDir(), "none.yaml"))
		}, "tenants_file", "cannot read "},
		{"file not YAML", func(t *testing.T) map[string]any {
			return with(base(), "tenants_file", writeFile(t, "t.yaml", "- stream: [acme\n"))
		}, "tenants_file", "not a YAML or JSON list"},
		{"file of no list", func(t *testing.T) map[string]any {
			return with(base(), "tenants_file", writeFile(t, "t.yaml", "stream: acme\n"))
		}, "tenants_file", "must be a list"},
		{"file of an empty list", func(t *testing.T) map[string]any {
			return with(base(), "tenants_file", writeFile(t, "t.json", "[]"))
		}, "tenants_file", "lists no tenants"},
		{"duplicate across file and inline", func(t *testing.T) map[string]any {
			path := writeFile(t, "t.json", `[{"stream": "globex", "nordpass": {"token": "b"}}, {"stream": "acme", "nordpass": {"token": "c"}}]`)
			return with(tenantsBase(np("acme", tok)), "tenants_file", path)
		}, "tenants_file[1].stream", `"acme" is the stream of tenants[0] too`},
		{"zero tenant_retry", func(*testing.T) map[string]any {
			return with(tenantsBase(np("acme", tok)), "tenant_retry", "0s")
		}, "tenant_retry", "positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := core.ParseMap(c.cfg(t))
			var ce *core.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want a ConfigError, got %v", err)
			}
			if ce.Key != c.key || !strings.Contains(ce.Msg, c.message) {
				t.Fatalf("got %s: %s\nwant %s: …%s…", ce.Key, ce.Msg, c.key, c.message)
			}
			if strings.Contains(err.Error(), "tok-a") {
				t.Fatalf("the error leaks a token: %v", err)
			}
		})
	}
}

func TestAnEmptyTenantsTextIsAnInputOfOneAccount(t *testing.T) {
	cfg, err := core.ParseMap(with(base(), "tenants", ""))
	if err != nil || len(cfg.TenantStreams()) != 0 {
		t.Fatalf("got %v, %v", cfg, err)
	}
}

func TestTenantsAreReadInlineAsTextAndFromAFile(t *testing.T) {
	path := writeFile(t, "tenants.yaml", "tenants:\n  - stream: initech\n    nordpass:\n      token: tok-c\n")
	cfg, err := core.ParseMap(with(tenantsBase(np("acme", map[string]any{"token": "a"})),
		"tenants_file", path))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.TenantStreams(), ","); got != "acme,initech" {
		t.Fatalf("tenants %s", got)
	}
	// Flat-string hosts (Fluent Bit properties) pass the list as JSON.
	cfg, err = core.ParseMap(with(base(), "tenants", `[{"stream": "acme", "nordpass": {"token": "a"}}, {"stream": "globex", "nordpass": {"token": "b"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.TenantStreams(), ","); got != "acme,globex" {
		t.Fatalf("tenants %s", got)
	}
}

// tenantRig polls several fake accounts in one input, each tenant's
// source found by its stream name.
type tenantRig struct {
	srcs  map[string]*fakeSource
	want  map[string][]string
	clock *clock
	store *checkpoint.Memory
	cfg   map[string]any
}

func newTenantRig(t *testing.T, n, events int) *tenantRig {
	r := &tenantRig{srcs: map[string]*fakeSource{}, want: map[string][]string{}, clock: &clock{t: t0}, store: checkpoint.NewMemory()}
	var tenants []any
	for i := range n {
		name := fmt.Sprintf("%s/t%d", t.Name(), i)
		f := &fakeSource{perPage: 10, cap: 10000, clock: r.clock}
		for j := range events {
			ts := t0.Add(-time.Duration(j+2) * time.Minute)
			id := fmt.Sprintf("t%d-e%03d", i, j)
			f.add(id, ts, ts)
			r.want[name] = append(r.want[name], id)
		}
		fakes.Store(name, f)
		r.srcs[name] = f
		tenants = append(tenants, map[string]any{"stream": name})
	}
	r.cfg = map[string]any{"source": "fake", "checkpoint.type": "memory", "settle_delay": "1m", "overlap": "5m",
		"poll_interval": "1h", "initial_lookback": "1d", "tenants": tenants, "tenant_retry": "300ms"}
	return r
}

func (r *tenantRig) poller(t *testing.T) *core.Poller {
	return r.pollerWith(t, core.Options{})
}

func (r *tenantRig) pollerWith(t *testing.T, opts core.Options) *core.Poller {
	t.Helper()
	cfg, err := core.ParseMap(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts.Store, opts.Clock = r.store, r.clock
	p, err := core.NewPoller(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// drainTenants reads until the poller is caught up, by tenant, and
// returns the errors reported on the way (none may be fatal).
func drainTenants(t *testing.T, p *core.Poller, got map[string][]string) []error {
	t.Helper()
	var errs []error
	for {
		b, err := testkit.NextOrCaughtUp(p, testkit.ReadLimit)
		switch {
		case err == nil && b == nil:
			return errs
		case core.IsFatal(err):
			t.Fatalf("one tenant's failure ended the input: %v", err)
		case err != nil:
			errs = append(errs, err)
			continue
		}
		for _, e := range b.Events {
			got[b.Stream] = append(got[b.Stream], e.ID)
		}
		b.Ack(nil)
	}
}

func TestARefusedTenantStopsAloneAndResumesAfterTenantRetry(t *testing.T) {
	r := newTenantRig(t, 3, 25)
	revoked := t.Name() + "/t1"
	r.srcs[revoked].fail = []error{&core.AuthError{Op: "listing events", Status: 401, Reason: "token revoked"}}
	p := r.poller(t)
	got := map[string][]string{}
	errs := drainTenants(t, p, got)
	if len(errs) == 0 || !strings.Contains(errs[0].Error(), revoked) {
		t.Fatalf("the stopped tenant was not reported: %v", errs)
	}
	if n := p.Metrics().Snapshot()["tenants_failed"]; n != 1 {
		t.Fatalf("tenants_failed = %v, want 1", n)
	}
	for name, want := range r.want {
		if name != revoked {
			testkit.SameMultiset(t, got[name], want)
		}
	}
	if len(got[revoked]) != 0 {
		t.Fatalf("the refused tenant delivered %v", got[revoked])
	}
	// The credential is fixed at the vendor: after tenant_retry the
	// tenant resumes, without a restart, and delivers everything once.
	time.Sleep(300 * time.Millisecond)
	drainTenants(t, p, got)
	for name, want := range r.want {
		testkit.SameMultiset(t, got[name], want)
	}
	if n := p.Metrics().Snapshot()["tenants_failed"]; n != 0 {
		t.Fatalf("tenants_failed = %v after the tenant resumed, want 0", n)
	}
}

func TestATenantThatCannotOpenDoesNotKeepTheOthersFromStarting(t *testing.T) {
	for _, deferOpen := range []bool{false, true} {
		t.Run(fmt.Sprint("DeferOpen ", deferOpen), func(t *testing.T) {
			r := newTenantRig(t, 3, 15)
			broken := t.Name() + "/t0"
			r.srcs[broken].failOpen = []error{&core.TransientError{Op: "listing streams", Err: errors.New("503")}}
			p := r.pollerWith(t, core.Options{DeferOpen: deferOpen})
			tenantsOpenLater(t, r, p, broken)
		})
	}
}

func tenantsOpenLater(t *testing.T, r *tenantRig, p *core.Poller, broken string) {
	got := map[string][]string{}
	deadline := time.Now().Add(5 * time.Second)
	for len(got[broken]) < len(r.want[broken]) && time.Now().Before(deadline) {
		drainTenants(t, p, got)
	}
	for name, want := range r.want {
		testkit.SameMultiset(t, got[name], want)
	}
}

func TestATenantFailingTransientlyBacksOffAloneAndLosesNothing(t *testing.T) {
	r := newTenantRig(t, 3, 40)
	flaky := t.Name() + "/t2"
	for range 3 {
		r.srcs[flaky].fail = append(r.srcs[flaky].fail, &core.TransientError{Op: "listing events", Err: errors.New("502")})
	}
	r.cfg["retry.initial_backoff"] = "20ms"
	r.cfg["retry.max_backoff"] = "40ms"
	p := r.poller(t)
	got := map[string][]string{}
	if errs := drainTenants(t, p, got); len(errs) != 0 {
		t.Fatalf("failures within retry.max_attempts were reported: %v", errs)
	}
	for name, want := range r.want {
		testkit.SameMultiset(t, got[name], want)
	}
	if p.Metrics().Retries.Load() != 3 {
		t.Fatalf("retries = %d, want 3", p.Metrics().Retries.Load())
	}
}

func TestALiveTenantsPollGoesBeforeAnotherTenantsHistory(t *testing.T) {
	r := newTenantRig(t, 2, 0)
	live, behind := t.Name()+"/t0", t.Name()+"/t1"
	for j := range 3000 {
		ts := t0.Add(-time.Duration(j+2) * 10 * time.Minute)
		r.srcs[behind].add(fmt.Sprintf("old-%04d", j), ts, ts)
	}
	// The second tenant was added with its history: its checkpoint
	// starts 30 days back, the first tenant's 1 day back.
	seed := map[string]any{"source": "fake", "stream": behind, "checkpoint.type": "memory", "start_time": t0.Add(-30 * 24 * time.Hour).Format(time.RFC3339)}
	cfg, err := core.ParseMap(seed)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := core.NewPoller(context.Background(), cfg, core.Options{Store: r.store, Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	b, err := sp.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b.Ack(nil)
	_ = sp.Close(context.Background())

	p := r.poller(t)
	next := func() *core.Batch {
		t.Helper()
		b, err := p.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		b.Ack(nil)
		return b
	}
	for range 5 {
		if b := next(); b.Stream != behind {
			t.Fatalf("a batch of %s while only %s has events", b.Stream, behind)
		}
	}
	// An event for the live tenant settles and its poll is due: it is
	// read before the next page of the other tenant's history.
	r.srcs[live].add("live-1", t0.Add(30*time.Second), t0.Add(30*time.Second))
	r.clock.Advance(2 * time.Hour)
	if b := next(); b.Stream != live || len(b.Events) != 1 || b.Events[0].ID != "live-1" {
		t.Fatalf("the live poll waited behind a history page: got %d events of %s", len(b.Events), b.Stream)
	}
}

// lag_seconds is the least advanced stream's: a tenant stopped at the
// start of its history shows there, however far the others got.
func TestLagIsTheLeastAdvancedTenants(t *testing.T) {
	r := newTenantRig(t, 3, 25)
	revoked := t.Name() + "/t1"
	r.srcs[revoked].fail = []error{&core.AuthError{Op: "listing events", Status: 401, Reason: "token revoked"}}
	p := r.poller(t)
	got := map[string][]string{}
	drainTenants(t, p, got)
	if len(got[t.Name()+"/t0"]) == 0 {
		t.Fatal("the working tenants delivered nothing")
	}
	// initial_lookback is a day: the stopped tenant never moved from there.
	if lag := p.Metrics().Snapshot()["lag_seconds"]; lag < (23 * time.Hour).Seconds() {
		t.Fatalf("lag_seconds = %v while a tenant is stopped a day behind; want about a day", lag)
	}
}
