package bench

import (
	"context"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/test/sim"
)

// BenchmarkFreshness measures, in steady state, the time from an event
// becoming visible in the simulator to the poller emitting it, with
// settle_delay 2s and poll_interval 1s. Freshness is bounded below by
// settle_delay (the price of not skipping late-indexed events) and grows
// with poll_interval; this shows what the engine adds on top.
func BenchmarkFreshness(b *testing.B) {
	const run = 20 * time.Second
	np := sim.NewNordPass(sim.NordPassConfig{Seed: 9, Count: 0, RateLimit: -1})
	np.AddToken("bench-token", sim.TokenValid)
	srv := httptest.NewServer(sim.NewServer().Mount(sim.NordPassPrefix, np))
	defer srv.Close()
	for i := 0; i < b.N; i++ {
		cfg, err := core.ParseMap(map[string]any{
			"source": "nordpass", "nordpass.base_url": srv.URL + "/nordpass", "nordpass.token": "bench-token",
			"initial_lookback": "1m", "settle_delay": "2s", "poll_interval": "1s", "overlap": "5s",
			"checkpoint.type": "memory", "rate_limit.enabled": false,
		})
		if err != nil {
			b.Fatal(err)
		}
		p, err := core.NewPoller(context.Background(), cfg, core.Options{})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), run)
		var mu sync.Mutex
		added := map[string]time.Time{}
		go func() {
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					r := np.AddRandom(time.Now())
					mu.Lock()
					added[string(r.JSON)] = time.Now()
					mu.Unlock()
				}
			}
		}()
		var lags []time.Duration
		for {
			batch, err := p.Next(ctx)
			if err != nil {
				break
			}
			now := time.Now()
			mu.Lock()
			for _, e := range batch.Events {
				if at, ok := added[string(e.Raw)]; ok {
					lags = append(lags, now.Sub(at))
				}
			}
			mu.Unlock()
			batch.Ack(nil)
		}
		cancel()
		p.Close(context.Background())
		if len(lags) == 0 {
			b.Fatal("nothing delivered")
		}
		sort.Slice(lags, func(a, c int) bool { return lags[a] < lags[c] })
		b.ReportMetric(float64(len(lags)), "events")
		b.ReportMetric(lags[len(lags)/2].Seconds(), "p50-s")
		b.ReportMetric(lags[len(lags)*99/100].Seconds(), "p99-s")
	}
}
