package benthos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
)

// The core's leaser reads the cache's answers through the KV errors; a
// cache that cannot be reached is an error the core does not take for
// fatal, which Connect returns for Benthos to retry soon.
func TestLeaseCacheSpeaksTheCoreKV(t *testing.T) {
	ctx := context.Background()
	kv := cacheKV{res: service.MockResources(service.MockResourcesOptAddCache("state")), name: "state"}
	if _, err := kv.Get(ctx, "k"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatalf("Get of nothing: %v", err)
	}
	if err := kv.Add(ctx, "k", []byte("a"), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := kv.Add(ctx, "k", []byte("b"), time.Second); !errors.Is(err, checkpoint.ErrExists) {
		t.Fatalf("Add over a value: %v", err)
	}
	if err := kv.Set(ctx, "k", []byte("c"), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := kv.Get(ctx, "k"); err != nil || string(v) != "c" {
		t.Fatalf("after Set: %q, %v", v, err)
	}
	if err := kv.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "k"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}

	missing, _ := newCacheStore(service.MockResources(), "state", time.Second, nil, nil)
	if _, err := missing.Load(ctx, "s"); err == nil || core.IsFatal(err) || errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatalf("an unreachable cache gave %v; want an error to retry", err)
	}
}

// Two Benthos streams (two processes, as far as the lease can tell: each
// input has its own owner id and cache client) read the same stream key
// through a shared cache.
func TestReplicasSharingACachePollOneAtATime(t *testing.T) {
	for _, kind := range cacheKinds() {
		t.Run(kind, func(t *testing.T) { replicasTest(t, newSharedCache(t, kind)) })
	}
}

func replicasTest(t *testing.T, c sharedCache) {
	s := startSim(t, 4000, 6)
	// Each replica reaches the simulator through its own server, so the
	// test sees which one polls.
	srvB := newCountingServer(t, s.np)
	extra := []string{"stream: shared-nordpass", "max_undelivered_pages: 2", "checkpoint: {cache: state, lease_ttl: 3s}"}

	outA := newCollector()
	outA.delay = 100 * time.Millisecond
	a := startRun(t, inputConf(s.srv.baseURL(), s.start, extra...), c.resources, outA)
	waitFor(t, 20*time.Second, "replica A to deliver", func() bool { return len(outA.ackedBatches()) >= 4 })

	outB := newCollector()
	b := startRun(t, inputConf(srvB.baseURL(), s.start, extra...), c.resources, outB)
	before := outA.ackedCount()
	time.Sleep(1500 * time.Millisecond) // three lease checks of B
	if n, _, _ := srvB.requests(); n != 0 || outB.ackedCount() != 0 {
		t.Fatalf("replica B polled while A held the lease: %d requests, %d events", n, outB.ackedCount())
	}
	if outA.ackedCount() == before {
		t.Fatalf("replica A stalled while B waited")
	}
	if !strings.Contains(b.logs.String(), "another process reads this stream") {
		t.Errorf("replica B did not report that it waits for the lease")
	}
	if v, ok := c.get(t, leaseKey("shared-nordpass")); !ok || !strings.Contains(v, `"owner"`) {
		t.Errorf("no lease entry in the cache: %q", v)
	}

	a.stop(5 * time.Second)
	gotA := outA.ackedBag()
	if gotA.size() >= len(s.truth) {
		t.Fatalf("replica A read everything before it was stopped; the test needs a hand-over part-way")
	}
	_, _, lastA := s.srv.requests()

	waitFor(t, 30*time.Second, "replica B to take over and finish", func() bool {
		return gotA.size()+outB.ackedCount() >= len(s.truth)
	})
	time.Sleep(1500 * time.Millisecond)
	b.stop(5 * time.Second)

	requireSameBag(t, "replicas A and B together", gotA.add(outB.ackedBag()), bagOf(s.truth))
	if _, firstB, _ := srvB.requests(); !firstB.After(lastA) {
		t.Errorf("replica B polled at %s, before replica A's last request at %s", firstB.Format(time.StampMicro), lastA.Format(time.StampMicro))
	}
	if !strings.Contains(b.logs.String(), "took over the stream's lease") {
		t.Errorf("replica B did not report the take-over")
	}
}

// A reader whose lease was taken over (as after a network partition longer
// than the TTL) stops polling and never overwrites the new holder's
// checkpoint; it waits, takes the stream back when the lease is free, and
// nothing is lost.
func TestReaderThatLosesItsLeaseStopsAndNeverOverwritesTheCheckpoint(t *testing.T) {
	for _, kind := range cacheKinds() {
		t.Run(kind, func(t *testing.T) { fencedTest(t, newSharedCache(t, kind)) })
	}
}

func fencedTest(t *testing.T, c sharedCache) {
	s := startSim(t, 4000, 10)
	out := newCollector()
	out.delay = 100 * time.Millisecond
	r := startRun(t, inputConf(s.srv.baseURL(), s.start,
		"stream: fenced", "max_undelivered_pages: 2", "checkpoint: {cache: state, lease_ttl: 3s}"), c.resources, out)
	waitFor(t, 20*time.Second, "a few pages", func() bool { return len(out.ackedBatches()) >= 4 })

	// Another process holds the lease for 4 seconds.
	const hold = 4 * time.Second
	intruder := fmt.Sprintf(`{"owner":"intruder","expires":%q}`, time.Now().Add(hold).UTC().Format(time.RFC3339Nano))
	taken := time.Now()
	c.set(t, leaseKey("fenced"), intruder, hold)
	// The reader notices at its next renewal (every TTL/4) and stops.
	waitFor(t, 5*time.Second, "the reader to notice", func() bool { return strings.Contains(r.logs.String(), "lost the stream's lease") })
	noticed := time.Now()
	if noticed.Sub(taken) > 2*time.Second {
		t.Errorf("noticed the loss after %s; want within a renewal period (750ms)", noticed.Sub(taken))
	}
	cp, _ := c.get(t, checkpointKey("fenced"))
	time.Sleep(time.Until(taken.Add(hold - 300*time.Millisecond)))
	if n := s.srv.requestsBetween(noticed.Add(200*time.Millisecond), time.Now()); n != 0 {
		t.Errorf("%d requests while another process held the lease", n)
	}
	if cp2, _ := c.get(t, checkpointKey("fenced")); cp2 != cp {
		t.Errorf("the checkpoint was overwritten while another process held the lease")
	}

	// The lease expires; the reader takes the stream back and finishes.
	truth := bagOf(s.truth)
	waitFor(t, 30*time.Second, "every event", func() bool {
		got := out.ackedBag()
		for k, n := range truth {
			if got[k] < n {
				return false
			}
		}
		return true
	})
	r.stop(5 * time.Second)
	for k := range out.ackedBag() {
		if truth[k] == 0 {
			t.Fatalf("unexpected event %.120s", k)
		}
	}
	if !strings.Contains(r.logs.String(), "took over the stream's lease") {
		t.Errorf("the reader did not take the stream back")
	}
}
