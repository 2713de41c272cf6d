package benthos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core"
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

// A tenant holds its stream and a section of each source with the same
// fields as the top-level section, secret where those are, so that Benthos
// scrubs a tenant's credentials as it scrubs the input's.
func TestATenantsSectionsAreTheSourcesSectionsSecretsIncluded(t *testing.T) {
	top, tenant := map[string]bool{}, map[string]bool{} // key: secret
	keep := func(into map[string]bool) func(string, specField) {
		return func(key string, f specField) { into[key] = f.Secret }
	}
	for _, f := range specFields(t) {
		switch {
		case slices.Contains(core.SourceNames(), f.Name):
			collectSpec([]specField{f}, "", keep(top))
		case f.Name == "tenants":
			collectSpec(f.Children, "", keep(tenant))
		}
	}
	if secret, ok := tenant["stream"]; !ok || secret {
		t.Errorf("a tenant's stream: present %v, secret %v; want a plain field", ok, secret)
	}
	delete(tenant, "stream")
	if !maps.Equal(tenant, top) {
		t.Errorf("a tenant's fields (key: secret)\n%v\ndiffer from the sources' sections\n%v", tenant, top)
	}
	if !tenant["nordpass.token"] {
		t.Errorf("a tenant's nordpass.token is not secret")
	}
}

// A tenant's token, written in the config or taken from the environment,
// never appears in the config Benthos shows (/debug/config/yaml, and
// `benthos echo`, which scrubs it the same way).
func TestTenantTokensAreScrubbedFromTheConfigBenthosShows(t *testing.T) {
	t.Setenv("AUDITPULL_TEST_TENANT_TOKEN", "tenant-globex-from-env-never-shown")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	b := service.NewEnvironment().NewStreamBuilder()
	b.SetLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	err = b.SetYAML(fmt.Sprintf(`
http:
  enabled: true
  address: %s
  debug_endpoints: true
input:
  auditpull:
    source: nordpass
    checkpoint: {type: memory}
    nordpass:
      base_url: http://127.0.0.1:1
      token: top-level-never-shown
    tenants:
      - stream: acme
        nordpass: {token: tenant-acme-never-shown}
      - stream: globex
        nordpass: {token: "${AUDITPULL_TEST_TENANT_TOKEN}"}
output:
  drop: {}
`, addr))
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Run(context.Background()) }()
	t.Cleanup(func() { _ = s.StopWithin(5 * time.Second) })
	var shown string
	waitFor(t, 10*time.Second, "the debug endpoint", func() bool {
		resp, err := http.Get("http://" + addr + "/debug/config/yaml")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		shown = string(body)
		return resp.StatusCode == http.StatusOK
	})
	if !strings.Contains(shown, "stream: globex") {
		t.Fatalf("the shown config lacks the tenants:\n%s", shown)
	}
	for _, secret := range []string{"top-level-never-shown", "tenant-acme-never-shown", "tenant-globex-from-env-never-shown"} {
		if strings.Contains(shown, secret) {
			t.Errorf("%s is shown:\n%s", secret, shown)
		}
	}
}

// The tenants reach the core as written: Benthos adds nothing to them (no
// section of another source, no empty list that would replace the
// top-level filter), and takes nothing away.
func TestTenantsReachTheCoreAsWritten(t *testing.T) {
	tests := []struct {
		name, tenants string
		want          []any
	}{
		{"a stream and a token", `[{stream: acme, nordpass: {token: t}}]`,
			[]any{map[string]any{"stream": "acme", "nordpass": map[string]any{"token": "t"}}}},
		{"a stream alone, the top-level section's settings", `[{stream: acme}]`,
			[]any{map[string]any{"stream": "acme"}}},
		{"a filter of its own", `[{stream: acme, nordpass: {user_uuids: [1c6f8d2b-5a8f-4d4a-8b62-2e3a4f5b6c71, 2d7a9e3c-6b9a-4e5b-9c73-3f4b5a6c7d82]}}]`,
			[]any{map[string]any{"stream": "acme", "nordpass": map[string]any{"user_uuids": []any{"1c6f8d2b-5a8f-4d4a-8b62-2e3a4f5b6c71", "2d7a9e3c-6b9a-4e5b-9c73-3f4b5a6c7d82"}}}}},
		{"an empty list of its own", `[{stream: acme, nordpass: {user_uuids: []}}]`,
			[]any{map[string]any{"stream": "acme", "nordpass": map[string]any{"user_uuids": []any{}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := configSpec().ParseYAML("source: nordpass\nnordpass: {token: abc, user_uuids: [0b5e7c1a-4f7e-4c39-9a51-1d2f3e4a5b60]}\ntenants: "+tt.tenants+"\n", nil)
			if err != nil {
				t.Fatal(err)
			}
			m, _, err := toCoreMap(pc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m["tenants"], tt.want) {
				t.Errorf("tenants reach the core as\n%#v\nwant\n%#v", m["tenants"], tt.want)
			}
			if _, err := core.ParseMap(m); err != nil {
				t.Errorf("the core refuses them: %v", err)
			}
		})
	}
}
