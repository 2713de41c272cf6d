package checkpoint

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"time"
)

// Logger is the small interface adapters bind to their host's logger
// (Telegraf's telegraf.Logger, Benthos' service.Logger, Fluent Bit's
// log_print). Key/value pairs follow the message, slog style. It is
// declared here, below core, so that the leaser logs through it too; core
// names it core.Logger.
type Logger interface {
	Debug(msg string, kv ...any)
	Info(msg string, kv ...any)
	Warn(msg string, kv ...any)
	Error(msg string, kv ...any)
}

// NopLogger discards everything.
type NopLogger struct{}

func (NopLogger) Debug(string, ...any) {}
func (NopLogger) Info(string, ...any)  {}
func (NopLogger) Warn(string, ...any)  {}
func (NopLogger) Error(string, ...any) {}

// LeaseOptions are the optional parts of a Leaser.
type LeaseOptions struct {
	// Key names the entry holding a stream's lease. The default escapes the
	// stream name into one flat key, which stores backed by files need.
	Key func(stream string) string
	// Log receives hand-overs, waits and losses; nil discards them.
	Log Logger
	// OnLost, when set, makes a lost lease the loss of that stream alone:
	// the Leaser stops renewing it, calls OnLost and goes on with the
	// others (a Share's tenants). Without it, losing any lease ends the
	// Leaser (Lost).
	OnLost func(stream string, err error)
}

