package fluentbit

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every Go input is a threaded input in Fluent Bit 2.0 and later: a collect
// appended by the proxy sits in the instance's ring buffer until the
// engine moves it into a chunk, up to 250 ms later. A kill in between
// loses the ring buffer. The harness kills itself at exactly that moment,
// after the third collect; a second run must deliver what the first did
// not write, and write again only the tail the checkpoint did not cover.
// On a plugin that moves the checkpoint when Fluent Bit gives the buffer
// back, the third collect is lost.
func TestAKillBeforeTheEngineMovesACollectLosesNothing(t *testing.T) {
	const interval = 100
	cases := []struct {
		name      string
		abi       string
		noCleanup bool
		delay     string // commit_delay; "" is the default
	}{
		{name: "ctx callbacks, default commit_delay", abi: "4.1"},
		{name: "plain callbacks", abi: "2.1", delay: "200ms"},
		{name: "a host that frees the buffers itself", abi: "4.1", noCleanup: true, delay: "200ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := newOrgs(t, events, token("kill"))[0]
			props := o.props(t.TempDir(), "callback_max_bytes=16K") // about a page per collect
			if c.delay != "" {
				props = append(props, "commit_delay="+c.delay)
			}
			first := harnessRun{ABI: c.abi, NoCleanup: c.noCleanup, IntervalMS: interval, CrashAfterBuffers: 3,
				Instances: [][]string{props}}.run(t)
			if !first.Killed {
				t.Fatalf("the harness was not killed (exit %d):\n%s", first.Code, tail(first.Stderr))
			}
			if n := len(first.Records); n == 0 || n >= 300 {
				t.Fatalf("before the kill the output holds %d records; want the first two collects' pages only", n)
			}
			second := harnessRun{ABI: c.abi, NoCleanup: c.noCleanup, IntervalMS: interval, Idle: 1500 * time.Millisecond,
				Instances: [][]string{props}}.run(t)
			assertClean(t, second, c.noCleanup)
			again := assertRestartLosesNothing(t, first.Records, second.Records, o.truth(), len(first.Records))
			t.Logf("before the kill %d records in the output, after it %d, %d of them again", len(first.Records), len(second.Records), again)
		})
	}
}

// Fluent Bit's own inputs register their counters in the instance's
// cmetrics context and log through its logger from its threads; the
// plugin does the same, so the counters appear in /api/v2/metrics and
// prometheus_exporter, and log_level and log_file apply to its lines.
func TestMetricsAndLogsGoThroughFluentBit(t *testing.T) {
	counters := []string{"events", "pages", "events_acked", "requests", "retries", "throttled", "window_splits",
		"duplicates_suppressed", "unreachable", "redeliveries", "errors", "unmapped_events"}
	gauges := []string{"lag_seconds", "last_success_time", "rate_budget",
		"backfill_remaining_seconds", "backfill_progress", "backfill_eta_seconds", "poll_interval_effective_seconds", "tenants_failed", "tenants_read"}
	cases := []struct {
		name        string
		abi         string
		noMetrics   bool
		extra       []string
		wantInfoLog bool
	}{
		{name: "fluent bit 4.1 and later", abi: "4.1", wantInfoLog: true},
		{name: "fluent bit 2.2 to 4.0", abi: "2.1", wantInfoLog: true},
		{name: "log_level error hides the info lines", abi: "4.1", extra: []string{"log_level=error"}},
		{name: "a build without metrics", abi: "4.1", noMetrics: true, wantInfoLog: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := newOrgs(t, 500, token("metrics"))[0]
			res := harnessRun{ABI: c.abi, IntervalMS: 100, Records: 500, NoMetricsAPI: c.noMetrics,
				Instances: [][]string{o.props(t.TempDir(), append([]string{"max_window=4h"}, c.extra...)...)}}.run(t)
			assertClean(t, res, false)
			assertSameEvents(t, res.Records, o.truth())
			if res.Stats.LogsOffThread != 0 {
				t.Errorf("%d log lines were printed from threads Fluent Bit did not start (they bypass log_file)", res.Stats.LogsOffThread)
			}
			if got := res.Stats.Logs.Info > 0; got != c.wantInfoLog {
				t.Errorf("info lines logged through Fluent Bit: %d; want some: %v", res.Stats.Logs.Info, c.wantInfoLog)
			}
			// The history is read in several windows: the backfill reports
			// its progress at each tenth, through Fluent Bit's logger.
			for _, line := range []string{"backfill progress", "backfill done"} {
				if got := strings.Contains(res.Stderr, line); got != c.wantInfoLog {
					t.Errorf("a %q line in Fluent Bit's log: %v, want %v", line, got, c.wantInfoLog)
				}
			}
			if c.noMetrics {
				if len(res.Stats.Metrics) != 0 {
					t.Errorf("metrics registered without a metrics API: %+v", res.Stats.Metrics)
				}
				if !strings.Contains(res.Stderr, "offers no metrics API") {
					t.Errorf("no log line says the metrics are unavailable:\n%s", tail(res.Stderr))
				}
				return
			}
			got := map[string]hostMetric{}
			for _, m := range res.Stats.Metrics {
				got[m.Name] = m
				if m.Instance != 0 || m.Label != "auditpull.0" || m.OffThreadSets != 0 || m.Sets < 2 {
					t.Errorf("metric %+v: want instance 0, label auditpull.0, set at each collect from its thread", m)
				}
			}
			for _, n := range counters {
				if m, ok := got["fluentbit_auditpull_"+n+"_total"]; !ok || m.Type != "counter" {
					t.Errorf("counter fluentbit_auditpull_%s_total: %+v, registered %v", n, m, ok)
				}
			}
			for _, n := range gauges {
				if m, ok := got["fluentbit_auditpull_"+n]; !ok || m.Type != "gauge" {
					t.Errorf("gauge fluentbit_auditpull_%s: %+v, registered %v", n, m, ok)
				}
			}
			if len(got) != len(counters)+len(gauges) {
				t.Errorf("%d metrics registered, want %d", len(got), len(counters)+len(gauges))
			}
			if v := got["fluentbit_auditpull_events_total"].Value; v != 500 {
				t.Errorf("events_total = %v, want 500", v)
			}
			// Acked once Fluent Bit had commit_delay to move the records
			// into a chunk: never more than it took.
			if v := got["fluentbit_auditpull_events_acked_total"].Value; v > 500 {
				t.Errorf("events_acked_total = %v, more than the 500 records Fluent Bit took", v)
			}
			if v := got["fluentbit_auditpull_requests_total"].Value; v < 5 {
				t.Errorf("requests_total = %v, want at least the 5 pages", v)
			}
			if v := got["fluentbit_auditpull_backfill_progress"].Value; v != 1 {
				t.Errorf("backfill_progress = %v once live, want 1", v)
			}
			if v := got["fluentbit_auditpull_last_success_time"].Value; v < float64(time.Now().Add(-time.Hour).Unix()) {
				t.Errorf("last_success_time = %v, want a recent Unix time", v)
			}
		})
	}
}

