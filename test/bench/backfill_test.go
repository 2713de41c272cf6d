// Package bench measures the core against the simulator running as its own
// process on loopback, so the figures (CPU, RSS) are the poller's alone.
// Nothing here asserts a timing; `make bench` prints the figures.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	_ "github.com/auditpull/auditpull/core/source/all"
)

// startSim builds and starts the standalone simulator; it returns its base
// URL and stops it when the benchmark ends.
func startSim(b *testing.B, args ...string) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "auditpull-sim")
	build := exec.Command("go", "build", "-o", bin, "github.com/auditpull/auditpull/test/sim/cmd/auditpull-sim")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0"}, args...)...)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "auditpull-sim listening on "))
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func peakRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(l, "VmHWM:"), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkNordPassBackfill1M pulls a 1,000,000-event, 90-day NordPass
// history through Next/Ack with rate limiting off and reports requests
// against the minimum (ceil(events/100)), events per CPU-second, and peak
// heap and RSS of this process (the simulator runs in another).
func BenchmarkNordPassBackfill1M(b *testing.B) {
	events := 1_000_000
	if testing.Short() {
		events = 100_000
	}
	url := startSim(b, "-events", fmt.Sprint(events), "-span", "2159h", "-rate-limit", "0", "-token", "bench-token")
	for i := 0; i < b.N; i++ {
		cfg, err := core.ParseMap(map[string]any{
			"source": "nordpass", "nordpass.base_url": url + "/nordpass", "nordpass.token": "bench-token",
			"start_time":         time.Now().Add(-90 * 24 * time.Hour).Add(time.Hour).UTC().Format(time.RFC3339),
			"checkpoint.type":    "memory",
			"rate_limit.enabled": false,
		})
		if err != nil {
			b.Fatal(err)
		}
		p, err := core.NewPoller(context.Background(), cfg, core.Options{})
		if err != nil {
			b.Fatal(err)
		}
		var peakHeap atomic.Uint64
		stop := make(chan struct{})
		go func() {
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peakHeap.Load() {
					peakHeap.Store(ms.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
		cpu0, t0 := cpuTime(), time.Now()
		n := 0
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			batch, err := p.Next(ctx)
			cancel()
			if err != nil {
				break // caught up (or failed: the count below shows it)
			}
			n += len(batch.Events)
			batch.Ack(nil)
		}
		elapsed := time.Since(t0) - 2*time.Second
		cpu := cpuTime() - cpu0
		close(stop)
		m := p.Metrics()
		p.Close(context.Background())
		minReq := (n + 99) / 100
		b.ReportMetric(float64(n), "events")
		b.ReportMetric(float64(m.Requests.Load()), "requests")
		b.ReportMetric(float64(m.Requests.Load())/float64(minReq), "requests/min")
		b.ReportMetric(float64(m.WindowSplits.Load()), "splits")
		b.ReportMetric(float64(n)/cpu.Seconds(), "events/cpu-s")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(peakHeap.Load())/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
	}
}

// BenchmarkNordPassRateBudget polls with the documented limit scaled down
// in time (2000 requests per 5 s instead of per 5 min) on both sides, and
// reports how much of the budget was used and how many 429s came back.
func BenchmarkNordPassRateBudget(b *testing.B) {
	const limit, window, run = 2000, 5 * time.Second, 20 * time.Second
	url := startSim(b, "-events", "40000", "-span", "24h", "-rate-limit", fmt.Sprint(limit), "-rate-window", window.String(), "-token", "bench-token")
	for i := 0; i < b.N; i++ {
		cfg, err := core.ParseMap(map[string]any{
			"source": "nordpass", "nordpass.base_url": url + "/nordpass", "nordpass.token": "bench-token",
			"initial_lookback": "24h", "page_size": 1, "checkpoint.type": "memory",
			"rate_limit.requests": limit, "rate_limit.period": window.String(),
		})
		if err != nil {
			b.Fatal(err)
		}
		p, err := core.NewPoller(context.Background(), cfg, core.Options{})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), run)
		t0 := time.Now()
		for {
			batch, err := p.Next(ctx)
			if err != nil {
				break
			}
			batch.Ack(nil)
		}
		elapsed := time.Since(t0)
		cancel()
		m := p.Metrics()
		p.Close(context.Background())
		budget := float64(limit) * elapsed.Seconds() / window.Seconds()
		b.ReportMetric(float64(m.Requests.Load()), "requests")
		b.ReportMetric(100*float64(m.Requests.Load())/budget, "budget-used-%")
		b.ReportMetric(float64(m.Throttled.Load()), "429s")
	}
}
