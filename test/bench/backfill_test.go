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
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	_ "github.com/auditpull/auditpull/core/source/all"
	"github.com/auditpull/auditpull/internal/testkit/testkeys"
	"github.com/auditpull/auditpull/test/sim"
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
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru) // fails only for a bad who or pointer
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS starts a new high-water mark of the process's RSS, so each
// run reports its own peak (Linux: "5" to clear_refs resets VmHWM).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func peakRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			var kb int64
			_, _ = fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(l, "VmHWM:"), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// vendor is one source as the benchmarks poll it from the standalone
// simulator (its demo credentials; the MSP API with a key made per run).
type vendor struct {
	name string
	// section is the source's config section for the simulator at url.
	section func(url, mspKey string) map[string]any
	// limitFlags give this vendor's API a rate limit in the simulator.
	limitFlags func(limit int) []string
}

var vendors = []vendor{
	{"nordpass", func(url, _ string) map[string]any {
		return map[string]any{"base_url": url + sim.NordPassPrefix, "token": "bench-token"}
	}, func(limit int) []string { return []string{"-rate-limit", fmt.Sprint(limit)} }},
	{"nordpass_msp", func(url, key string) map[string]any {
		return map[string]any{"base_url": url + sim.NordPassMSPPrefix, "path": sim.NordPassMSPDefaultPath,
			"private_key": "file:" + key, "jwt": map[string]any{"issuer": "demo-msp"}}
	}, func(limit int) []string { return []string{"-rate-limit", fmt.Sprint(limit)} }},
	{"oloid", func(url, _ string) map[string]any {
		return map[string]any{"base_url": url + sim.OLOIDPrefix, "client_id": "demo-client", "tenant": "demo", "client_secret": "demo-secret"}
	}, func(limit int) []string { return []string{"-rate-limit", "0", "-oloid-rate-limit", fmt.Sprint(limit)} }},
	{"qualtrics", func(url, _ string) map[string]any {
		return map[string]any{"base_url": url + sim.QualtricsPrefix + sim.QualtricsAPIPath, "api_token": "demo-token", "activity_types": []any{"all"}}
	}, func(limit int) []string {
		return []string{"-rate-limit", "0", "-qualtrics-rate-limit", fmt.Sprint(limit)}
	}},
}

// startVendorSim starts the simulator with args, serving the MSP API with a
// test key, and returns its URL and the key's file.
func startVendorSim(b *testing.B, args ...string) (url, mspKey string) {
	b.Helper()
	mspKey = testkeys.WriteEC(b)
	return startSim(b, append(args, "-token", "bench-token", "-msp-public-key", mspKey)...), mspKey
}

func config(b *testing.B, v vendor, url, key string, settings map[string]any) *core.Config {
	b.Helper()
	m := map[string]any{"source": v.name, v.name: v.section(url, key), "checkpoint.type": "memory"}
	for k, val := range settings {
		m[k] = val
	}
	cfg, err := core.ParseMap(m)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// BenchmarkBackfill1M pulls a 1,000,000-event, 90-day history of each
// source through Next/Ack with rate limiting off and reports requests
// against the minimum (ceil(events/100), 100 being every source's default
// page; Qualtrics reads one stream per activity type, OLOID logs in once),
// events per CPU-second, and peak heap and RSS of this process (the
// simulator runs in another).
func BenchmarkBackfill1M(b *testing.B) {
	events := 1_000_000
	if testing.Short() {
		events = 100_000
	}
	url, key := startVendorSim(b, "-events", fmt.Sprint(events), "-span", "2159h", "-rate-limit", "0")
	for _, v := range vendors {
		b.Run(v.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				backfill(b, config(b, v, url, key, map[string]any{
					"start_time":         time.Now().Add(-90 * 24 * time.Hour).Add(time.Hour).UTC().Format(time.RFC3339),
					"rate_limit.enabled": false,
				}))
			}
		})
	}
}

func backfill(b *testing.B, cfg *core.Config) {
	runtime.GC()
	resetPeakRSS()
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

// BenchmarkRateBudget polls each source with page_size 1 and a rate limit
// on both sides — NordPass's documented 2000 per 5 minutes scaled to 2000
// per 5 s (the MSP API is assumed to share it), and for OLOID and Qualtrics,
// which document no number, their default budget of 600 per minute scaled
// to 600 per 1.5 s — and reports how much of the budget was used and how
// many 429s came back.
func BenchmarkRateBudget(b *testing.B) {
	const run = 20 * time.Second
	limits := map[string]struct {
		limit  int
		window time.Duration
	}{
		"nordpass": {2000, 5 * time.Second}, "nordpass_msp": {2000, 5 * time.Second},
		"oloid": {600, 1500 * time.Millisecond}, "qualtrics": {600, 1500 * time.Millisecond},
	}
	for _, v := range vendors {
		b.Run(v.name, func(b *testing.B) {
			l := limits[v.name]
			args := append([]string{"-events", "40000", "-span", "24h", "-rate-window", l.window.String()}, v.limitFlags(l.limit)...)
			url, key := startVendorSim(b, args...)
			for i := 0; i < b.N; i++ {
				cfg := config(b, v, url, key, map[string]any{
					"initial_lookback": "24h", "page_size": 1,
					"rate_limit.requests": l.limit, "rate_limit.period": l.window.String(),
				})
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
				budget := float64(l.limit) * elapsed.Seconds() / l.window.Seconds()
				b.ReportMetric(float64(m.Requests.Load()), "requests")
				b.ReportMetric(100*float64(m.Requests.Load())/budget, "budget-used-%")
				b.ReportMetric(float64(m.Throttled.Load()), "429s")
			}
		})
	}
}

// BenchmarkBackfillFormats is the cost of format: ocsf and ecs against raw:
// a 200,000-event backfill of each source through Next/Ack, the three
// formats interleaved over three rounds (CPU figures drift on a shared
// machine; a ratio within a round does less), reporting the median events
// per CPU-second of each and its ratio to raw.
func BenchmarkBackfillFormats(b *testing.B) {
	const events, rounds = 200_000, 3
	url, key := startVendorSim(b, "-events", fmt.Sprint(events), "-span", "2159h", "-rate-limit", "0")
	formats := []string{"raw", "ocsf", "ecs"}
	for _, v := range vendors {
		b.Run(v.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				perCPU := map[string][]float64{}
				for range rounds {
					for _, f := range formats {
						cfg := config(b, v, url, key, map[string]any{
							"start_time":         time.Now().Add(-90 * 24 * time.Hour).Add(time.Hour).UTC().Format(time.RFC3339),
							"rate_limit.enabled": false, "format": f,
						})
						p, err := core.NewPoller(context.Background(), cfg, core.Options{})
						if err != nil {
							b.Fatal(err)
						}
						cpu0, n := cpuTime(), 0
						for {
							ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
							batch, err := p.Next(ctx)
							cancel()
							if err != nil {
								break
							}
							n += len(batch.Events)
							batch.Ack(nil)
						}
						perCPU[f] = append(perCPU[f], float64(n)/(cpuTime()-cpu0).Seconds())
						p.Close(context.Background())
					}
				}
				median := func(xs []float64) float64 { slices.Sort(xs); return xs[len(xs)/2] }
				raw := median(perCPU["raw"])
				b.ReportMetric(raw, "raw-events/cpu-s")
				for _, f := range formats[1:] {
					m := median(perCPU[f])
					b.ReportMetric(m, f+"-events/cpu-s")
					b.ReportMetric(m/raw, f+"/raw")
				}
			}
		})
	}
}
