package benthos

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/test/sim"
)

func TestDeliversEveryEventExactlyOnce(t *testing.T) {
	s := startSim(t, 1200, 1)
	out := newCollector()
	r := startRun(t, inputConf(s.srv.baseURL(), s.start, "checkpoint: {path: "+t.TempDir()+"}"), "", out)

	waitFor(t, 30*time.Second, "every event", func() bool { return out.ackedCount() >= len(s.truth) })
	// Two more polls re-read the overlap of the last window: nothing may
	// come twice.
	time.Sleep(2500 * time.Millisecond)
	r.stop(5 * time.Second)
	requireSameBag(t, "delivered", out.ackedBag(), bagOf(s.truth))

	t.Run("one page is one batch with the event metadata", func(t *testing.T) {
		for _, b := range out.ackedBatches() {
			if len(b.raws) > 50 {
				t.Fatalf("batch of %d events, want at most page_size 50", len(b.raws))
			}
			for i, raw := range b.raws {
				checkMeta(t, raw, b.metas[i])
			}
		}
	})
	t.Run("core counters reach Benthos metrics", func(t *testing.T) {
		if got := r.metrics.get("auditpull_events"); got != float64(len(s.truth)) {
			t.Errorf("auditpull_events = %v, want %d", got, len(s.truth))
		}
		if got := r.metrics.get("auditpull_events_acked"); got != float64(len(s.truth)) {
			t.Errorf("auditpull_events_acked = %v, want %d: every event was acknowledged", got, len(s.truth))
		}
		if got, want := r.metrics.get("auditpull_pages"), float64(len(out.ackedBatches())); got != want {
			t.Errorf("auditpull_pages = %v, want %v (one per batch)", got, want)
		}
		if r.metrics.get("auditpull_requests") < r.metrics.get("auditpull_pages") {
			t.Errorf("auditpull_requests = %v, fewer than pages", r.metrics.get("auditpull_requests"))
		}
		if r.metrics.get("auditpull_last_success_time") < float64(time.Now().Add(-time.Minute).Unix()) {
			t.Errorf("auditpull_last_success_time not set")
		}
		for _, info := range core.MetricInfos {
			if got := r.metrics.isGauge("auditpull_" + info.Name); got != info.Gauge {
				t.Errorf("auditpull_%s: gauge %v, want %v", info.Name, got, info.Gauge)
			}
		}
	})
	t.Run("core logs reach the Benthos logger", func(t *testing.T) {
		if !strings.Contains(r.logs.String(), "no checkpoint: starting fresh") {
			t.Errorf("core log line missing from the Benthos logs")
		}
	})
}

