package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
)

type recordingSink map[string][2]float64

func (r recordingSink) Update(info core.MetricInfo, value, delta float64) {
	r[info.Name] = [2]float64{value, delta}
}

func TestExporterPassesValuesAndChangesSinceTheLastSync(t *testing.T) {
	m := &core.Metrics{}
	sink := recordingSink{}
	e := core.NewMetricsExporter(m, sink)
	m.Events.Add(5)
	e.Sync()
	m.Events.Add(3)
	e.Sync()
	if got := sink["events"]; got != [2]float64{8, 3} {
		t.Fatalf("events: got value,delta %v, want 8,3", got)
	}
	if len(sink) != len(core.MetricInfos) {
		t.Fatalf("synced %d metrics, want every one of %d", len(sink), len(core.MetricInfos))
	}
}

// events counts what was passed on, events_acked only what the host
// confirmed: a rejected page counts once it is delivered again and
// confirmed, a released one (a dry run) never.
func TestEventsAckedCountsOnlyWhatTheHostConfirmed(t *testing.T) {
	h := newHarness(t, 10, 10000)
	h.history(30, t0.Add(-time.Hour))
	p := h.poller()
	ctx := context.Background()
	defer p.Close(ctx)
	var pages []*core.Batch
	for range 3 {
		b, err := p.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, b)
	}
	pages[0].Ack(nil)
	pages[1].Ack(errors.New("rejected by the output"))
	pages[2].Release()
	want := func(events, acked float64) {
		t.Helper()
		s := p.Metrics().Snapshot()
		if s["events"] != events || s["events_acked"] != acked {
			t.Fatalf("events %v, events_acked %v; want %v, %v", s["events"], s["events_acked"], events, acked)
		}
	}
	want(30, 10)
	again, err := p.Next(ctx)
	if err != nil || again != pages[1] {
		t.Fatalf("want the rejected page again, got %v, %v", again, err)
	}
	again.Ack(nil)
	want(30, 20)
}

// A field's type is fixed in InfluxDB: counters and whole-numbered gauges
// are integers from the first write, the other gauges fractions.
func TestFieldsAreTypedByWhetherTheMetricIsWhole(t *testing.T) {
	m := &core.Metrics{}
	m.Events.Add(7)
	fields := m.Fields()
	if len(fields) != len(core.MetricInfos) {
		t.Fatalf("%d fields, want one per metric (%d)", len(fields), len(core.MetricInfos))
	}
	for _, info := range core.MetricInfos {
		switch v := fields[info.Name].(type) {
		case int64:
			if !info.Whole() {
				t.Errorf("%s is an integer, but its values are fractions", info.Name)
			}
		case float64:
			if info.Whole() {
				t.Errorf("%s is a fraction, but its values are whole", info.Name)
			}
		default:
			t.Errorf("%s has type %T", info.Name, v)
		}
	}
	if fields["events"] != int64(7) {
		t.Fatalf("events = %v, want 7", fields["events"])
	}
}
