package core_test

import (
	"testing"

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