// checkMeta compares a message's metadata with its raw NordPass event.
func checkMeta(t *testing.T, raw []byte, meta map[string]string) {
	t.Helper()
	var ev struct {
		Type      string `json:"type"`
		Action    string `json:"action"`
		Timestamp int64  `json:"timestamp"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("message is not the raw event JSON: %v", err)
	}
	want := map[string]string{
		"source":       "nordpass",
		"event_type":   ev.Type,
		"event_action": ev.Action,
		"event_time":   time.Unix(ev.Timestamp, 0).UTC().Format(time.RFC3339),
	}
	for k, v := range want {
		if meta[k] != v {
			t.Fatalf("metadata %s = %q, want %q (event %s)", k, meta[k], v, raw)
		}
	}
	if !strings.HasPrefix(meta["stream"], "nordpass-") {
		t.Fatalf("metadata stream = %q, want the default nordpass stream key", meta["stream"])
	}
	// The 128-bit content hash, numbered for the second and later copies of
	// a byte-identical event.
	if id, _, _ := strings.Cut(meta["event_id"], "-"); len(id) != 32 {
		t.Fatalf("metadata event_id = %q, want the 128-bit content hash", meta["event_id"])
	}
}

// auto_replay_nacks means what it means in Benthos: rejected batches are
// replayed (the default) or dropped. auditpull replays them itself, so the
// metric counts the replays.
func TestNackedPageIsReplayedOrDroppedAsAutoReplayNacksSays(t *testing.T) {
	for _, tc := range []struct {
		name, setting string
		replay        bool
	}{
		{"replayed by default", "", true},
		{"replayed with auto_replay_nacks true", "auto_replay_nacks: true", true},
		{"dropped with auto_replay_nacks false", "auto_replay_nacks: false", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSim(t, 600, 2)
			var mu sync.Mutex
			var rejected []bag
			out := newCollector()
			out.decide = func(_ context.Context, call int, b batchInfo) error {
				if call == 2 || call == 5 {
					mu.Lock()
					rejected = append(rejected, b.bag())
					mu.Unlock()
					return errNack
				}
				return nil
			}
			want := bagOf(s.truth)
			if !tc.replay {
				// Decided once the rejections happened: the truth less
				// the two rejected pages.
				want = nil
			}
			// Two pages in flight at most: had an acknowledgement (or a
			// dropped rejection) not reached the core, reading would stall.
			conf := inputConf(s.srv.baseURL(), s.start,
				"checkpoint: {type: memory}", "max_undelivered_pages: 2", tc.setting)
			r := startRun(t, conf, "", out)
			waitFor(t, 30*time.Second, "every page", func() bool {
				mu.Lock()
				defer mu.Unlock()
				n := len(s.truth)
				if !tc.replay {
					for _, rb := range rejected {
						n -= rb.size()
					}
				}
				return len(rejected) == 2 && out.ackedCount() >= n
			})
			time.Sleep(1500 * time.Millisecond)
			r.stop(5 * time.Second)

			if want == nil {
				want = bag{}
				for k, n := range bagOf(s.truth) {
					want[k] = n
				}
				for _, rb := range rejected {
					for k, n := range rb {
						want[k] -= n
						if want[k] == 0 {
							delete(want, k)
						}
					}
				}
			}
			requireSameBag(t, "acknowledged", out.ackedBag(), want)
			// Each rejected page was acknowledged later, whole, or never.
			acked := out.ackedBatches()
			for _, rb := range rejected {
				found := false
				for _, b := range acked {
					if reflect.DeepEqual(b.bag(), rb) {
						found = true
					}
				}
				if found != tc.replay {
					t.Errorf("a rejected page delivered again: %v, want %v", found, tc.replay)
				}
			}
			wantReplays := 0.0
			if tc.replay {
				wantReplays = 2
			}
			if got := r.metrics.get("auditpull_redeliveries"); got != wantReplays {
				t.Errorf("auditpull_redeliveries = %v, want %v", got, wantReplays)
			}
			if dropped := strings.Count(r.logs.String(), "dropped (auto_replay_nacks: false)"); dropped != 2-int(wantReplays) {
				t.Errorf("%d drops logged, want %d", dropped, 2-int(wantReplays))
			}
			// false meant "auditpull replays" before it took Benthos'
			// meaning: configs that still say it are warned at startup.
			if warned := strings.Contains(r.logs.String(), "auto_replay_nacks is false"); warned == tc.replay {
				t.Errorf("startup warning about auto_replay_nacks false: %v, want %v", warned, !tc.replay)
			}
		})
	}
}

func TestOutOfOrderAcksNeverMoveTheCheckpointPastAnUnackedPage(t *testing.T) {
	// The held page is rejected at the shutdown, when its output gives up:
	// that is no verdict on the page, so even auto_replay_nacks: false,
	// which drops rejected pages, keeps it, whatever error the output
	// gives.
	givesUp := map[string]func(ctx context.Context, stopping <-chan struct{}) error{
		"on its context": func(ctx context.Context, _ <-chan struct{}) error {
			<-ctx.Done()
			return ctx.Err()
		},
		"with its own error": func(_ context.Context, stopping <-chan struct{}) error {
			<-stopping
			time.Sleep(200 * time.Millisecond) // the stop is under way
			return errOutputClosed
		},
	}
	for _, setting := range []string{"", "auto_replay_nacks: false"} {
		for how, giveUp := range givesUp {
			t.Run("with "+cmp.Or(setting, "the defaults")+", the output giving up "+how, func(t *testing.T) { outOfOrderTest(t, setting, giveUp) })
		}
	}
}

var errOutputClosed = errors.New("test output: closed while writing")

func outOfOrderTest(t *testing.T, setting string, giveUp func(ctx context.Context, stopping <-chan struct{}) error) {
	s := startSim(t, 600, 3)
	dir := t.TempDir()
	conf := inputConf(s.srv.baseURL(), s.start, "checkpoint: {path: "+dir+"}", setting)

	// Run 1 holds the third page forever and acknowledges all the others,
	// which therefore complete out of order.
	out1 := newCollector()
	var held batchInfo
	heldCh, stopping := make(chan struct{}), make(chan struct{})
	out1.decide = func(ctx context.Context, call int, b batchInfo) error {
		if call != 3 {
			return nil
		}
		held = b
		close(heldCh)
		return giveUp(ctx, stopping)
	}
	r1 := startRun(t, conf, "", out1)
	<-heldCh
	rest := len(s.truth) - len(held.raws)
	waitFor(t, 30*time.Second, "every page but the held one", func() bool { return out1.ackedCount() >= rest })
	close(stopping)
	r1.stop(2 * time.Second) // the held page is never acknowledged
	requireSameBag(t, "run 1 acknowledged", out1.ackedBag().add(held.bag()), bagOf(s.truth))

	// Pages are read newest first and do not overlap in time: those read
	// after the held one hold older events.
	heldMin, heldMax := timeRange(t, held)
	after := bag{}
	for _, b := range out1.ackedBatches() {
		lo, hi := timeRange(t, b)
		switch {
		case lo >= heldMax && hi <= heldMin:
			t.Fatalf("cannot order a page against the held one (same second); choose another seed")
		case hi <= heldMin:
			after = after.add(b.bag())
		case lo >= heldMax:
		default:
			t.Fatalf("pages overlap in time: [%d,%d] and held [%d,%d]", lo, hi, heldMin, heldMax)
		}
	}
	// A run of one timestamp that a page boundary split is read again by
	// itself once the read ends, after every page: such a batch comes after
	// the held page in the read, whatever its time, and comes again too.
	out1.mu.Lock()
	for _, b := range out1.seen[3:] {
		if lo, hi := timeRange(t, b); lo == hi && lo >= heldMax {
			after = after.add(b.bag())
		}
	}
	out1.mu.Unlock()
	if after.size() == 0 {
		t.Fatal("no page was acknowledged after the held one: the test proves nothing")
	}

	// Run 2 resumes from the checkpoint: the held page and every page read
	// after it come again; none read before it does.
	out2 := newCollector()
	r2 := startRun(t, conf, "", out2)
	want := held.bag().add(after)
	waitFor(t, 30*time.Second, "the re-read pages", func() bool { return out2.ackedCount() >= want.size() })
	time.Sleep(1500 * time.Millisecond)
	r2.stop(5 * time.Second)
	requireSameBag(t, "run 2 delivered", out2.ackedBag(), want)
}

// Which rejections auto_replay_nacks: false keeps rather than drops: those
// the shutdown caused. Components stopped before the output (an input
// resource's wrapper, a resource input) reject with the engine's own
// errors, whose messages stand in for them here.
func TestARejectionCausedByTheShutdownIsNoVerdictOnThePage(t *testing.T) {
	live := context.Background()
	stopping, stop := context.WithCancel(context.Background())
	stop()
	tests := []struct {
		name    string
		readCtx context.Context
		err     error
		keep    bool
	}{
		{"an output giving up on its context", live, fmt.Errorf("write: %w", context.Canceled), true},
		{"an output's request timing out (net/http's timeout matches DeadlineExceeded)", live, fmt.Errorf("write: %w", context.DeadlineExceeded), false},
		{"an output not connected", live, service.ErrNotConnected, true},
		{"a component closed before the page was written", live, fmt.Errorf("send: %w", errors.New("type was closed")), true},
		{"a resource input stopped with the page", live, errors.New("message failed to reach a target destination"), true},
		{"an output that lost its connection at the stop", live, errors.New("not connected to target source or sink"), true},
		{"any rejection once Benthos is stopping", stopping, errOutputClosed, true},
		{"an output refusing the page", live, errNack, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shutdownRejection(tt.readCtx, tt.err); got != tt.keep {
				t.Errorf("shutdownRejection = %v, want %v", got, tt.keep)
			}
		})
	}
}

// timeRange is the oldest and newest event time of a batch (Unix seconds).
func timeRange(t *testing.T, b batchInfo) (lo, hi int64) {
	t.Helper()
	for i, raw := range b.raws {
		var ev struct {
			Timestamp int64 `json:"timestamp"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		if i == 0 || ev.Timestamp < lo {
			lo = ev.Timestamp
		}
		if ev.Timestamp > hi {
			hi = ev.Timestamp
		}
	}
	return lo, hi
}

