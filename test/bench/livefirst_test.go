package bench

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
	"github.com/auditpull/auditpull/test/sim"
)

// BenchmarkLiveBeforeBackfill runs 100 live NordPass streams and 5 streams
// backfilling 90 days in one process, on one request budget that the live
// polls alone need most of (60 requests/s; 100 streams polling every 2 s
// need 50). Events are added every 50 ms; live freshness is the time from
// an event becoming visible to a live stream delivering it, which the
// budget's priority for live requests keeps within poll_interval (2s) +
// settle_delay (2s) + 1 s. Backfill pages use what the live polls leave.
func BenchmarkLiveBeforeBackfill(b *testing.B) {
	const live, backfill, run, budget = 100, 5, 40 * time.Second, 80
	now := time.Now()
	np := sim.NewNordPass(sim.NordPassConfig{Seed: 11, Count: 300_000, From: now.Add(-90 * 24 * time.Hour), To: now.Add(-time.Hour), RateLimit: -1})
	np.AddToken("bench-token", sim.TokenValid)
	srv := httptest.NewServer(sim.NewServer().Mount(sim.NordPassPrefix, np))
	defer srv.Close()
	for range b.N {
		store := checkpoint.NewMemory()
		ctx, cancel := context.WithTimeout(context.Background(), run)
		var mu sync.Mutex
		added := map[string]time.Time{}
		var lags []time.Duration
		var wg sync.WaitGroup
		metrics := make([]*core.Metrics, backfill)
		start := func(name string, m *core.Metrics, settings map[string]any, onBatch func(*core.Batch)) {
			cfg := map[string]any{
				"source": "nordpass", "nordpass.base_url": srv.URL + "/nordpass", "nordpass.token": "bench-token",
				"stream": name, "settle_delay": "2s", "poll_interval": "2s", "overlap": "30s",
				"rate_limit.requests": budget, "rate_limit.period": "1s", "checkpoint.type": "memory",
			}
			for k, v := range settings {
				cfg[k] = v
			}
			c, err := core.ParseMap(cfg)
			if err != nil {
				b.Fatal(err)
			}
			p, err := core.NewPoller(ctx, c, core.Options{Store: store, Metrics: m})
			if err != nil {
				b.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer p.Close(context.Background())
				for {
					batch, err := p.Next(ctx)
					if err != nil {
						if ctx.Err() != nil {
							return
						}
						continue
					}
					onBatch(batch)
					batch.Ack(nil)
				}
			}()
		}
		for s := range backfill {
			metrics[s] = &core.Metrics{}
			start(fmt.Sprintf("backfill-%d", s), metrics[s], map[string]any{"start_time": now.Add(-90 * 24 * time.Hour).Format(time.RFC3339)}, func(*core.Batch) {})
		}
		liveMetrics := &core.Metrics{}
		for s := range live {
			start(fmt.Sprintf("live-%03d", s), liveMetrics, map[string]any{"initial_lookback": "10s"}, func(batch *core.Batch) {
				t := time.Now()
				mu.Lock()
				for _, e := range batch.Events {
					if at, ok := added[string(e.Raw)]; ok {
						lags = append(lags, t.Sub(at))
					}
				}
				mu.Unlock()
			})
		}
		// Events from the fifth second on, once every stream has started.
		var progress []string
		go func() {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			report := time.NewTicker(10 * time.Second)
			defer report.Stop()
			time.Sleep(5 * time.Second)
			for {
				select {
				case <-ctx.Done():
					return
				case t := <-tick.C:
					r := np.AddEvent(t, t, "", "", 0)
					mu.Lock()
					added[string(r.JSON)] = t
					mu.Unlock()
				case <-report.C:
					var ps []string
					for _, m := range metrics {
						ps = append(ps, fmt.Sprintf("%.1f%%", 100*m.Snapshot()["backfill_progress"]))
					}
					progress = append(progress, fmt.Sprint(ps))
				}
			}
		}()
		wg.Wait()
		cancel()
		sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
		if len(lags) == 0 {
			b.Fatal("no live event delivered")
		}
		var backfillRequests int64
		for _, m := range metrics {
			backfillRequests += m.Requests.Load()
		}
		liveRequests := liveMetrics.Requests.Load()
		b.ReportMetric(lags[len(lags)*50/100].Seconds(), "live-p50-s")
		b.ReportMetric(lags[len(lags)*99/100].Seconds(), "live-p99-s")
		b.ReportMetric(float64(liveRequests+backfillRequests)/(budget*run.Seconds()), "budget-used")
		b.ReportMetric(float64(backfillRequests)/float64(liveRequests+backfillRequests), "backfill-share")
		b.Logf("backfill progress every 10 s: %v", progress)
	}
}
