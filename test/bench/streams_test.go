package bench

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
)

// BenchmarkThousandStreams runs 1,000 pollers (tenants) in one process
// against one simulator with the shared budget on, for a fixed time, and
// reports peak RSS and how evenly the budget was spread: no stream may
// starve while others run ahead.
func BenchmarkThousandStreams(b *testing.B) {
	const streams, run = 1000, 15 * time.Second
	url := startSim(b, "-events", "3000", "-span", "168h", "-rate-limit", "0", "-token", "bench-token")
	for i := 0; i < b.N; i++ {
		store := checkpoint.NewMemory()
		ctx, cancel := context.WithTimeout(context.Background(), run)
		counts := make([]atomic.Int64, streams)
		var wg sync.WaitGroup
		var pollers []*core.Poller
		for s := 0; s < streams; s++ {
			cfg, err := core.ParseMap(map[string]any{
				"source": "nordpass", "nordpass.base_url": url + "/nordpass", "nordpass.token": "bench-token",
				"stream": fmt.Sprintf("tenant-%04d", s), "page_size": 20,
				// One budget for all: 3000 requests per second spread over
				// a thousand streams.
				"rate_limit.requests": 3000, "rate_limit.period": "1s",
				"max_undelivered_pages": 2,
			})
			if err != nil {
				b.Fatal(err)
			}
			p, err := core.NewPoller(ctx, cfg, core.Options{Store: store})
			if err != nil {
				b.Fatal(err)
			}
			pollers = append(pollers, p)
			wg.Add(1)
			go func(p *core.Poller, n *atomic.Int64) {
				defer wg.Done()
				for {
					batch, err := p.Next(ctx)
					if err != nil {
						if ctx.Err() != nil {
							return
						}
						continue
					}
					n.Add(int64(len(batch.Events)))
					batch.Ack(nil)
				}
			}(p, &counts[s])
		}
		var ms runtime.MemStats
		wg.Wait()
		cancel()
		runtime.ReadMemStats(&ms)
		per := make([]int64, streams)
		var total int64
		for s := range counts {
			per[s] = counts[s].Load()
			total += per[s]
		}
		for _, p := range pollers {
			p.Close(context.Background())
		}
		sort.Slice(per, func(a, c int) bool { return per[a] < per[c] })
		starved := sort.Search(len(per), func(k int) bool { return per[k] > 0 })
		b.ReportMetric(float64(total), "events")
		b.ReportMetric(float64(per[0]), "min-events/stream")
		b.ReportMetric(float64(per[len(per)/2]), "median-events/stream")
		b.ReportMetric(float64(per[len(per)-1]), "max-events/stream")
		b.ReportMetric(float64(starved), "starved-streams")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	}
}