// restartTest stops a run part-way and checks that a second run with the
// same checkpoint delivers exactly the rest. between, if set, acts on the
// stored checkpoint of the stream between the runs.
func restartTest(t *testing.T, seed int64, checkpointConf, resources string, between func(stream string)) (stream, logs2 string) {
	t.Helper()
	s := startSim(t, 800, seed)
	// Few pages in flight, so the stop comes part-way.
	conf := inputConf(s.srv.baseURL(), s.start, checkpointConf, "max_undelivered_pages: 2")

	out1 := newCollector()
	out1.delay = 20 * time.Millisecond
	r1 := startRun(t, conf, resources, out1)
	waitFor(t, 30*time.Second, "a few pages", func() bool { return len(out1.ackedBatches()) >= 4 })
	r1.stop(5 * time.Second)
	got1 := out1.ackedBag()
	if got1.size() == 0 || got1.size() >= len(s.truth) {
		t.Fatalf("run 1 delivered %d of %d events; the test needs a stop part-way", got1.size(), len(s.truth))
	}
	stream = out1.ackedBatches()[0].metas[0]["stream"]
	if between != nil {
		between(stream)
	}

	out2 := newCollector()
	r2 := startRun(t, conf, resources, out2)
	waitFor(t, 30*time.Second, "the rest", func() bool { return got1.size()+out2.ackedCount() >= len(s.truth) })
	time.Sleep(1500 * time.Millisecond)
	r2.stop(5 * time.Second)
	if !strings.Contains(r2.logs.String(), "resuming from checkpoint") {
		t.Errorf("run 2 did not resume from a checkpoint")
	}
	requireSameBag(t, "runs 1 and 2 together", got1.add(out2.ackedBag()), bagOf(s.truth))
	return stream, r2.logs.String()
}