// A Leaser makes one process at a time the reader of a stream when several
// processes share a checkpoint store. A lease is a KV entry added with Add
// (which fails while the entry exists) and a TTL, renewed every quarter of
// the TTL while the process runs and deleted when it stops. A process that
// dies stops renewing; the entry expires and a waiting process adds its own.
//
// The entry also carries its expiry, so stores that ignore TTLs (the Benthos
// file cache) still hand a dead process's stream over — one whole TTL after
// the recorded expiry, which leaves room for clock skew between hosts.
//
// Stores offer no compare-and-set, so renewal is a Get followed by a Set.
// A lease counts as held (Holds) only while its last confirmation is
// younger than three quarters of the TTL: a process that cannot renew in
// time stops polling and stops writing checkpoints before another one can
// take over. A confirmation dates from just before the write that made it,
// since the entry's TTL runs from no earlier than that: a slow reply from
// the store must not stretch the hold past the entry's expiry.
//
// Losing any lease closes Lost and ends the Leaser: the host stops reading,
// closes it, and waits for its streams with a new one.
type Leaser struct {
	kv     KV
	ttl    time.Duration
	key    func(stream string) string
	owner  string
	log    Logger
	onLost func(stream string, err error)

	// wait is how often a waiting process checks the lease; a clean stop
	// deletes the entry, so the next check takes the stream over.
	wait time.Duration

	// renewMu keeps a renewal from rewriting an entry that Release is
	// deleting, which would leave it to block the next holder for a TTL.
	renewMu sync.Mutex

	mu      sync.Mutex
	held    map[string]time.Time // stream → last confirmation
	writing map[string]int       // stream → checkpoint writes in progress (Write)
	torn    map[string]time.Time // key → first seen unreadable, while it stays so
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

// NewLeaser returns a Leaser over kv whose leases last ttl without renewal.
func NewLeaser(kv KV, ttl time.Duration, opts LeaseOptions) *Leaser {
	if ttl <= 0 {
		panic("checkpoint: a lease TTL must be positive")
	}
	l := &Leaser{
		kv:      kv,
		ttl:     ttl,
		key:     opts.Key,
		owner:   ownerID(),
		log:     opts.Log,
		onLost:  opts.OnLost,
		wait:    min(max(ttl/6, 100*time.Millisecond), 5*time.Second),
		held:    map[string]time.Time{},
		writing: map[string]int{},
		torn:    map[string]time.Time{},
		lost:    make(chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if l.key == nil {
		l.key = func(stream string) string { return "lease:" + url.PathEscape(stream) }
	}
	if l.log == nil {
		l.log = NopLogger{}
	}
	return l
}

// ownerID names this process in the lease, for the operator reading logs or
// the store: host, pid and a random suffix (one process may run several
// inputs).
func ownerID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Lost is closed when a held lease is lost; Err then says why.
func (l *Leaser) Lost() <-chan struct{} { return l.lost }

// Err says why a lease was lost, or is nil.
func (l *Leaser) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostErr
}

var errLeaserClosed = errors.New("the leaser is closed")

// Acquire blocks until this process holds the stream's lease or ctx ends.
// Any other error comes from the store, wrapped.
func (l *Leaser) Acquire(ctx context.Context, stream string) error {
	key := l.key(stream)
	lastHolder := ""
	for {
		confirmed, holder, err := l.tryAcquire(ctx, key, true)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("taking the lease of stream %s: %w", stream, err)
		}
		if !confirmed.IsZero() {
			return l.took(stream, key, confirmed, lastHolder)
		}
		if holder != "" && holder != lastHolder {
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

// TryAcquire makes one attempt at the stream's lease, without waiting:
// held reports whether this process holds it now, holder names the process
// that does otherwise (when known).
func (l *Leaser) TryAcquire(ctx context.Context, stream string) (held bool, holder string, err error) {
	key := l.key(stream)
	confirmed, holder, err := l.tryAcquire(ctx, key, false)
	if err != nil {
		return false, "", fmt.Errorf("taking the lease of stream %s: %w", stream, err)
	}
	if confirmed.IsZero() {
		return false, holder, nil
	}
	if err := l.took(stream, key, confirmed, ""); err != nil {
		return false, "", err
	}
	return true, "", nil
}

// Release stops renewing the stream's lease and deletes its entry, so that
// the process it now belongs to takes it over at once. The caller must
// have written the stream's last checkpoint first.
func (l *Leaser) Release(ctx context.Context, stream string) error {
	l.renewMu.Lock()
	defer l.renewMu.Unlock()
	l.mu.Lock()
	_, ok := l.held[stream]
	delete(l.held, stream)
	l.mu.Unlock()
	if !ok {
		return nil
	}
	return l.release(ctx, l.key(stream))
}

// took records a lease just taken and starts renewing it; a Leaser already
// closed or lost gives the entry straight back, since nothing would renew
// or delete it.
func (l *Leaser) took(stream, key string, confirmed time.Time, lastHolder string) error {
	l.mu.Lock()
	err := l.lostErr
	if l.closed {
		err = errLeaserClosed
	}
	if err == nil {
		l.held[stream] = confirmed
		if !l.started {
			l.started = true
			go l.renewLoop()
		}
	}
	l.mu.Unlock()
	if err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), l.ttl/2)
		defer cancel()
		_ = l.release(ctx, key)
		return fmt.Errorf("taking the lease of stream %s: %w", stream, err)
	}
	if lastHolder != "" {
		l.log.Info("took over the stream's lease", "stream", stream, "previous_holder", lastHolder, "owner", l.owner)
	} else {
		l.log.Debug("holding the stream's lease", "stream", stream, "owner", l.owner)
	}
	return nil
}

// tryAcquire adds the lease entry, or takes over one whose recorded expiry
// is long past (stores without TTLs). On success it returns the time of
// the confirmation; otherwise the current holder, if known.
//
// With wait false a take-over returns at once, unconfirmed: the next call
// confirms it, instead of holding the caller for the check.
func (l *Leaser) tryAcquire(ctx context.Context, key string, wait bool) (confirmed time.Time, holder string, err error) {
	now := time.Now()
	val := l.value(now)
	aerr := l.kv.Add(ctx, key, val, l.ttl)
	if aerr != nil && !errors.Is(aerr, ErrExists) {
		return time.Time{}, "", aerr
	}
	cur, err := l.kv.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return time.Time{}, "", nil // expired between Add and Get: try again soon
	}
	if err != nil {
		return time.Time{}, "", err
	}
	var lv leaseValue
	if json.Unmarshal(cur, &lv) != nil {
		// A store that writes in place (the Benthos file cache) shows a
		// write in progress torn, and keeps one for good when its writer
		// is killed during it. Torn for two TTLs on end, it has no
		// living writer: it counts as expired.
		l.mu.Lock()
		since, seen := l.torn[key]
		if !seen {
			since = now
			l.torn[key] = now
		}
		l.mu.Unlock()
		if now.Sub(since) < 2*l.ttl {
			return time.Time{}, "(unreadable lease entry)", nil
		}
		lv = leaseValue{Owner: "(unreadable lease entry)"}
	} else {
		l.mu.Lock()
		delete(l.torn, key)
		l.mu.Unlock()
	}
	// Some stores accept Add on an existing key, or report success without
	// writing: trust what is stored.
	if lv.Owner == l.owner {
		if !bytes.Equal(cur, val) {
			// Ours from an earlier Acquire: its expiry is not this
			// confirmation's.
			if err := l.kv.Set(ctx, key, val, l.ttl); err != nil {
				return time.Time{}, "", err
			}
		}
		return now, "", nil
	}
	if lv.Expires.IsZero() && lv.Owner != "(unreadable lease entry)" || !now.After(lv.Expires.Add(l.ttl)) {
		return time.Time{}, lv.Owner, nil
	}
	// The holder stopped renewing long ago and the store kept its entry:
	// take it over, then check that no other waiter did the same at the
	// same moment.
	if err := l.kv.Set(ctx, key, val, l.ttl); err != nil {
		return time.Time{}, "", err
	}
	if !wait {
		// The caller's next attempt, a moment later, is the check: the
		// entry is still ours then, or another waiter's.
		l.log.Warn("taking over a lease that expired without being removed (the store ignores TTLs)", "key", key, "previous_holder", lv.Owner)
		return time.Time{}, "", nil
	}
	select {
	case <-ctx.Done():
		return time.Time{}, "", ctx.Err()
	case <-time.After(min(l.wait, time.Second)):
	}
	cur, err = l.kv.Get(ctx, key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return time.Time{}, "", err
	}
	if !l.ours(cur) {
		return time.Time{}, lv.Owner, nil
	}
	l.log.Warn("took over a lease that had expired without being removed (the store ignores TTLs)", "key", key, "previous_holder", lv.Owner)
	return now, lv.Owner, nil
}

