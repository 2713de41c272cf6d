package benthos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core"
)

// A lease makes one process at a time the reader of a stream when several
// Benthos processes share a checkpoint cache. It is a cache entry added
// with Add (which fails while the entry exists) and a TTL, renewed every
// quarter of the TTL while the input runs and deleted when it stops. A
// process that dies stops renewing; the entry expires and a waiting process
// adds its own.
//
// The entry also carries its expiry, so caches that ignore TTLs (the file
// cache) still hand a dead process's stream over — one whole TTL after the
// recorded expiry, which leaves room for clock skew between hosts.
//
// Caches offer no compare-and-set, so renewal is a Get followed by a Set.
// A lease counts as held only while its last confirmation is younger than
// three quarters of the TTL: a process that cannot renew in time stops
// polling and stops writing checkpoints before another one can take over.
type leaser struct {
	res   *service.Resources
	cache string
	ttl   time.Duration
	owner string
	log   core.Logger

	// wait is how often a waiting process checks the lease; a clean stop
	// deletes the entry, so the next check takes the stream over.
	wait time.Duration

	mu      sync.Mutex
	held    map[string]time.Time // stream → last confirmation
	lost    chan struct{}        // closed when any held lease is lost
	lostErr error
	stop    chan struct{}
	done    chan struct{}
	started bool
	closed  bool
}

type leaseValue struct {
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

func newLeaser(res *service.Resources, cache string, ttl time.Duration, log core.Logger) *leaser {
	return &leaser{
		res:   res,
		cache: cache,
		ttl:   ttl,
		owner: ownerID(),
		log:   log,
		wait:  min(max(ttl/6, 100*time.Millisecond), 5*time.Second),
		held:  map[string]time.Time{},
		lost:  make(chan struct{}),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// ownerID names this process in the lease, for the operator reading logs or
// the cache: host, pid and a random suffix (one process may run several
// inputs).
func ownerID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Lost is closed when a held lease is lost; Err then says why.
func (l *leaser) Lost() <-chan struct{} { return l.lost }

func (l *leaser) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostErr
}

// acquire blocks until this process holds the stream's lease or ctx ends.
func (l *leaser) acquire(ctx context.Context, stream string) error {
	key := leaseKey(stream)
	lastHolder := ""
	for {
		ok, holder, err := l.tryAcquire(ctx, key)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// The cache is unreachable: Connect reports it and Benthos
			// tries again with backoff.
			return &cacheError{fmt.Errorf("taking the lease of stream %s: %w", stream, err)}
		case ok:
			l.mu.Lock()
			l.held[stream] = time.Now()
			if !l.started {
				l.started = true
				go l.renewLoop()
			}
			l.mu.Unlock()
			if lastHolder != "" {
				l.log.Info("took over the stream's lease", "stream", stream, "previous_holder", lastHolder, "owner", l.owner)
			} else {
				l.log.Debug("holding the stream's lease", "stream", stream, "owner", l.owner)
			}
			return nil
		}
		if holder != lastHolder {
			l.log.Info("another process reads this stream; waiting to take over when it stops", "stream", stream, "holder", holder, "lease_ttl", l.ttl.String())
			lastHolder = holder
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(l.wait):
		}
	}
}

// tryAcquire adds the lease entry, or takes over one whose recorded expiry
// is long past (caches without TTLs). It reports the current holder when
// the lease is taken.
func (l *leaser) tryAcquire(ctx context.Context, key string) (ok bool, holder string, err error) {
	err = withCache(ctx, l.res, l.cache, func(ctx context.Context, c service.Cache) error {
		now := time.Now()
		val := l.value(now)
		ttl := l.ttl
		aerr := c.Add(ctx, key, val, &ttl)
		if aerr != nil && !errors.Is(aerr, service.ErrKeyAlreadyExists) {
			return aerr
		}
		cur, gerr := c.Get(ctx, key)
		if errors.Is(gerr, service.ErrKeyNotFound) {
			return nil // expired between Add and Get: try again soon
		}
		if gerr != nil {
			return gerr
		}
		var lv leaseValue
		if json.Unmarshal(cur, &lv) != nil {
			holder = "(unreadable lease entry)"
			return nil
		}
		// Some caches accept Add on an existing key; trust what is stored.
		if lv.Owner == l.owner {
			ok = true
			return nil
		}
		holder = lv.Owner
		if !lv.Expires.IsZero() && now.After(lv.Expires.Add(l.ttl)) {
			// The holder stopped renewing long ago and the cache kept its
			// entry: take it over, then check that no other waiter did
			// the same at the same moment.
			if err := c.Set(ctx, key, val, &ttl); err != nil {
				return err
			}
			time.Sleep(min(l.wait, time.Second))
			cur, err := c.Get(ctx, key)
			if err != nil {
				return err
			}
			ok = json.Unmarshal(cur, &lv) == nil && lv.Owner == l.owner
			if ok {
				l.log.Warn("took over a lease that had expired without being removed (the cache ignores TTLs)", "key", key, "previous_holder", holder)
			}
		}
		return nil
	})
	return ok, holder, err
}

func (l *leaser) value(now time.Time) []byte {
	b, _ := json.Marshal(leaseValue{Owner: l.owner, Expires: now.Add(l.ttl).UTC()})
	return b
}

// holds reports whether the stream's lease is confirmed recently enough
// that no other process can have taken it.
func (l *leaser) holds(stream string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.held[stream]
	return ok && l.lostErr == nil && time.Since(t) < l.ttl*3/4
}

func (l *leaser) renewLoop() {
	defer close(l.done)
	tick := time.NewTicker(l.ttl / 4)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		l.mu.Lock()
		streams := make([]string, 0, len(l.held))
		for s := range l.held {
			streams = append(streams, s)
		}
		l.mu.Unlock()
		for _, s := range streams {
			if err := l.renew(s); err != nil {
				l.markLost(err)
				return
			}
		}
	}
}