func TestRestartResumesFromFileCheckpoint(t *testing.T) {
	restartTest(t, 4, "checkpoint: {path: "+t.TempDir()+"}", "", nil)
}

func TestRestartResumesFromCacheCheckpoint(t *testing.T) {
	for _, kind := range cacheKinds() {
		t.Run(kind, func(t *testing.T) {
			c := newSharedCache(t, kind)
			stream, _ := restartTest(t, 5, "checkpoint: {cache: state}", c.resources, nil)
			// The checkpoint is in the cache, and the lease was given back
			// at the stop.
			cp, ok := c.get(t, checkpointKey(stream))
			if !ok || !strings.HasPrefix(cp, `{"version":`) {
				t.Errorf("no checkpoint in the cache under %s: %q", checkpointKey(stream), cp)
			}
			if v, ok := c.get(t, leaseKey(stream)); ok {
				t.Errorf("lease still held after the stop: %s", v)
			}
		})
		// The file cache writes in place (truncate, then write): a
		// process killed in between leaves the checkpoint empty. The
		// next run resumes from the copy written just before it, the
		// same save: nothing lost, nothing repeated.
		t.Run(kind+", checkpoint torn by a kill", func(t *testing.T) {
			c := newSharedCache(t, kind)
			_, logs := restartTest(t, 6, "checkpoint: {cache: state}", c.resources, func(stream string) {
				if cp, ok := c.get(t, checkpointKey(stream)+"#copy"); !ok || !strings.HasPrefix(cp, `{"version":`) {
					t.Fatalf("no copy of the checkpoint beside it: %q", cp)
				}
				c.set(t, checkpointKey(stream), "", time.Hour)
			})
			if !strings.Contains(logs, "resuming from its copy") {
				t.Errorf("run 2 did not say it resumed from the copy:\n%s", logs)
			}
		})
	}
}

// A checkpoint is written to be kept until deleted, whatever default TTL
// the cache has: a stop longer than that TTL resumes exactly, while the
// lease entries still expire on their own.
func TestCheckpointOutlivesTheCachesDefaultTTL(t *testing.T) {
	rs := startRedis(t)
	resources := fmt.Sprintf("cache_resources:\n  - label: state\n    redis:\n      url: redis://%s\n      default_ttl: 2s\n", rs.addr)
	restartTest(t, 5, "checkpoint: {cache: state}", resources, func(stream string) {
		for _, key := range []string{checkpointKey(stream), checkpointKey(stream) + "#copy"} {
			if ttl := redisCommand(t, rs.addr, "TTL", key); ttl != ":-1" {
				t.Errorf("%s has TTL %s, want none (:-1)", key, ttl)
			}
		}
		time.Sleep(3 * time.Second) // a stop longer than default_ttl
	})
}

