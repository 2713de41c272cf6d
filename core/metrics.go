package core

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Metrics are the counters every adapter exports in its host's own way. They
// are safe for concurrent use; one Metrics may be shared by several pollers.
type Metrics struct {
	Events               atomic.Int64 // events handed to the host
	Pages                atomic.Int64 // batches handed to the host
	EventsAcked          atomic.Int64 // events the host confirmed
	Requests             atomic.Int64 // HTTP requests sent to the vendor
	Retries              atomic.Int64 // requests repeated after a transient failure
	Throttled            atomic.Int64 // 429 responses received
	WindowSplits         atomic.Int64 // windows split because they held more than the vendor returns
	DuplicatesSuppressed atomic.Int64 // re-read events not delivered again
	Unreachable          atomic.Int64 // events the vendor holds but cannot return (see DESIGN: unsplittable windows)
	Redeliveries         atomic.Int64 // batches re-sent after a nack
	Errors               atomic.Int64 // failed polls reported to the host
	UnmappedEvents       atomic.Int64 // events no mapping knew, delivered as base events (format ocsf or ecs)
	lagNanos             atomic.Int64
	lastSuccessUnix      atomic.Int64
	budgetMilli          atomic.Int64 // requests per 1000 s

	backfillLeftNanos     atomic.Int64
	backfillETANanos      atomic.Int64
	backfillProgressMicro atomic.Int64
	progressSet           atomic.Bool
	pollIntervalNanos     atomic.Int64
	tenantsFailed         atomic.Int64
	tenantsRead           atomic.Int64
}

// MetricInfo describes one exported metric, for hosts that register their
// metrics with a type and a help text.
type MetricInfo struct {
	Name  string
	Help  string
	Gauge bool // a value that goes up and down; otherwise a counter
	Int   bool // a gauge whose values are whole numbers (a time, a count)
}

// Whole reports whether the metric's values are whole numbers: every
// counter, and the gauges marked Int. Hosts with typed fields (Telegraf)
// write them as integers.
func (m MetricInfo) Whole() bool { return !m.Gauge || m.Int }

// MetricInfos lists the exported metrics in a stable order.
var MetricInfos = []MetricInfo{
	{Name: "events", Help: "Events read and passed on for delivery, counted before the host confirms them (a page delivered again counts in redeliveries only)."},
	{Name: "pages", Help: "Pages (batches of events) read and passed on for delivery, counted before the host confirms them."},
	{Name: "events_acked", Help: "Events the host confirmed as delivered, so the checkpoint may move past them: the count to compare with the destination's (events runs ahead of it by what is in flight)."},
	{Name: "requests", Help: "HTTP requests sent to the vendor."},
	{Name: "retries", Help: "Requests repeated after a transient failure."},
	{Name: "throttled", Help: "429 responses received from the vendor."},
	{Name: "window_splits", Help: "Windows split because they held more records than the vendor returns."},
	{Name: "duplicates_suppressed", Help: "Re-read events not delivered again."},
	{Name: "unreachable", Help: "Events the vendor holds but cannot return (more in one second than its cap)."},
	{Name: "redeliveries", Help: "Pages delivered again after the host rejected them."},
	{Name: "errors", Help: "Failed polls reported to the host."},
	{Name: "unmapped_events", Help: "Events no mapping of the format option knew, delivered as OCSF Base Events (ECS without a category)."},
	{Name: "lag_seconds", Help: "How far the least advanced committed checkpoint of the input's streams trails the wall clock, in seconds.", Gauge: true},
	{Name: "last_success_time", Help: "Unix time of the last successful request to the vendor.", Gauge: true, Int: true},
	{Name: "rate_budget", Help: "The request budget in force, in requests per second: the vendor's documented limit (or rate_limit), halved at each 429 and recovered slowly; 0 when the budget is off.", Gauge: true},
	{Name: "backfill_remaining_seconds", Help: "History still to read before the input's streams are live, in seconds of event time (summed over its streams); 0 when live.", Gauge: true},
	{Name: "backfill_progress", Help: "Share read, 0 to 1, of the backlog that the input's least advanced backfilling stream had when this run found it behind (after a restart it counts again from the checkpoint); 1 when live.", Gauge: true},
	{Name: "backfill_eta_seconds", Help: "Seconds until the slowest backfilling stream is live, from the requests its history has needed so far and the request budget in force; 0 when live or not yet known.", Gauge: true},
	{Name: "poll_interval_effective_seconds", Help: "The longest time between two live polls of one stream: poll_interval, or more when the request budget cannot poll every stream that often.", Gauge: true},
	{Name: "tenants_failed", Help: "Tenants of the input stopped by an error a person must fix (a refused credential, a rejected request, an unreadable checkpoint); each is tried again after tenant_retry while the others go on.", Gauge: true, Int: true},
	{Name: "tenants_read", Help: "Tenants this replica reads now: all of the input's that opened, or its share of them when replicas share a store; 0 for an input without tenants.", Gauge: true, Int: true},
}