// renew confirms and extends one lease. A cache error is tolerated until
// the lease could have expired; another owner, or no entry, is a loss.
func (l *leaser) renew(stream string) error {
	key := leaseKey(stream)
	l.mu.Lock()
	confirmed := l.held[stream]
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), min(cacheTimeout, l.ttl/2))
	defer cancel()
	var lost error
	err := withCache(ctx, l.res, l.cache, func(ctx context.Context, c service.Cache) error {
		cur, err := c.Get(ctx, key)
		if errors.Is(err, service.ErrKeyNotFound) {
			lost = fmt.Errorf("the lease of stream %s expired", stream)
			return nil
		}
		if err != nil {
			return err
		}
		var lv leaseValue
		if json.Unmarshal(cur, &lv) != nil || lv.Owner != l.owner {
			lost = fmt.Errorf("the lease of stream %s is now held by %s", stream, lv.Owner)
			return nil
		}
		now := time.Now()
		if now.Sub(confirmed) >= l.ttl*3/4 {
			lost = fmt.Errorf("the lease of stream %s could not be renewed in time", stream)
			return nil
		}
		ttl := l.ttl
		return c.Set(ctx, key, l.value(now), &ttl)
	})
	if lost != nil {
		return lost
	}
	if err != nil {
		if time.Since(confirmed) >= l.ttl*3/4 {
			return fmt.Errorf("the lease of stream %s could not be renewed in time: %w", stream, err)
		}
		l.log.Warn("lease renewal failed; retrying", "stream", stream, "error", err.Error())
		return nil
	}
	l.mu.Lock()
	if l.held[stream].Equal(confirmed) {
		l.held[stream] = time.Now()
	}
	l.mu.Unlock()
	return nil
}

func (l *leaser) markLost(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lostErr != nil {
		return
	}
	l.lostErr = err
	close(l.lost)
	l.log.Error("lost the stream's lease: stopping this reader; the new holder continues from the checkpoint", "error", err.Error())
}

// close stops renewing and deletes the lease entries this process still
// holds, so that a waiting process takes over at once.
func (l *leaser) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	started := l.started
	streams := make([]string, 0, len(l.held))
	for s := range l.held {
		streams = append(streams, s)
	}
	l.held = map[string]time.Time{}
	l.mu.Unlock()
	close(l.stop)
	if started {
		<-l.done
	}
	for _, s := range streams {
		key := leaseKey(s)
		err := withCache(context.Background(), l.res, l.cache, func(ctx context.Context, c service.Cache) error {
			cur, err := c.Get(ctx, key)
			if err != nil {
				return err
			}
			var lv leaseValue
			if json.Unmarshal(cur, &lv) != nil || lv.Owner != l.owner {
				return nil // not ours any more
			}
			return c.Delete(ctx, key)
		})
		if err != nil && !errors.Is(err, service.ErrKeyNotFound) {
			l.log.Warn("could not remove the stream's lease; another process takes over when it expires", "stream", s, "error", err.Error())
		}
	}
}