// A cache that drops an entry written without expiry at once would lose
// every checkpoint: the input refuses it, naming the setting, and reads
// nothing; the same cache kept without expiry works.
func TestCacheThatCannotKeepACheckpointIsRefused(t *testing.T) {
	tests := []struct {
		name, cache string
		refused     bool
	}{
		{"memory cache with compaction", "memory: {}", true},
		{"noop cache", "noop: {}", true},
		{"memory cache without compaction", `memory: {compaction_interval: ""}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSim(t, 200, 12)
			out := newCollector()
			resources := "cache_resources:\n  - label: state\n    " + tt.cache + "\n"
			r := startRun(t, inputConf(s.srv.baseURL(), s.start, "checkpoint: {cache: state, lease_ttl: 0s}"), resources, out)
			const refusal = "does not keep an entry written without expiry"
			if tt.refused {
				waitFor(t, 10*time.Second, "the refusal", func() bool { return strings.Contains(r.logs.String(), refusal) })
				if !strings.Contains(r.logs.String(), "checkpoint.cache") {
					t.Errorf("the refusal does not name checkpoint.cache")
				}
				if n, _, _ := s.srv.requests(); n != 0 || out.ackedCount() != 0 {
					t.Errorf("read %d events in %d requests from a refused cache", out.ackedCount(), n)
				}
				return
			}
			waitFor(t, 30*time.Second, "every event", func() bool { return out.ackedCount() >= len(s.truth) })
			r.stop(5 * time.Second)
			requireSameBag(t, "delivered", out.ackedBag(), bagOf(s.truth))
			if strings.Contains(r.logs.String(), refusal) {
				t.Errorf("a cache that keeps entries was refused")
			}
		})
	}
}

// An output that batches more messages than the read-ahead holds, with no
// period, never flushes: the input waits for acknowledgements, the output
// for messages. The input cannot break the wait, but says what causes it;
// with a period the same output delivers everything, and nothing is said.
func TestAnOutputBatchLargerThanTheReadAheadIsExplainedInTheLog(t *testing.T) {
	// Long enough that a loaded machine never holds back a period's flush
	// that long (500 ms did, once, under the race detector).
	old := stallWarnAfter
	stallWarnAfter = 2 * time.Second
	t.Cleanup(func() { stallWarnAfter = old })
	const warning = "reading is paused: the host holds max_undelivered_pages pages and has reported none"
	tests := []struct {
		name   string
		policy service.BatchPolicy
		stalls bool
	}{
		// Two pages of 50 in flight at most, a batch of 200.
		{"count only", service.BatchPolicy{Count: 200}, true},
		{"count and period", service.BatchPolicy{Count: 200, Period: "100ms"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSim(t, 400, 21)
			out := newCollector()
			out.policy = tt.policy
			r := startRun(t, inputConf(s.srv.baseURL(), s.start, "checkpoint: {type: memory}", "max_undelivered_pages: 2"), "", out)
			if tt.stalls {
				waitFor(t, 20*time.Second, "the warning", func() bool { return strings.Contains(r.logs.String(), warning) })
				if n := out.ackedCount(); n != 0 {
					t.Errorf("%d events delivered through a batch that cannot fill", n)
				}
				return
			}
			waitFor(t, 30*time.Second, "every event", func() bool { return out.ackedCount() >= len(s.truth) })
			r.stop(5 * time.Second)
			requireSameBag(t, "delivered", out.ackedBag(), bagOf(s.truth))
			if strings.Contains(r.logs.String(), warning) {
				t.Errorf("warned of a stall while the output flushed every period")
			}
		})
	}
}

func TestInvalidConfigIsALintErrorNamingTheField(t *testing.T) {
	cases := []struct {
		name, conf, field string
	}{
		{"unknown option", "pol_interval: 1s", "pol_interval"},
		{"bad duration", "poll_interval: 5x", "poll_interval"},
		// A value of the wrong type ("page_size: many") is not a lint
		// error: Benthos skips custom linters on values it cannot type,
		// and reports them when the stream starts.
		{"page size over the vendor's limit", "page_size: 500", "page_size"},
		{"unknown region", "nordpass: {region: mars, token: x}", "nordpass.region"},
		{"missing token", "nordpass: {region: eu}", "token"},
		{"bearer prefix on the token", "nordpass: {token: 'Bearer abc'}", "nordpass.token"},
		{"cache type without a cache", "checkpoint: {type: cache}", "checkpoint.cache"},
		{"unknown checkpoint type", "checkpoint: {type: s3}", "checkpoint.type"},
		{"bad lease ttl", "checkpoint: {cache: c, lease_ttl: soon}", "checkpoint.lease_ttl"},
		{"unknown source", "source: slack", "source"},
	}
	for _, name := range core.SourceNames() {
		if name != "nordpass" {
			cases = append(cases, struct{ name, conf, field string }{"section of another source", name + ": {base_url: x}", name})
			break
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conf := "auditpull:\n  source: nordpass\n  nordpass: {token: abc}\n"
			// Replace a top-level key of the base when the case sets it.
			key := strings.SplitN(tc.conf, ":", 2)[0]
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(conf), "\n") {
				if !strings.HasPrefix(l, "  "+key+":") {
					lines = append(lines, l)
				}
			}
			conf = strings.Join(lines, "\n") + "\n  " + tc.conf + "\n"
			err := service.NewEnvironment().NewStreamBuilder().AddInputYAML(conf)
			if err == nil {
				t.Fatalf("config accepted:\n%s", conf)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("lint error does not name %q: %v", tc.field, err)
			}
			if strings.Contains(err.Error(), "abc") {
				t.Fatalf("lint error shows the token: %v", err)
			}
		})
	}
	t.Run("a bad value in a source section names its key once", func(t *testing.T) {
		conf := "auditpull:\n  source: nordpass_msp\n  nordpass_msp: {base_url: 'https://msp.example.com', path: /logs, private_key: k, jwt: {issuer: i, lifetime: soon}}\n"
		err := service.NewEnvironment().NewStreamBuilder().AddInputYAML(conf)
		if err == nil || !strings.Contains(err.Error(), "config: nordpass_msp.jwt.lifetime: must be a duration") {
			t.Fatalf("want nordpass_msp.jwt.lifetime named once with what it takes, got: %v", err)
		}
	})
	t.Run("a valid config passes", func(t *testing.T) {
		conf := "auditpull:\n  source: nordpass\n  nordpass: {token: abc}\n  checkpoint: {cache: c}\n"
		if err := service.NewEnvironment().NewStreamBuilder().AddInputYAML(conf); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("secrets the linter cannot see pass", func(t *testing.T) {
		for _, tok := range []string{"file:/run/secrets/nordpass", "''"} {
			conf := "auditpull:\n  source: nordpass\n  nordpass: {token: " + tok + "}\n"
			if err := service.NewEnvironment().NewStreamBuilder().AddInputYAML(conf); err != nil {
				t.Errorf("token %s: %v", tok, err)
			}
		}
	})
}

func TestSpecDefaultsAreTheCoreDefaults(t *testing.T) {
	pc, err := configSpec().ParseYAML("source: nordpass\nnordpass: {token: abc}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := toCoreMap(pc)
	if err != nil {
		t.Fatal(err)
	}
	viaBenthos, err := core.ParseMap(m)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := core.ParseMap(map[string]any{"source": "nordpass", "nordpass": map[string]any{"token": "abc"}})
	if err != nil {
		t.Fatal(err)
	}
	// A nil rate_limit.enabled means enabled in the core.
	if plain.RateLimit.Enabled == nil && viaBenthos.RateLimit.Enabled != nil && *viaBenthos.RateLimit.Enabled {
		viaBenthos.RateLimit.Enabled = nil
	}
	a, b := reflect.ValueOf(*viaBenthos), reflect.ValueOf(*plain)
	for i := 0; i < a.NumField(); i++ {
		f := a.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			t.Errorf("%s: Benthos default %+v, core default %+v", f.Name, a.Field(i).Interface(), b.Field(i).Interface())
		}
	}
	if viaBenthos.Start() != plain.Start() {
		t.Errorf("start differs")
	}
}

func TestSpecMirrorsTheCoreSchema(t *testing.T) {
	// Every key of the core schema is a field of the input, and the input
	// adds only auto_replay_nacks, checkpoint.cache, rate_limit.resource and
	// Benthos' own tls block.
	fields := specKeys(t)
	for _, k := range core.Keys() {
		if !fields[k] {
			t.Errorf("core key %s is not a field of the Benthos input", k)
		}
		delete(fields, k)
	}
	delete(fields, fieldAutoReplay)
	delete(fields, "checkpoint."+fieldCache)
	delete(fields, "rate_limit."+fieldLimit)
	for k := range fields {
		if k == fieldTLS || strings.HasPrefix(k, fieldTLS+".") {
			continue
		}
		t.Errorf("field %s is not a core key", k)
	}
}

// specKeys lists the input's leaf fields, flattened with ".".
func specKeys(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	collectSpec(specFields(t), "", func(key string, _ specField) { out[key] = true })
	return out
}

// specFields are the input's fields as Benthos documents them.
func specFields(t *testing.T) []specField {
	t.Helper()
	env := service.NewEnvironment()
	var out []specField
	env.WalkInputs(func(name string, v *service.ConfigView) {
		if name != Name {
			return
		}
		b, err := v.FormatJSON()
		if err != nil {
			t.Fatal(err)
		}
		var spec struct {
			Config struct {
				Children []specField `json:"children"`
			} `json:"config"`
		}
		if err := json.Unmarshal(b, &spec); err != nil {
			t.Fatal(err)
		}
		out = spec.Config.Children
	})
	if out == nil {
		t.Fatal("auditpull input not registered")
	}
	return out
}

type specField struct {
	Name     string      `json:"name"`
	Type     string      `json:"type"`
	Kind     string      `json:"kind"`
	Secret   bool        `json:"is_secret"`
	Children []specField `json:"children"`
}

// collectSpec calls leaf with each leaf field of fs, its key flattened
// with "."; a list of objects (tenants) is one leaf, as it is one key of
// the core.
func collectSpec(fs []specField, prefix string, leaf func(key string, f specField)) {
	for _, f := range fs {
		if f.Type == "object" && f.Kind != "array" && len(f.Children) > 0 {
			collectSpec(f.Children, prefix+f.Name+".", leaf)
			continue
		}
		leaf(prefix+f.Name, f)
	}
}

func TestRefusedTokenStopsTheStreamAndSaysWhy(t *testing.T) {
	s := startSim(t, 100, 9)
	conf := strings.Replace(inputConf(s.srv.baseURL(), s.start, "checkpoint: {type: memory}"), testToken, "tok-unknown-to-nordpass", 1)
	out := newCollector()
	r := startRun(t, conf, "", out)
	waitFor(t, 20*time.Second, "the error report", func() bool {
		return strings.Contains(r.logs.String(), "a person must fix the cause")
	})
	time.Sleep(2 * time.Second)
	logs := r.logs.String()
	for _, want := range []string{"authentication failed (HTTP 403)", "invalid token", "Failed to connect to auditpull"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs do not say %q", want)
		}
	}
	if strings.Contains(logs, "tok-unknown-to-nordpass") {
		t.Errorf("the refused token appears in the logs")
	}
	// One refused request, then the input waits (a minute) before trying
	// again: the vendor is not hammered with a bad token.
	if n, _, _ := s.srv.requests(); n != 1 {
		t.Errorf("%d requests with a refused token, want 1", n)
	}
	if out.ackedCount() != 0 {
		t.Errorf("events delivered with a refused token")
	}
}

// A credential refused mid-run stops the stream while pages are still in
// the output. Their acknowledgements still move the checkpoint, and one the
// output rejects meanwhile is sent again from memory before the stream
// reports its stop (left to the next run, it would be read again with every
// page acknowledged after it): once the token is fixed, the next run
// delivers exactly the rest, none of them again.
func TestPagesInTheOutputWhenATokenIsRevokedAreNotDeliveredAgain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reject int // the output call that rejects its page once; 0: none
	}{
		{"every held page acknowledged", 0},
		{"a held page rejected, then acknowledged when sent again", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSim(t, 800, 11)
			conf := inputConf(s.srv.baseURL(), s.start, "checkpoint: {path: "+t.TempDir()+"}", "max_undelivered_pages: 8")
			// The output acknowledges two pages, then holds the next eight
			// (the whole read-ahead) until the stream has stopped.
			releaseOne, release := make(chan struct{}), make(chan struct{})
			out1 := newCollector()
			out1.decide = func(ctx context.Context, call int, _ batchInfo) error {
				gate := release
				switch {
				case call <= 2:
					return nil
				case call == 3:
					gate = releaseOne
				}
				select {
				case <-gate:
					if call == tc.reject {
						return errNack
					}
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			r1 := startRun(t, conf, "", out1)
			waitFor(t, 30*time.Second, "a full read-ahead in the output", func() bool {
				out1.mu.Lock()
				defer out1.mu.Unlock()
				return len(out1.seen) >= 10
			})
			s.np.SetTokenState(testToken, sim.TokenInvalid)
			close(releaseOne) // a slot frees: the next request meets the revoked token
			waitFor(t, 30*time.Second, "the stop", func() bool { return strings.Contains(r1.logs.String(), "stream stopped; the checkpoint stays") })
			close(release)
			waitFor(t, 10*time.Second, "the held pages acknowledged", func() bool { return len(out1.ackedBatches()) >= 10 })
			r1.stop(5 * time.Second)
			got1 := out1.ackedBag()

			s.np.SetTokenState(testToken, sim.TokenValid)
			out2 := newCollector()
			r2 := startRun(t, conf, "", out2)
			waitFor(t, 30*time.Second, "the rest", func() bool { return got1.size()+out2.ackedCount() >= len(s.truth) })
			time.Sleep(1500 * time.Millisecond) // more polls: nothing may come twice
			r2.stop(5 * time.Second)
			requireSameBag(t, "runs 1 and 2 together", got1.add(out2.ackedBag()), bagOf(s.truth))
		})
	}
}

func TestReadmeDocumentsEveryOption(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for k := range specKeys(t) {
		if strings.HasPrefix(k, fieldTLS+".") {
			continue // Benthos' own block, documented by Benthos; the README says which it is
		}
		if src, _, ok := strings.Cut(k, "."); ok && slices.Contains(core.SourceNames(), src) && !strings.Contains(readme, "\n    "+src+":") {
			t.Errorf("README has no section for source %s", src)
			continue
		}
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(readme, " "+leaf+":") {
			t.Errorf("README does not document %s", k)
		}
	}
}

// Every Benthos config in the README (a yaml block with an auditpull input)
// passes the input's spec: no unknown key, no value of the wrong type. The
// core's checks of the values are left out, as the option skeleton gives
// every source's section at once, which no real config does.
func TestReadmeConfigsPassTheSpec(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	configs := 0
	for line, block := range yamlBlocks(string(b)) {
		if !strings.Contains(block, "\n  auditpull:\n") {
			continue
		}
		configs++
		sb := service.NewEnvironment().NewStreamBuilder()
		sb.SetEnvVarLookupFunc(func(string) (string, bool) { return "placeholder", true })
		err := sb.SetYAML(block)
		var lints service.LintError
		if !errors.As(err, &lints) {
			if err != nil {
				t.Errorf("README line %d: %v", line, err)
			}
			continue
		}
		for _, l := range lints {
			if !strings.HasPrefix(l.What, "auditpull config:") {
				t.Errorf("README line %d: %s", line+l.Line, l.What)
			}
		}
	}
	if configs < 2 {
		t.Fatalf("%d configs found in the README; the test reads yaml blocks with an auditpull input", configs)
	}
}

// yamlBlocks returns the yaml code blocks of a Markdown text by the line
// before their first.
func yamlBlocks(md string) map[int]string {
	out := map[int]string{}
	var block []string
	start := -1
	for i, l := range strings.Split(md, "\n") {
		switch {
		case start < 0 && l == "```yaml":
			start, block = i+1, nil
		case start >= 0 && l == "```":
			out[start] = strings.Join(block, "\n") + "\n"
			start = -1
		case start >= 0:
			block = append(block, l)
		}
	}
	return out
}

