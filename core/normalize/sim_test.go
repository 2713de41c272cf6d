package normalize_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
	"github.com/auditpull/auditpull/core/normalize"
	_ "github.com/auditpull/auditpull/core/source/all"
	"github.com/auditpull/auditpull/internal/testkit/testkeys"
	"github.com/auditpull/auditpull/test/sim"
)

var now0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// history is a simulator holding a generated history over the last days,
// and the config section that polls it.
type history struct {
	source  string
	section func(t testing.TB, clock *sim.FakeClock) map[string]any
}

const histCount = 1500

var histFrom, histTo = now0.Add(-5 * 24 * time.Hour), now0.Add(-time.Hour)

var histories = []history{
	{"nordpass", func(t testing.TB, clock *sim.FakeClock) map[string]any {
		np := sim.NewNordPass(sim.NordPassConfig{Seed: 7, Count: histCount, From: histFrom, To: histTo, Clock: clock, RateLimit: -1})
		np.AddToken("np-token", sim.TokenValid)
		return map[string]any{"base_url": serve(t, sim.NordPassPrefix, np) + sim.NordPassPrefix, "token": "np-token"}
	}},
	{"nordpass_msp", func(t testing.TB, clock *sim.FakeClock) map[string]any {
		k := testkeys.EC()
		m := sim.NewNordPassMSP(sim.NordPassMSPConfig{Seed: 7, Count: histCount, From: histFrom, To: histTo, Clock: clock,
			RateLimit: -1, PublicKey: &k.PublicKey, Issuer: "msp-test"})
		return map[string]any{"base_url": serve(t, sim.NordPassMSPPrefix, m) + sim.NordPassMSPPrefix, "path": m.Path(),
			"private_key": testkeys.PKCS8(k),
			"jwt":         map[string]any{"issuer": "msp-test"}}
	}},
	{"oloid", func(t testing.TB, clock *sim.FakeClock) map[string]any {
		o := sim.NewOLOID(sim.OLOIDConfig{Seed: 7, Count: histCount, From: histFrom, To: histTo, Clock: clock})
		o.AddClient("client", "tenant", "secret")
		return map[string]any{"base_url": serve(t, sim.OLOIDPrefix, o) + sim.OLOIDPrefix, "client_id": "client", "tenant": "tenant", "client_secret": "secret"}
	}},
	{"qualtrics", func(t testing.TB, clock *sim.FakeClock) map[string]any {
		q := sim.NewQualtrics(sim.QualtricsConfig{Seed: 7, Count: histCount, From: histFrom, To: histTo, Clock: clock})
		q.AddClient("client", "secret")
		types := make([]any, len(sim.QualtricsDefaultActivityTypes))
		for i, s := range sim.QualtricsDefaultActivityTypes {
			types[i] = s
		}
		return map[string]any{"base_url": serve(t, sim.QualtricsPrefix, q) + sim.QualtricsPrefix + sim.QualtricsAPIPath,
			"client_id": "client", "client_secret": "secret", "activity_types": types}
	}},
}

func serve(t testing.TB, prefix string, h http.Handler) string {
	srv := httptest.NewServer(sim.NewServer().Mount(prefix, h))
	t.Cleanup(srv.Close)
	return srv.URL
}

// poll reads the whole history in format f and returns the events and the
// metrics.
func poll(t testing.TB, h history, f normalize.Format) ([]core.Event, *core.Metrics) {
	t.Helper()
	clock := sim.NewFakeClock(now0)
	cfg, err := core.ParseMap(map[string]any{
		"source": h.source, h.source: h.section(t, clock), "format": string(f),
		"initial_lookback": "7d", "checkpoint.type": "memory", "rate_limit.enabled": false,
		"retry.initial_backoff": "2ms", "retry.max_backoff": "20ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	m := &core.Metrics{}
	p, err := core.NewPoller(context.Background(), cfg, core.Options{Store: checkpoint.NewMemory(), Clock: clock, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	var out []core.Event
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		b, err := p.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return out, m
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Events...)
		b.Ack(nil)
	}
}

// Every event of every simulated history, in each format, is valid against
// the schema of its class, and is the same event as the raw one: nothing
// lost, nothing doubled, nothing left unmapped.
func TestSimulatedHistoriesValidate(t *testing.T) {
	ocsf := loadOCSF(t)
	ecs := loadECS(t)
	for _, h := range histories {
		t.Run(h.source, func(t *testing.T) {
			t.Parallel()
			raw, _ := poll(t, h, normalize.Raw)
			if len(raw) < histCount/2 {
				t.Fatalf("only %d raw events of %d", len(raw), histCount)
			}
			for _, f := range []normalize.Format{normalize.OCSF, normalize.ECS} {
				got, m := poll(t, h, f)
				if len(got) != len(raw) {
					t.Fatalf("%s: %d events, raw %d", f, len(got), len(raw))
				}
				if n := m.UnmappedEvents.Load(); n != 0 {
					t.Errorf("%s: %d events unmapped; every simulated action has a row", f, n)
				}
				classes := map[float64]int{}
				for i, e := range got {
					if e.ID != raw[i].ID {
						t.Fatalf("%s: event %d is %s, raw %s", f, i, e.ID, raw[i].ID)
					}
					var doc map[string]any
					d := json.NewDecoder(bytes.NewReader(e.Raw))
					d.UseNumber()
					if err := d.Decode(&doc); err != nil {
						t.Fatalf("%s: not JSON: %v: %s", f, err, e.Raw)
					}
					var errs []string
					if f == normalize.OCSF {
						errs = ocsf.validate(doc)
						n, _ := doc["class_uid"].(json.Number).Float64()
						classes[n]++
						if !jsonEqual(doc["unmapped"], raw[i].Raw) {
							t.Errorf("unmapped is not the vendor's record: %s", e.Raw)
						}
					} else {
						errs = ecs.validate(doc, h.source)
						if !jsonEqual(doc[h.source], raw[i].Raw) {
							t.Errorf("%s is not the vendor's record: %s", h.source, e.Raw)
						}
					}
					for _, msg := range errs {
						t.Errorf("%s %s: %s", f, e.Type+"/"+e.Action, msg)
					}
					if len(errs) > 0 {
						t.Logf("the event: %s", e.Raw)
					}
					if t.Failed() {
						t.FailNow()
					}
				}
				if f == normalize.OCSF {
					t.Logf("%d events by class: %v", len(got), classes)
				}
			}
		})
	}
}

// jsonEqual reports whether v (decoded with UseNumber) is the JSON raw.
func jsonEqual(v any, raw []byte) bool {
	a, err := json.Marshal(v)
	if err != nil {
		return false
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(raw, &y) == nil && reflect.DeepEqual(x, y)
}
