package benthos

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/test/sim"
)

// Two replicas of a pipeline, each reading its own stream from one vendor
// host, share a redis rate_limit resource: together they stay within the
// vendor's limit (no 429) and use most of it. Benthos' redis rate limit
// counts fixed intervals, so a sliding window of the vendor's can hold the
// counts of one more interval than fit in it, and of more again when
// requests admitted at an interval's end arrive late (a busy machine): 10
// per 100 ms admits at most 440 in any 4 s with three intervals (300 ms) of
// lateness, the vendor's limit, while using 100 a second of its 110. How
// much is used depends on the machine, so the test only checks that it is
// most of it; the README quotes measured runs.
func TestReplicasSharingARedisRateLimitStayWithinTheVendorsLimit(t *testing.T) {
	rs := startRedis(t)
	const limit, window, count = 440, 4 * time.Second, 4000
	now := time.Now()
	from := now.Add(-48 * time.Hour).Truncate(time.Second)
	np := sim.NewNordPass(sim.NordPassConfig{Seed: 21, Count: count, From: from, To: now.Add(-30 * time.Second),
		RateLimit: limit, RateWindow: window})
	np.AddToken(testToken, sim.TokenValid)
	srv := newCountingServer(t, np)
	truth := bagOf(np.Truth(from.Add(-time.Hour), now))
	res := fmt.Sprintf("rate_limit_resources:\n  - label: vendor\n    redis: {url: \"redis://%s\", key: auditpull-vendor, count: 10, interval: 100ms}\n", rs.addr)
	conf := func(stream string) string {
		return fmt.Sprintf(`auditpull:
    source: nordpass
    stream: %s
    start_time: %s
    settle_delay: 5s
    page_size: 10
    rate_limit: {enabled: false, resource: vendor}
    checkpoint: {type: memory}
    nordpass:
      base_url: %s
      token: %s
`, stream, from.Add(-time.Hour).UTC().Format(time.RFC3339), srv.baseURL(), testToken)
	}
	outs := []*collector{newCollector(), newCollector()}
	var runs []*run
	for i, out := range outs {
		runs = append(runs, startRun(t, conf(fmt.Sprintf("replica-%d", i)), res, out))
	}
	var wg sync.WaitGroup
	for i, out := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			waitFor(t, 60*time.Second, "every event", func() bool { return out.ackedCount() >= truth.size() })
			runs[i].stop(5 * time.Second)
		}()
	}
	wg.Wait()
	for i, out := range outs {
		requireSameBag(t, fmt.Sprintf("replica %d delivered", i), out.ackedBag(), truth)
	}
	n, first, last := srv.requests()
	perSecond := float64(n-1) / last.Sub(first).Seconds()
	share := perSecond / (float64(limit) / window.Seconds())
	t.Logf("%d requests in %s: %.0f/s, %.0f %% of the vendor's limit; %d refused", n, last.Sub(first).Round(time.Millisecond), perSecond, 100*share, np.Throttled())
	if np.Throttled() != 0 {
		t.Errorf("the vendor refused %d requests: the replicas together went over its limit", np.Throttled())
	}
	if share < 0.75 {
		t.Errorf("the replicas used %.0f %% of the vendor's limit; want most of it", 100*share)
	}
}