func TestASourceSectionIsBuiltFromItsSchemaWithNoChangeHere(t *testing.T) {
	opts := []core.Option{
		{Key: "x", Kind: core.KindObject, Source: "x"},
		{Key: "x.base_url", Kind: core.KindString, Source: "x", Required: true},
		{Key: "x.api_token", Kind: core.KindSecret, Source: "x"},
		{Key: "x.filters", Kind: core.KindList, Source: "x"},
		{Key: "x.auth", Kind: core.KindObject, Source: "x"},
		{Key: "x.auth.issuer", Kind: core.KindString, Source: "x"},
		{Key: "x.auth.lifetime", Kind: core.KindDuration, Default: "5m", Source: "x"},
	}
	spec := service.NewConfigSpec().Fields(schemaFields(opts, "")...)
	tests := []struct {
		name, yaml string
		want       map[string]any
	}{
		{"every kind parses", "x: {base_url: u, api_token: t, filters: [a, b], auth: {issuer: i, lifetime: 5m}}",
			map[string]any{"base_url": "u", "api_token": "t", "filters": []any{"a", "b"}, "auth": map[string]any{"issuer": "i", "lifetime": "5m"}}},
		// A source's defaults are the core's to apply: Benthos leaves an
		// unselected section empty, which the core ignores.
		{"an unwritten section stays empty", "{}", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := spec.ParseYAML(tt.yaml, nil)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := pc.FieldAny("x")
			if tt.want == nil {
				if leaves(v) > 0 {
					t.Fatalf("parsed %#v, want a section holding no values", v)
				}
				if _, err := core.ParseMap(map[string]any{"source": "nordpass", "nordpass": map[string]any{"token": "t"}, "oloid": v}); err != nil {
					t.Fatalf("the core refuses the empty section: %v", err)
				}
				return
			}
			if !reflect.DeepEqual(v, tt.want) {
				t.Fatalf("parsed %#v, want %#v", v, tt.want)
			}
		})
	}
}