func (l *Leaser) value(now time.Time) []byte {
	b, _ := json.Marshal(leaseValue{Owner: l.owner, Expires: now.Add(l.ttl).UTC()})
	return b
}

func (l *Leaser) ours(entry []byte) bool {
	var lv leaseValue
	return json.Unmarshal(entry, &lv) == nil && lv.Owner == l.owner
}

// Holds reports whether the stream's lease is confirmed recently enough
// that no other process can have taken it.
func (l *Leaser) Holds(stream string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holds(stream)
}

func (l *Leaser) holds(stream string) bool {
	t, ok := l.held[stream]
	return ok && l.lostErr == nil && time.Since(t) < l.ttl*3/4
}

// Write runs write, a write of the stream's checkpoint, if the stream's
// lease is held, and returns ErrLeaseLost otherwise. A loss is declared
// (logged, Lost closed, OnLost called) only once the writes in progress
// have ended, so that once a reader says it lost a stream nothing more of
// that stream's checkpoint is written, not even a write that had begun.
// A write still hanging no longer holds the declaration back after a TTL
// (the whole Leaser lost) or a quarter of one (one stream of several lost,
// so that the others' renewals are not held up).
func (l *Leaser) Write(stream string, write func() error) error {
	l.mu.Lock()
	if !l.holds(stream) {
		l.mu.Unlock()
		return ErrLeaseLost
	}
	l.writing[stream]++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		if l.writing[stream]--; l.writing[stream] == 0 {
			delete(l.writing, stream)
		}
		l.mu.Unlock()
	}()
	return write()
}

