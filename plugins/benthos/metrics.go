package benthos

import (
	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core"
)

// metricsSink is the input's Benthos metrics, which carry its label and path
// and reach whatever exporter the config chooses (prometheus, statsd, …).
// The core's names get an "auditpull_" prefix.
type metricsSink struct {
	counters map[string]*service.MetricCounter
	gauges   map[string]*service.MetricGauge
}

func newMetricsSink(m *service.Metrics) metricsSink {
	s := metricsSink{counters: map[string]*service.MetricCounter{}, gauges: map[string]*service.MetricGauge{}}
	for _, info := range core.MetricInfos {
		if info.Gauge {
			s.gauges[info.Name] = m.NewGauge("auditpull_" + info.Name)
		} else {
			s.counters[info.Name] = m.NewCounter("auditpull_" + info.Name)
		}
	}
	return s
}

func (s metricsSink) Update(info core.MetricInfo, value, delta float64) {
	if info.Gauge {
		s.gauges[info.Name].SetFloat64(value)
	} else if delta > 0 {
		s.counters[info.Name].Incr(int64(delta))
	}
}