// leaves counts the values in a parsed section, not counting empty lists
// and sections.
func leaves(v any) int {
	switch x := v.(type) {
	case map[string]any:
		n := 0
		for _, e := range x {
			n += leaves(e)
		}
		return n
	case []any:
		n := 0
		for _, e := range x {
			n += leaves(e)
		}
		return n
	case nil:
		return 0
	}
	return 1
}

// rate_limit.resource is waited for before every page; the core's budget
// still applies beneath it.
func TestRateLimitResourceGatesEveryPage(t *testing.T) {
	s := startSim(t, 600, 11) // 12 pages of 50
	out := newCollector()
	const every = 300 * time.Millisecond
	res := "rate_limit_resources:\n  - label: budget\n    local: {count: 1, interval: " + every.String() + "}\n"
	start := time.Now()
	r := startRun(t, inputConf(s.srv.baseURL(), s.start, "checkpoint: {type: memory}", "rate_limit: {resource: budget}"), res, out)
	waitFor(t, 30*time.Second, "every event", func() bool { return out.ackedCount() >= len(s.truth) })
	took := time.Since(start)
	r.stop(5 * time.Second)
	requireSameBag(t, "delivered", out.ackedBag(), bagOf(s.truth))
	if pages := len(out.ackedBatches()); took < time.Duration(pages-1)*every {
		t.Errorf("%d pages in %s; the rate limit allows one per %s", pages, took, every)
	}

	t.Run("a missing resource is a config error naming the key", func(t *testing.T) {
		b := service.NewEnvironment().NewStreamBuilder()
		if err := b.AddInputYAML(inputConf(s.srv.baseURL(), s.start, "checkpoint: {type: memory}", "rate_limit: {resource: nowhere}")); err != nil {
			t.Fatal(err)
		}
		if err := b.AddOutputYAML("drop: {}"); err != nil {
			t.Fatal(err)
		}
		st, err := b.Build()
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = st.Run(ctx)
		}
		if err == nil || !strings.Contains(err.Error(), "rate_limit.resource") {
			t.Fatalf("want an error naming rate_limit.resource, got %v", err)
		}
	})
}
