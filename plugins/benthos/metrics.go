package benthos

import (
	"sync"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core"
)

// metricPrefix is prepended to the core's metric names (core.MetricNames).
const metricPrefix = "auditpull_"

// gaugeNames are the core metrics that are levels, not running totals.
var gaugeNames = map[string]bool{"lag_seconds": true, "last_success_time": true}

// metricsExporter copies the core's counters into Benthos metrics, which
// carry the input's label and path and reach whatever exporter the config
// chooses (prometheus, statsd, json_api, …).
type metricsExporter struct {
	core *core.Metrics

	mu       sync.Mutex
	counters map[string]*service.MetricCounter
	gauges   map[string]*service.MetricGauge
	last     map[string]float64
}

func newMetricsExporter(m *service.Metrics, cm *core.Metrics) *metricsExporter {
	e := &metricsExporter{
		core:     cm,
		counters: map[string]*service.MetricCounter{},
		gauges:   map[string]*service.MetricGauge{},
		last:     map[string]float64{},
	}
	for _, n := range core.MetricNames {
		if gaugeNames[n] {
			e.gauges[n] = m.NewGauge(metricPrefix + n)
		} else {
			e.counters[n] = m.NewCounter(metricPrefix + n)
		}
	}
	return e
}

// sync publishes what changed since the last call.
func (e *metricsExporter) sync() {
	snap := e.core.Snapshot()
	e.mu.Lock()
	defer e.mu.Unlock()
	for n, v := range snap {
		if g, ok := e.gauges[n]; ok {
			g.SetFloat64(v)
			continue
		}
		c, ok := e.counters[n]
		if !ok {
			continue
		}
		if d := v - e.last[n]; d > 0 {
			c.Incr(int64(d))
		}
		e.last[n] = v
	}
}
