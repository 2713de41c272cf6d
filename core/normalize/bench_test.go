package normalize_test

import (
	"testing"

	"github.com/auditpull/auditpull/core/normalize"
)

// BenchmarkNormalize renders every source's simulated history in each
// format, side by side; raw is the copy a format costs at the least.
// events/s is per CPU-second: one goroutine renders.
func BenchmarkNormalize(b *testing.B) {
	var events []normalize.Event
	for _, h := range histories {
		raw, _ := poll(b, h, normalize.Raw)
		for _, e := range raw {
			events = append(events, normalize.Event{Source: h.source, ID: e.ID, Time: e.Time, Type: e.Type, Action: e.Action, Raw: e.Raw})
		}
	}
	for _, f := range []normalize.Format{normalize.Raw, normalize.OCSF, normalize.ECS} {
		b.Run(string(f), func(b *testing.B) {
			var buf []byte
			bytes := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				buf = buf[:0]
				for j := range events {
					buf, _ = normalize.Append(buf, f, &events[j])
				}
				bytes = len(buf)
			}
			n := float64(b.N) * float64(len(events))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
			b.ReportMetric(n/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(bytes)/float64(len(events)), "B/event")
			b.ReportMetric(0, "ns/op")
		})
	}
}