// Fluent Bit's hot reload (SIGHUP with hot_reload on, or POST
// /api/v2/reload) stops every input and starts the new configuration's in
// the same process, with the plugin registered again before the old
// instances stop and their library never unloaded. Each new instance must
// take the checkpoint (and its lock) over from the old one: nothing lost,
// and delivered again only what the old one appended within commit_delay
// of its pause, which it could not tell from a pause that keeps the ring
// buffer where it is.
func TestAHotReloadMidBackfillReadsOnFromTheCheckpoint(t *testing.T) {
	const interval, delay, reloads = 100, 200 * time.Millisecond, 3
	cases := []struct {
		name      string
		abi       string
		instances int
	}{
		{name: "ctx callbacks", abi: "4.1", instances: 1},
		{name: "two instances, plain callbacks found by thread", abi: "2.1", instances: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var tokens []string
			for i := range c.instances {
				tokens = append(tokens, token(fmt.Sprintf("reload%d", i)))
			}
			orgs := newOrgs(t, 3000, tokens...)
			dir := t.TempDir()
			run := harnessRun{ABI: c.abi, IntervalMS: interval, Idle: 1500 * time.Millisecond,
				Reloads: reloads, ReloadMS: 500}
			for _, o := range orgs {
				run.Instances = append(run.Instances, o.props(dir, "callback_max_bytes=16K", "commit_delay="+delay.String()))
			}
			res := run.run(t)
			assertClean(t, res, false)
			if res.Stats.Reloads != reloads {
				t.Fatalf("%d reloads played; want %d\n%s", res.Stats.Reloads, reloads, tail(res.Stderr))
			}
			last := regexp.MustCompile(`reload \d+ at (\d+) records`).FindAllStringSubmatch(res.Stderr, -1)
			if n, _ := strconv.Atoi(last[len(last)-1][1]); n >= 3000*c.instances {
				t.Fatalf("the backfill was done (%d records) before the last reload: the test must reload mid-backfill", n)
			}
			if n := strings.Count(res.Stderr, "resuming from checkpoint"); n != reloads*c.instances {
				t.Errorf("%d instances resumed from a checkpoint; want each of %d after each of %d reloads", n, c.instances, reloads)
			}
			// Per reload, at most the collects of the last commit_delay
			// before the pause, and the one in progress: a page each.
			maxAgain := reloads * (int(delay/time.Millisecond)/interval + 2) * 100
			for i, o := range orgs {
				got := byInstance(res.Records, i)
				once := firstOfEach(got)
				assertSameEvents(t, once, o.truth())
				again := len(got) - len(once)
				if again > maxAgain {
					t.Errorf("instance %d delivered %d records again over %d reloads; want at most %d", i, again, reloads, maxAgain)
				}
				t.Logf("instance %d: %d records, %d of them again", i, len(got), again)
			}
		})
	}
}