// MetricNames lists the exported metrics' names in the order of MetricInfos.
var MetricNames = func() []string {
	out := make([]string, len(MetricInfos))
	for i, m := range MetricInfos {
		out[i] = m.Name
	}
	return out
}()

// Fields is Snapshot typed for hosts whose fields keep one type (InfluxDB
// through Telegraf): whole-numbered metrics (MetricInfo.Whole) as int64,
// the others as float64.
func (m *Metrics) Fields() map[string]any {
	snap := m.Snapshot()
	out := make(map[string]any, len(snap))
	for _, info := range MetricInfos {
		if v := snap[info.Name]; info.Whole() {
			out[info.Name] = int64(v)
		} else {
			out[info.Name] = v
		}
	}
	return out
}

// Snapshot returns every counter by its exported name (see MetricNames).
// lag_seconds is how far the committed cursor trails the wall clock;
// last_success_time is the Unix time of the last successful request.
func (m *Metrics) Snapshot() map[string]float64 {
	return map[string]float64{
		"events":                float64(m.Events.Load()),
		"pages":                 float64(m.Pages.Load()),
		"events_acked":          float64(m.EventsAcked.Load()),
		"requests":              float64(m.Requests.Load()),
		"retries":               float64(m.Retries.Load()),
		"throttled":             float64(m.Throttled.Load()),
		"window_splits":         float64(m.WindowSplits.Load()),
		"duplicates_suppressed": float64(m.DuplicatesSuppressed.Load()),
		"unreachable":           float64(m.Unreachable.Load()),
		"redeliveries":          float64(m.Redeliveries.Load()),
		"errors":                float64(m.Errors.Load()),
		"unmapped_events":       float64(m.UnmappedEvents.Load()),
		"lag_seconds":           time.Duration(m.lagNanos.Load()).Seconds(),
		"last_success_time":     float64(m.lastSuccessUnix.Load()),
		"rate_budget":           float64(m.budgetMilli.Load()) / 1000,

		"backfill_remaining_seconds":      time.Duration(m.backfillLeftNanos.Load()).Seconds(),
		"backfill_progress":               m.progressRatio(),
		"backfill_eta_seconds":            time.Duration(m.backfillETANanos.Load()).Seconds(),
		"poll_interval_effective_seconds": time.Duration(m.pollIntervalNanos.Load()).Seconds(),
		"tenants_failed":                  float64(m.tenantsFailed.Load()),
		"tenants_read":                    float64(m.tenantsRead.Load()),
	}
}

func (m *Metrics) setLag(d time.Duration) { m.lagNanos.Store(int64(d)) }

// raiseLag sets the lag unless it is already greater.
func (m *Metrics) raiseLag(d time.Duration) {
	for {
		cur := m.lagNanos.Load()
		if int64(d) <= cur || m.lagNanos.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// progressRatio is 1 until a poller has published: an input that has not
// opened its streams yet is not 0 % done.
func (m *Metrics) progressRatio() float64 {
	if !m.progressSet.Load() {
		return 1
	}
	return float64(m.backfillProgressMicro.Load()) / 1e6
}
func (m *Metrics) setBudget(perSecond float64) {
	m.budgetMilli.Store(int64(perSecond * 1000))
}
func (m *Metrics) success(t time.Time) { m.lastSuccessUnix.Store(t.Unix()) }

// MetricsSink is a host's own metrics API, fed by a MetricsExporter.
// Update gets each metric's current value and its change since the last
// update (the whole value at the first): hosts with settable series use
// value, hosts whose counters only take increments use delta.
type MetricsSink interface {
	Update(info MetricInfo, value, delta float64)
}

// MetricsExporter publishes Metrics to a sink, remembering what it sent.
// Sync is safe for concurrent use.
type MetricsExporter struct {
	m    *Metrics
	sink MetricsSink
	mu   sync.Mutex
	last map[string]float64
}

// NewMetricsExporter returns an exporter of m to sink.
func NewMetricsExporter(m *Metrics, sink MetricsSink) *MetricsExporter {
	return &MetricsExporter{m: m, sink: sink, last: map[string]float64{}}
}

// Sync passes every metric's current value to the sink.
func (e *MetricsExporter) Sync() {
	snap := e.m.Snapshot()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, info := range MetricInfos {
		v := snap[info.Name]
		e.sink.Update(info, v, v-e.last[info.Name])
		e.last[info.Name] = v
	}
}

// Run syncs every interval until ctx ends, and once more then, so a host
// that stops sees the final values.
func (e *MetricsExporter) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			e.Sync()
		case <-ctx.Done():
			e.Sync()
			return
		}
	}
}
