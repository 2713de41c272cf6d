package auditpull

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/test/sim"
)

// Tenants written as Telegraf tables, as a TOML user writes nested
// settings, each read exactly under its own stream with its own token;
// the text form in the same option still works (the core's tests cover
// what it reads).
func TestTenantsAsTOMLTablesEachDeliverExactlyTheirOwnEvents(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	orgs := map[string]*testkit.Org{}
	for i, name := range []string{"acme", "globex"} {
		orgs[name] = testkit.NewOrg(t, sim.NordPassConfig{Seed: int64(20 + i), Count: 150 + 100*i,
			From: now.Add(-48 * time.Hour), To: now.Add(-2 * time.Hour), RateLimit: -1}, "tok-"+name+"-SECRET")
	}
	conf := fmt.Sprintf(`
[[inputs.auditpull]]
  source = "nordpass"
  initial_lookback = "72h"
  poll_interval = "200ms"
  settle_delay = "0s"
  page_size = 50
  stats_interval = "0s"
  shutdown_timeout = "2s"

  [inputs.auditpull.checkpoint]
    path = %q

  [[inputs.auditpull.tenants]]
    stream = "acme"
    [inputs.auditpull.tenants.nordpass]
      base_url = %q
      token = "tok-acme-SECRET"

  [[inputs.auditpull.tenants]]
    stream = "globex"
    [inputs.auditpull.tenants.nordpass]
      base_url = %q
      token = "tok-globex-SECRET"
`, t.TempDir(), orgs["acme"].Base, orgs["globex"].Base)
	c := config.NewConfig()
	if err := c.LoadConfigData([]byte(conf), "tenants.conf"); err != nil {
		t.Fatalf("Telegraf does not load the tables: %v", err)
	}
	a := c.Inputs[0].Input.(*AuditPull)
	l := &testLog{t: t}
	a.Log = l
	s := start(t, a, l, nil)
	want := len(orgs["acme"].Truth()) + len(orgs["globex"].Truth())
	waitFor(t, "every tenant's events", func() bool { _, n := s.counts(); return n >= want })
	time.Sleep(400 * time.Millisecond) // a few more polls: nothing more may come
	a.Stop()

	s.mu.Lock()
	byStream := map[string][]string{}
	for _, m := range s.events {
		stream, _ := m.GetTag("stream")
		msg, _ := m.GetField("message")
		byStream[stream] = append(byStream[stream], msg.(string))
	}
	s.mu.Unlock()
	for name, o := range orgs {
		got := byStream[name]
		slices.Sort(got)
		if !slices.Equal(got, o.Truth()) {
			t.Errorf("tenant %s: delivered %d events, want its %d exactly", name, len(got), len(o.Truth()))
		}
	}
	if len(byStream) != len(orgs) {
		t.Errorf("streams %v; want one per tenant", slices.Sorted(maps.Keys(byStream)))
	}
	for name := range orgs {
		if l.leaked("tok-" + name + "-SECRET") {
			t.Errorf("tenant %s's token appears in the log", name)
		}
	}
}
