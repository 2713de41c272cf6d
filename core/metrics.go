package core

import (
	"sync/atomic"
	"time"
)

// Metrics are the counters every adapter exports in its host's own way. They
// are safe for concurrent use; one Metrics may be shared by several pollers.
type Metrics struct {
	Events               atomic.Int64 // events handed to the host
	Pages                atomic.Int64 // batches handed to the host
	Requests             atomic.Int64 // HTTP requests sent to the vendor
	Retries              atomic.Int64 // requests repeated after a transient failure
	Throttled            atomic.Int64 // 429 responses received
	WindowSplits         atomic.Int64 // windows split because they held more than the vendor returns
	DuplicatesSuppressed atomic.Int64 // re-read events not delivered again
	Unreachable          atomic.Int64 // events the vendor holds but cannot return (see DESIGN: unsplittable windows)
	Redeliveries         atomic.Int64 // batches re-sent after a nack
	Errors               atomic.Int64 // failed polls reported to the host
	lagNanos             atomic.Int64
	lastSuccessUnix      atomic.Int64
}

// MetricNames lists the exported counters in a stable order.
var MetricNames = []string{
	"events", "pages", "requests", "retries", "throttled", "window_splits",
	"duplicates_suppressed", "unreachable", "redeliveries", "errors",
	"lag_seconds", "last_success_time",
}

// Snapshot returns every counter by its exported name (see MetricNames).
// lag_seconds is how far the committed cursor trails the wall clock;
// last_success_time is the Unix time of the last successful request.
func (m *Metrics) Snapshot() map[string]float64 {
	return map[string]float64{
		"events":                float64(m.Events.Load()),
		"pages":                 float64(m.Pages.Load()),
		"requests":              float64(m.Requests.Load()),
		"retries":               float64(m.Retries.Load()),
		"throttled":             float64(m.Throttled.Load()),
		"window_splits":         float64(m.WindowSplits.Load()),
		"duplicates_suppressed": float64(m.DuplicatesSuppressed.Load()),
		"unreachable":           float64(m.Unreachable.Load()),
		"redeliveries":          float64(m.Redeliveries.Load()),
		"errors":                float64(m.Errors.Load()),
		"lag_seconds":           time.Duration(m.lagNanos.Load()).Seconds(),
		"last_success_time":     float64(m.lastSuccessUnix.Load()),
	}
}

func (m *Metrics) setLag(d time.Duration) { m.lagNanos.Store(int64(d)) }
func (m *Metrics) success(t time.Time)    { m.lastSuccessUnix.Store(t.Unix()) }
