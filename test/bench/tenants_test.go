package bench

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
)

// BenchmarkThousandTenantsInOneInput runs one input of 1,000 NordPass
// tenants (990 live, 10 backfilling 90 days) in one poll loop on one
// request budget, against the standalone simulator (its own process, so
// the peak RSS is the poller's). The simulator appends live events;
// freshness is the time from an event's timestamp (whole seconds, so up to
// 1 s more than true) to its delivery by a live tenant, which should stay
// within poll_interval (5 s) + settle_delay (2 s) + a little. No live
// tenant may starve: each delivers about as many events as the others.
func BenchmarkThousandTenantsInOneInput(b *testing.B) {
	const tenants, backfill, run = 1000, 10, 60 * time.Second
	const span = 90 * 24 * time.Hour
	url := startSim(b, "-events", "200000", "-span", span.String(), "-rate-limit", "0", "-token", "bench-token", "-live-rate", "10")
	for range b.N {
		began := time.Now()
		// The default store, as a deployment runs it: one journaled file
		// per tenant, durable at most sync_interval (1 s) apart.
		store, err := checkpoint.NewFile(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		store.SyncEvery(time.Second)
		var list []any
		for i := range tenants {
			name := fmt.Sprintf("tenant-%04d", i)
			if i < backfill {
				// A tenant far behind: its checkpoint is 90 days old.
				name = fmt.Sprintf("backfill-%02d", i)
				seedCheckpoint(b, url, store, name, began.Add(-span))
			}
			list = append(list, map[string]any{"stream": name})
		}
		cfg, err := core.ParseMap(map[string]any{
			"source": "nordpass", "nordpass.base_url": url + "/nordpass", "nordpass.token": "bench-token",
			"tenants": list, "initial_lookback": "10s", "settle_delay": "2s", "poll_interval": "5s", "overlap": "30s",
			// One budget: 300 requests/s, of which the live polls need
			// about 200 (990 tenants every 5 s) plus their sweeps;
			// backfill pages get the rest.
			"rate_limit.requests": 300, "rate_limit.period": "1s",
		})
		if err != nil {
			b.Fatal(err)
		}
		m := &core.Metrics{}
		p, err := core.NewPoller(context.Background(), cfg, core.Options{Store: store, Metrics: m})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), run)
		r := drive(ctx, p, began)
		cancel()
		// The heap that the thousand tenants' state holds, without the
		// garbage the collector has not reclaimed yet.
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		closing := time.Now()
		_ = p.Close(context.Background())
		closed := time.Since(closing)
		var per []int
		for i := backfill; i < tenants; i++ {
			per = append(per, r.perTenant[fmt.Sprintf("tenant-%04d", i)])
		}
		slices.Sort(per)
		slices.Sort(r.lags)
		if len(r.lags) == 0 {
			b.Fatal("no live event delivered")
		}
		starved := 0
		for _, n := range per {
			if n == 0 {
				starved++
			}
		}
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "live-heap-MiB")
		b.ReportMetric(r.lags[len(r.lags)*50/100].Seconds(), "live-p50-s")
		b.ReportMetric(r.lags[len(r.lags)*99/100].Seconds(), "live-p99-s")
		b.ReportMetric(r.lags[len(r.lags)-1].Seconds(), "live-max-s")
		b.ReportMetric(float64(per[0]), "min-events/live-tenant")
		b.ReportMetric(float64(per[len(per)/2]), "median-events/live-tenant")
		b.ReportMetric(float64(starved), "starved-tenants")
		b.ReportMetric(float64(r.backfill), "backfill-events")
		b.ReportMetric(float64(m.Requests.Load())/run.Seconds(), "requests/s")
		b.ReportMetric(m.Snapshot()["backfill_progress"], "backfill-progress")
		// Close writes every stream's newest checkpoint to its file.
		b.ReportMetric(closed.Seconds(), "close-s")
	}
}

// seedCheckpoint leaves stream a checkpoint at from, as a tenant that
// has read one page of a long history has.
func seedCheckpoint(b *testing.B, url string, store checkpoint.Store, stream string, from time.Time) {
	cfg, err := core.ParseMap(map[string]any{
		"source": "nordpass", "nordpass.base_url": url + "/nordpass", "nordpass.token": "bench-token",
		"stream": stream, "start_time": from.UTC().Format(time.RFC3339),
		// The budget is the process's per API host: the first to use it
		// sets it, so the seeding states the tenants' one.
		"rate_limit.requests": 300, "rate_limit.period": "1s",
	})
	if err != nil {
		b.Fatal(err)
	}
	p, err := core.NewPoller(context.Background(), cfg, core.Options{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	batch, err := p.Next(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	batch.Ack(nil)
	if err := p.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

type tenantRun struct {
	backfill  int
	perTenant map[string]int
	lags      []time.Duration
}

// drive is the host: it takes every batch and acks it at once, noting
// the freshness of the events newer than the run.
func drive(ctx context.Context, p *core.Poller, began time.Time) tenantRun {
	r := tenantRun{perTenant: map[string]int{}}
	for {
		batch, err := p.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return r
			}
			continue
		}
		now := time.Now()
		for _, e := range batch.Events {
			switch {
			case strings.HasPrefix(batch.Stream, "backfill-"):
				r.backfill++
			case e.Time.After(began):
				r.perTenant[batch.Stream]++
				r.lags = append(r.lags, now.Sub(e.Time))
			}
		}
		batch.Ack(nil)
	}
}
