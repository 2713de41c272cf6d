package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/test/sim"
)

// BenchmarkSteadyStateRequests counts the requests a caught-up NordPass
// stream sends per minute at 2 and 20 events/s (poll_interval 2s, overlap
// 5m, page_size 100), with overlap sweeps once a minute (the default) and
// at every poll (sweep_interval 0s, how every poll re-read the overlap
// before sweeps). The minimum is one request per poll for the new events
// plus the overlap's pages once per sweep period (one minute): the
// requests a reader needs that catches late events within that period.
//
// Time is simulated (a fake clock moved 2 s per poll), so the figures do
// not depend on the machine; each run covers 20 simulated minutes and
// counts the last 10.
func BenchmarkSteadyStateRequests(b *testing.B) {
	for _, rate := range []int{2, 20} {
		for _, sweep := range []string{"1m", "0s"} {
			b.Run(fmt.Sprintf("events_per_s=%d/sweep_interval=%s", rate, sweep), func(b *testing.B) {
				for range b.N {
					perMin := steadyRequests(b, rate, sweep)
					const poll, overlap, pageSize = 2 * time.Second, 5 * time.Minute, 100
					minimum := float64(time.Minute/poll) + math.Ceil(overlap.Seconds()*float64(rate)/pageSize)
					b.ReportMetric(perMin, "requests/min")
					b.ReportMetric(minimum, "minimum/min")
					b.ReportMetric(perMin/minimum, "x_minimum")
				}
			})
		}
	}
}

func steadyRequests(b *testing.B, rate int, sweep string) float64 {
	b.Helper()
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	clock := sim.NewFakeClock(start)
	np := sim.NewNordPass(sim.NordPassConfig{Seed: 5, Count: 0, RateLimit: -1, Clock: clock})
	np.AddToken("bench-token", sim.TokenValid)
	srv := httptest.NewServer(sim.NewServer().Mount(sim.NordPassPrefix, np))
	defer srv.Close()
	cfg, err := core.ParseMap(map[string]any{
		"source": "nordpass", "nordpass.base_url": srv.URL + "/nordpass", "nordpass.token": "bench-token",
		"initial_lookback": "10m", "settle_delay": "10s", "poll_interval": "2s", "overlap": "5m", "sweep_interval": sweep,
		"page_size": 100, "checkpoint.type": "memory", "rate_limit.enabled": false,
	})
	if err != nil {
		b.Fatal(err)
	}
	m := &core.Metrics{}
	p, err := core.NewPoller(context.Background(), cfg, core.Options{Clock: clock, Metrics: m})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	const step = 2 * time.Second
	var counted int64
	for i := range int(20 * time.Minute / step) {
		for e := range rate * int(step/time.Second) {
			at := clock.Now().Add(-time.Duration(e) * time.Second / time.Duration(rate))
			np.AddEvent(at, at, "", "", e)
		}
		drainIdle(b, p)
		if i == int(10*time.Minute/step) {
			counted = m.Requests.Load()
		}
		clock.Advance(step)
	}
	return float64(m.Requests.Load()-counted) / 10
}

// drainIdle reads and acks until the poller waits for its next poll.
func drainIdle(b *testing.B, p *core.Poller) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		batch, err := p.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
		batch.Ack(nil)
	}
}
