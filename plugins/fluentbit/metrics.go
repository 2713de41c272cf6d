package main

/*
#include <stdlib.h>
#include "flb_abi.h"
*/
import "C"

import (
	"unsafe"

	"github.com/auditpull/auditpull/core"
)

// hostMetrics are the core's counters registered as metrics of the Fluent
// Bit instance (fluentbit_auditpull_events_total{name="auditpull.0"}, …),
// in the instance's own cmetrics context, as Fluent Bit's own inputs
// register theirs: they appear in /api/v2/metrics and prometheus_exporter.
// A core.MetricsExporter sets them from the instance's thread at each
// collect.
type hostMetrics struct {
	export  *core.MetricsExporter
	calls   *C.struct_ap_cmt_calls
	handles map[string]unsafe.Pointer
	label   *C.char
}

// newHostMetrics registers the metrics; nil when the host offers no
// metrics API the plugin can use (see ap_cmt_context). Call it from init,
// on the instance's thread.
func newHostMetrics(p *C.struct_ap_go_input_plugin, name string, metrics *core.Metrics) *hostMetrics {
	calls := (*C.struct_ap_cmt_calls)(C.calloc(1, C.sizeof_struct_ap_cmt_calls))
	cmt := C.ap_cmt_context(p, calls)
	if cmt == nil {
		C.free(unsafe.Pointer(calls))
		return nil
	}
	m := &hostMetrics{calls: calls, handles: map[string]unsafe.Pointer{}, label: C.CString(name)}
	for _, info := range core.MetricInfos {
		name := info.Name
		if !info.Gauge {
			name += "_total"
		}
		cname, chelp := C.CString(name), C.CString(info.Help)
		h := C.ap_metric_create(calls, cmt, gaugeFlag(info), cname, chelp)
		C.free(unsafe.Pointer(cname))
		C.free(unsafe.Pointer(chelp))
		if h == nil {
			m.close()
			return nil
		}
		m.handles[info.Name] = h
	}
	m.export = core.NewMetricsExporter(metrics, m)
	m.sync() // each series exists from the start
	return m
}

func gaugeFlag(info core.MetricInfo) C.int {
	if info.Gauge {
		return 1
	}
	return 0
}

func (m *hostMetrics) sync() {
	if m != nil {
		m.export.Sync()
	}
}

// Update sets a metric to the core's current value.
func (m *hostMetrics) Update(info core.MetricInfo, value, _ float64) {
	C.ap_metric_set(m.calls, m.handles[info.Name], gaugeFlag(info), C.double(value), m.label)
}

// close frees what the plugin allocated; the metrics themselves belong to
// the instance's context, which Fluent Bit destroys with the instance.
func (m *hostMetrics) close() {
	if m == nil {
		return
	}
	C.free(unsafe.Pointer(m.label))
	C.free(unsafe.Pointer(m.calls))
}