// awaitWrites waits, for at most limit, until no write of stream (of any
// stream, if stream is "") is in progress.
func (l *Leaser) awaitWrites(stream string, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		l.mu.Lock()
		n := l.writing[stream]
		if stream == "" {
			n = len(l.writing)
		}
		l.mu.Unlock()
		if n == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (l *Leaser) renewLoop() {
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
			err := l.renew(s)
			switch {
			case err == nil:
			case l.onLost != nil:
				l.mu.Lock()
				_, still := l.held[s] // not released meanwhile
				delete(l.held, s)
				l.mu.Unlock()
				if still {
					l.awaitWrites(s, l.ttl/4)
					l.log.Error("lost a stream's lease: stopping it here; its new holder continues from the checkpoint", "stream", s, "error", err.Error())
					l.onLost(s, err)
				}
			default:
				l.markLost(err)
				return
			}
		}
	}
}

// renew confirms and extends one lease. A store error is tolerated until
// the lease could have expired; another owner, or no entry, is a loss.
func (l *Leaser) renew(stream string) error {
	l.renewMu.Lock()
	defer l.renewMu.Unlock()
	key := l.key(stream)
	l.mu.Lock()
	confirmed, ok := l.held[stream]
	l.mu.Unlock()
	if !ok {
		return nil // released since the loop listed it
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.ttl/2)
	defer cancel()
	now, lost, err := l.extend(ctx, stream, key, confirmed)
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
		l.held[stream] = now
	}
	l.mu.Unlock()
	return nil
}

// extend rewrites the entry if it is still ours, returning the time of the
// confirmation; lost says why it is not ours any more.
func (l *Leaser) extend(ctx context.Context, stream, key string, confirmed time.Time) (now time.Time, lost, err error) {
	cur, err := l.kv.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return now, fmt.Errorf("the lease of stream %s expired", stream), nil
	}
	if err != nil {
		return now, nil, err
	}
	var lv leaseValue
	if json.Unmarshal(cur, &lv) != nil || lv.Owner != l.owner {
		return now, fmt.Errorf("the lease of stream %s is now held by %s", stream, lv.Owner), nil
	}
	now = time.Now()
	if now.Sub(confirmed) >= l.ttl*3/4 {
		return now, fmt.Errorf("the lease of stream %s could not be renewed in time", stream), nil
	}
	return now, nil, l.kv.Set(ctx, key, l.value(now), l.ttl)
}

func (l *Leaser) markLost(err error) {
	l.mu.Lock()
	if l.lostErr != nil {
		l.mu.Unlock()
		return
	}
	l.lostErr = err // no write starts from now on
	l.mu.Unlock()
	l.awaitWrites("", l.ttl)
	// Logged before Lost closes: whoever sees Lost finds the reason in
	// the log already.
	l.log.Error("lost the stream's lease: stopping this reader; the new holder continues from the checkpoint", "error", err.Error())
	close(l.lost)
}

// Close stops renewing and deletes the lease entries this process still
// holds, so that a waiting process takes over at once.
func (l *Leaser) Close() {
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
	// One TTL for them all, a few at a time: past a TTL the entries have
	// expired anyway (in stores that honour TTLs), and a cache that hangs
	// must not hold the stop of an input of many tenants for a TTL each.
	ctx, cancel := context.WithTimeout(context.Background(), l.ttl)
	defer cancel()
	var wg sync.WaitGroup
	slots := make(chan struct{}, closeParallel)
	for _, s := range streams {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			if err := l.release(ctx, l.key(s)); err != nil {
				l.log.Warn("could not remove the stream's lease; another process takes over when it expires", "stream", s, "error", err.Error())
			}
		})
	}
	wg.Wait()
}

// closeParallel is how many leases Close gives back at once.
const closeParallel = 8

// release deletes key if the entry there is still this process's.
func (l *Leaser) release(ctx context.Context, key string) error {
	cur, err := l.kv.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !l.ours(cur) {
		return nil
	}
	if err := l.kv.Delete(ctx, key); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}
