package core

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditpull/auditpull/core/checkpoint"
	"github.com/auditpull/auditpull/core/normalize"
)

// Options carries what the host provides. Zero values are fine.
type Options struct {
	Logger  Logger
	Metrics *Metrics
	// Store overrides cfg.Checkpoint (hosts with their own stores).
	Store checkpoint.Store
	// ReadOnly loads the checkpoints and never writes them: a dry run
	// (Telegraf's --test). A file store then creates, probes and writes
	// nothing in checkpoint.path, which a dry run may only be allowed to
	// read.
	ReadOnly bool
	Clock    Clock
	// DeferOpen lets NewPoller return when a source cannot list its streams
	// yet for a reason that may pass (Qualtrics discovers its activity types
	// over the network): after one request_timeout it gives up for now, and
	// Next keeps trying with backoff, reporting each failure as transient.
	// For hosts whose start must not wait on a vendor (Telegraf, Fluent
	// Bit); without it NewPoller retries for the whole retry budget.
	DeferOpen bool
	// BeforeRequest, when set, is waited on before every HTTP request to
	// the vendor, after the core's own budget: a host's shared rate limit
	// (a Benthos rate_limit resource over Redis, shared by replicas on
	// several machines). An error other than ctx's is a transient failure
	// of the request.
	BeforeRequest func(ctx context.Context) error
	// Share, when set, divides the input's tenants among the replicas
	// sharing a store (see core/share.go): the poller joins it, reads
	// only its share, and closes it. The Store must then not lease
	// streams itself. Inputs without tenants ignore it.
	Share *checkpoint.Share
	// TLS, when set, is the TLS configuration of the vendor requests,
	// from the host's own settings (Benthos' tls block); the http.*
	// certificate options must then be left unset.
	TLS *tls.Config
	// StallWarning is how long Next waits with max_undelivered_pages
	// pages in the host, none reported, before it logs why reading is
	// paused; 0 means a minute.
	StallWarning time.Duration
}

// Poller is the pull-model engine an adapter drives: Next returns the next
// batch (normally one API page); the host acks it once delivered. The
// checkpoint advances only over a contiguous run of acked batches, so acks
// may arrive in any order; a nack re-delivers that batch.
//
// Next may be called from one goroutine at a time; Ack from any goroutine.
type Poller struct {
	cfg     *Config
	streams []*stream
	tenants []*tenant // the accounts of an input with tenants; nil otherwise
	share   *checkpoint.Share
	// Guarded by nextMu: the Share's view last followed, and the
	// tenants being handed over.
	shareEpoch uint64
	leaving    int
	store      checkpoint.Store
	metrics    *Metrics
	log        Logger
	clock      Clock
	maxOut     int

	nextMu   sync.Mutex // serialises Next
	rr       int
	caughtUp atomic.Bool

	// Set while the source has not listed its streams (Options.DeferOpen);
	// guarded by nextMu, except that streams is replaced under mu.
	pendingOpen bool
	openEnv     SourceEnv
	openFails   int
	openRetryAt time.Time

	// Next's wait on a full read-ahead (see waitReports); under nextMu.
	stallAfter   time.Duration
	stallSince   time.Time
	stallReports uint64
	stallWarned  bool

	mu          sync.Mutex
	outstanding int
	withHost    int    // batches Next returned whose fate the host has not reported
	reports     uint64 // fates reported, and batches handed (see Batch.Handed)
	redeliver   []*Batch
	failed      error
	saveErr     error
	dirty       map[*stream]bool
	closed      bool

	life     context.Context // cancelled by Close: ends in-flight requests
	end      context.CancelFunc
	wake     chan struct{} // an ack or nack happened
	reported chan struct{} // the host reported a batch's fate (WaitReported)
	saveKick chan struct{}
	stop     chan struct{}
	saverWG  sync.WaitGroup

	// leaseLost is closed when the store's lease is lost (nil: the store
	// leases nothing); leaseWhy says why.
	leaseLost <-chan struct{}
	leaseWhy  func() error

	api    apiClock                        // how far the API's clock is behind (its Date headers)
	before func(ctx context.Context) error // Options.BeforeRequest
	tls    *tls.Config                     // Options.TLS

	// saveMu makes writes one at a time, each of the newest committed
	// state, so a checkpoint never goes back; storeClosed is under it.
	saveMu      sync.Mutex
	storeClosed bool
}

// Batch is one page of events handed to the host.
type Batch struct {
	Events []Event
	Stream string
	Source string

	p        *Poller
	s        *stream
	seq      uint64
	snap     *snapshot
	attempts int
	done     bool
	released bool
	handed   bool // Handed: the host holds the events, the slot is free
	withHost bool // returned by Next, its fate not reported yet
}

// snapshot is a stream's checkpoint as it stands after a batch.
type snapshot struct {
	cursor    time.Time
	final     time.Time
	highWater time.Time
	window    *windowState
	seen      seenSet // shared, never mutated after capture
}

// NewPoller opens the configured source(s) and loads their checkpoints. A
// checkpoint that cannot be decoded is a fatal error here: the input refuses
// to start rather than re-read or skip history. A store that cannot be
// reached is a transient error. The poller owns the store from this call on:
// it is closed by Close, or here if NewPoller fails.
func NewPoller(ctx context.Context, cfg *Config, opts Options) (_ *Poller, err error) {
	p := &Poller{
		cfg:     cfg,
		store:   opts.Store,
		metrics: opts.Metrics,
		log:     opts.Logger,
		clock:   opts.Clock,
		before:  opts.BeforeRequest,
		tls:     opts.TLS,
		maxOut:  cfg.MaxUndeliveredPages,
		dirty:   map[*stream]bool{},

		stallAfter: cmp.Or(opts.StallWarning, time.Minute),

		wake:     make(chan struct{}, 1),
		reported: make(chan struct{}, 1),
		saveKick: make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	p.life, p.end = context.WithCancel(context.Background())
	if p.metrics == nil {
		p.metrics = &Metrics{}
	}
	if p.log == nil {
		p.log = NopLogger{}
	}
	if p.clock == nil {
		p.clock = RealClock
	}
	switch {
	case p.store == nil:
		open := OpenStore
		if opts.ReadOnly {
			open = openStoreReadOnly
		}
		st, err := open(cfg.Checkpoint, p.log)
		if err != nil {
			return nil, err
		}
		p.store = st
	case opts.ReadOnly:
		p.store = checkpoint.ReadOnly(p.store)
	}
	defer func() {
		if err != nil {
			p.end()
			_ = p.store.Close()
		}
	}()
	if ls, ok := p.store.(interface {
		LeaseLost() (<-chan struct{}, func() error)
	}); ok {
		p.leaseLost, p.leaseWhy = ls.LeaseLost()
	}
	if len(cfg.tenants) > 0 {
		for _, tc := range cfg.tenants {
			p.tenants = append(p.tenants, &tenant{key: tc.Stream, cfg: tc, mine: true})
		}
		if opts.Share != nil {
			if err := opts.Share.Join(ctx); err != nil {
				opts.Share.Close()
				return nil, &TransientError{Op: "joining the replicas that share the tenants", Err: err}
			}
			p.share = opts.Share
			defer func() {
				if err != nil {
					p.share.Close()
				}
			}()
			p.rebalance()
		}
		// A tenant that cannot open now is logged and retried by Next:
		// it must not keep the others from starting. Hosts whose start
		// must not wait on a vendor leave every open to Next.
		if !opts.DeferOpen {
			if err := p.openTenants(ctx); ctx.Err() != nil {
				return nil, ctx.Err()
			} else if err != nil {
				p.log.Warn("starting without some tenants; they are retried", "error", err.Error())
			}
		}
		p.saverWG.Add(1)
		go p.saver()
		return p, nil
	}
	env := SourceEnv{Config: cfg, Logger: p.log, Clock: p.clock, Metrics: p.metrics, api: &p.api, before: p.before, tls: p.tls}
	openCtx := ctx
	if opts.DeferOpen {
		var cancel context.CancelFunc
		openCtx, cancel = context.WithTimeout(ctx, cfg.RequestTimeout.D())
		defer cancel()
	}
	srcs, err := lookupSource(cfg.Source).Open(openCtx, env)
	switch {
	case err == nil:
		if p.streams, err = p.openStreams(ctx, srcs, cfg.Stream); err != nil {
			return nil, err
		}
	case opts.DeferOpen && ctx.Err() == nil && !IsFatal(err):
		p.log.Warn("the source cannot list its streams yet; starting anyway and retrying", "source", cfg.Source, "error", err.Error())
		p.metrics.Errors.Add(1)
		p.pendingOpen, p.openEnv, p.openFails = true, env, 1
		p.openRetryAt = time.Now().Add(cfg.Retry.InitialBackoff.D())
	default:
		return nil, err
	}
	p.saverWG.Add(1)
	go p.saver()
	return p, nil
}

func (p *Poller) openStreams(ctx context.Context, srcs []Source, name string) ([]*stream, error) {
	out := make([]*stream, 0, len(srcs))
	for _, src := range srcs {
		s, err := p.openStream(ctx, src, name)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// retryOpen is Next's part of DeferOpen: wait out the backoff, try to list
// the streams again, and load their checkpoints. Failures are transient
// unless the source or a checkpoint says otherwise.
func (p *Poller) retryOpen(ctx context.Context) error {
	if err := sleepCtx(ctx, time.Until(p.openRetryAt)); err != nil {
		return err
	}
	srcs, err := lookupSource(p.cfg.Source).Open(ctx, p.openEnv)
	var streams []*stream
	if err == nil {
		streams, err = p.openStreams(ctx, srcs, p.cfg.Stream)
	}
	switch {
	case err == nil:
		p.mu.Lock()
		p.streams, p.pendingOpen = streams, false
		p.mu.Unlock()
		p.log.Info("source opened", "source", p.cfg.Source, "streams", strings.Join(p.Streams(), ","))
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case IsFatal(err):
		return err
	}
	backoff := p.cfg.Retry.InitialBackoff.D() << min(p.openFails, 20)
	p.openFails++
	p.openRetryAt = time.Now().Add(min(backoff, p.cfg.Retry.MaxBackoff.D()))
	return &TransientError{Op: "listing the streams of " + p.cfg.Source, Err: err}
}

// OpenStore builds the core's own checkpoint stores.
func OpenStore(c CheckpointConfig, log Logger) (checkpoint.Store, error) {
	switch c.Type {
	case "memory":
		return checkpoint.NewMemory(), nil
	case "file":
		st, err := checkpoint.NewFile(c.Path)
		if err != nil {
			return nil, &ConfigError{Key: "checkpoint.path", Msg: err.Error()}
		}
		if fs := checkpoint.Transient(c.Path); fs != "" {
			log.Warn("checkpoint.path is on "+fs+": once they are gone the input finds no checkpoint and reads initial_lookback again, delivering it twice; put checkpoint.path on storage that lasts", "path", c.Path)
		}
		return st.SyncEvery(c.SyncInterval.D()).LogTo(log), nil
	}
	return nil, &ConfigError{Key: "checkpoint.type", Msg: fmt.Sprintf("%q must be provided by the host", c.Type)}
}

// openStoreReadOnly is OpenStore for Options.ReadOnly.
func openStoreReadOnly(c CheckpointConfig, log Logger) (checkpoint.Store, error) {
	if c.Type == "file" {
		return checkpoint.ReadOnlyFile(c.Path, log), nil
	}
	st, err := OpenStore(c, log)
	if err != nil {
		return nil, err
	}
	return checkpoint.ReadOnly(st), nil
}

// openStream loads src's checkpoint; name is the configured stream (a
// tenant's), "" for the source's default key.
func (p *Poller) openStream(ctx context.Context, src Source, name string) (*stream, error) {
	info := src.Info()
	if info.Partitions < 1 {
		info.Partitions = 1
	}
	if info.Precision <= 0 {
		info.Precision = time.Millisecond
	}
	key := info.Stream
	if name != "" {
		key = name
		if info.Sub != "" {
			key += "/" + info.Sub
		}
	}
	s := &stream{
		p:         p,
		key:       key,
		src:       src,
		info:      info,
		maxWindow: p.cfg.MaxWindow.D(),
		overlap:   p.cfg.Overlap.D().Truncate(info.Precision),
		sweep:     p.cfg.SweepInterval.D(),
		pending:   map[uint64]*Batch{},
	}
	if info.MaxSpan > 0 && (s.maxWindow == 0 || s.maxWindow > info.MaxSpan) {
		s.maxWindow = info.MaxSpan
	}
	if l, ok := p.store.(checkpoint.Locker); ok {
		if err := l.Lock(key); err != nil {
			return nil, &CheckpointError{Where: p.store.Where(key), Err: err}
		}
	}
	b, err := p.store.Load(ctx, key)
	switch {
	case errors.Is(err, checkpoint.ErrNotFound):
		start := p.cfg.Start()
		if start.IsZero() {
			lb := p.cfg.InitialLookback.D()
			if lb == 0 {
				lb = info.DefaultLookback
			}
			start = p.clock.Now().Add(-lb)
		}
		// A checkpoint saves times as Unix nanoseconds, and no audit log
		// predates 1970: a start reaching further back begins there.
		if epoch := time.Unix(0, 0); start.Before(epoch) {
			start = epoch
		} else if start.After(maxStateTime) {
			start = maxStateTime
		}
		s.cursor = start.UTC().Truncate(info.Precision)
		s.final = s.cursor // nothing before the start is wanted
		p.log.Info("no checkpoint: starting fresh", "stream", key, "from", s.cursor.Format(time.RFC3339))
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, checkpoint.ErrCorrupt):
		return nil, &CheckpointError{Where: p.store.Where(key), Err: err}
	case err != nil:
		// Unreachable (a network cache), not corrupt: worth retrying.
		return nil, &TransientError{Op: "loading checkpoint " + p.store.Where(key), Err: err}
	default:
		st, err := decodeState(b, key)
		if err != nil {
			return nil, &CheckpointError{Where: p.store.Where(key), Err: fmt.Errorf("%w; fix or remove it to start over%s", err, fallback(p.store, key))}
		}
		s.restore(st)
		p.log.Info("resuming from checkpoint", "stream", key, "cursor", s.cursor.Format(time.RFC3339))
	}
	s.commitSnap = s.snapshot()
	// Raised, never lowered: the other streams' lag may be worse.
	p.metrics.raiseLag(p.clock.Now().Sub(s.cursor))
	s.updateProgress(p.clock.Now()) // progress is measured against the backlog found at start

	return s, nil
}

// fallback is what store keeps beside a checkpoint that does not decode,
// as a clause of that error; nothing for stores that keep nothing.
func fallback(store checkpoint.Store, key string) string {
	if f, ok := store.(checkpoint.Fallbacker); ok {
		return " (" + f.Fallback(key) + ")"
	}
	return ""
}

// Streams lists the checkpoint keys this poller reads; none while a
// deferred open (Options.DeferOpen) has not succeeded yet.
func (p *Poller) Streams() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.streams))
	for i, s := range p.streams {
		out[i] = s.key
	}
	return out
}

// Metrics returns the counters.
func (p *Poller) Metrics() *Metrics { return p.metrics }

// Next blocks until a batch is ready, ctx ends, or the poll fails. A fatal
// error (see IsFatal) is returned once the host has reported every batch it
// holds (the ones it rejects meanwhile are returned again first), and by
// every later call; other errors mean "reported, will be retried on the
// next call". Once the store's lease is
// lost (a checkpoint.KVStore with a Leaser), every call returns an error
// wrapping checkpoint.ErrLeaseLost: the host closes this poller and waits
// for the stream with a new one.
func (p *Poller) Next(ctx context.Context) (*Batch, error) {
	if err := p.lostLease(); err != nil {
		return nil, err
	}
	b, err := p.next(ctx)
	if b != nil {
		p.mu.Lock()
		b.withHost = true
		p.withHost++
		p.mu.Unlock()
	}
	if err != nil && p.life.Err() != nil {
		return nil, ErrClosed
	}
	if lost := p.lostLease(); err != nil && lost != nil {
		return nil, lost
	}
	return b, err
}

// lostLease is the error Next returns once the store's lease is lost:
// another process reads the stream now, so this one must stop.
func (p *Poller) lostLease() error {
	select {
	case <-p.leaseLost:
		if why := p.leaseWhy(); why != nil {
			return fmt.Errorf("%w: %w", checkpoint.ErrLeaseLost, why)
		}
		return checkpoint.ErrLeaseLost
	default:
		return nil
	}
}

func (p *Poller) next(ctx context.Context) (*Batch, error) {
	p.nextMu.Lock()
	defer p.nextMu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.life, cancel)()
	if p.leaseLost != nil {
		// A lost lease cuts short the request in flight, whose page
		// could not be checkpointed anyway.
		go func() {
			select {
			case <-p.leaseLost:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if p.failed != nil && len(p.redeliver) == 0 {
			if p.withHost == 0 {
				err := p.failed
				p.mu.Unlock()
				return nil, err
			}
			// The pages the host holds still move the checkpoint when it
			// acknowledges them, and one it rejects must be sent again from
			// here, needing no request: left to the next run, it would be
			// read again with every page acknowledged after it. The failure
			// is reported once the host has settled them all.
			p.mu.Unlock()
			if err := p.waitWake(ctx, nil); err != nil {
				return nil, err
			}
			continue
		}
		if err := p.saveErr; err != nil {
			p.saveErr = nil
			p.mu.Unlock()
			return nil, err
		}
		if len(p.redeliver) > 0 {
			b := p.redeliver[0]
			p.redeliver = p.redeliver[1:]
			p.mu.Unlock()
			// Back off a little on repeated nacks so a broken output is not
			// hammered in a tight loop.
			if err := sleepCtx(ctx, min(time.Duration(b.attempts-1)*100*time.Millisecond, 5*time.Second)); err != nil {
				p.Nack(b)
				return nil, err
			}
			return b, nil
		}
		full := p.outstanding >= p.maxOut
		p.mu.Unlock()
		if p.pendingOpen {
			if err := p.retryOpen(ctx); err != nil {
				if IsFatal(err) && ctx.Err() == nil {
					p.mu.Lock()
					p.failed = fmt.Errorf("source %s: %w", p.cfg.Source, err)
					err = p.failed
					p.mu.Unlock()
					p.log.Error("source stopped", "source", p.cfg.Source, "error", err.Error())
					continue // reported once the host has settled the pages it holds
				} else if ctx.Err() == nil {
					p.metrics.Errors.Add(1)
				}
				return nil, err
			}
			continue
		}
		if full {
			if err := p.waitReports(ctx); err != nil {
				return nil, err
			}
			continue
		}
		if len(p.tenants) > 0 {
			p.rebalance()
			if err := p.openTenants(ctx); err != nil {
				return nil, err
			}
		}

		now := p.clock.Now()
		s := p.pick(now)
		wait := time.Hour // no stream yet: only tenants waiting to open
		if s != nil {
			wait = s.dueAt(now).Sub(now)
		}
		if s == nil || wait > 0 {
			// The earliest stream is not due: every stream has read up to
			// now − settle_delay and waits for its next poll.
			if at := p.nextTenantOpen(); !at.IsZero() {
				wait = min(wait, max(time.Until(at), time.Millisecond))
			}
			p.caughtUp.Store(p.allCaughtUp())
			timer := time.NewTimer(wait)
			err := p.waitWake(ctx, timer.C)
			p.caughtUp.Store(false)
			timer.Stop()
			if err != nil {
				return nil, err
			}
			continue
		}
		b, err := s.step(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if s.tenant != nil {
				if IsFatal(err) {
					p.metrics.Errors.Add(1)
					return nil, p.isolate(s, err)
				}
				wait, report := p.tenantBackoff(s, err)
				s.retryAt = time.Now().Add(wait)
				s.replanUnread(p.clock.Now())
				if !report {
					p.metrics.Retries.Add(1)
					continue
				}
				p.metrics.Errors.Add(1)
				return nil, fmt.Errorf("stream %s: %w", s.key, err)
			}
			p.metrics.Errors.Add(1)
			if IsFatal(err) {
				p.mu.Lock()
				p.failed = fmt.Errorf("stream %s stopped: %w", s.key, err)
				err = p.failed
				p.mu.Unlock()
				p.log.Error("stream stopped; the checkpoint stays where delivery ended", "stream", s.key, "error", err.Error())
				continue // reported once the host has settled the pages it holds
			}
			s.retryAt = time.Now().Add(min(p.cfg.PollInterval.D(), p.cfg.Retry.MaxBackoff.D()))
			s.replanUnread(p.clock.Now())
			return nil, fmt.Errorf("stream %s: %w", s.key, err)
		}
		if s.tenant != nil {
			p.resumed(s)
		}
		if b != nil {
			return b, nil
		}
	}
}

// CaughtUp reports whether a Next call is waiting right now with every
// stream read up to now − settle_delay: none in the middle of a window or
// waiting to retry, no tenant waiting to open. It is false while Next reads,
// however long a read takes (retries, a Retry-After, the budget), and once
// Next has returned. "Run once" modes and tests watch it during a Next call
// instead of taking a quiet period for the end, which a slow machine or a
// slow vendor would break; it is a snapshot, not a promise.
func (p *Poller) CaughtUp() bool { return p.caughtUp.Load() }

// allCaughtUp is CaughtUp's test, made when Next is about to wait. Streams
// and tenants stopped by an error a person must fix are not waiting for
// data but for tenant_retry, and a tenant being handed over reads no more:
// none of them holds the poller back.
func (p *Poller) allCaughtUp() bool {
	now := time.Now()
	for _, s := range p.streams {
		if s.stopped || (s.tenant != nil && !s.tenant.leaveBy.IsZero()) {
			continue
		}
		if s.win != nil || s.retryAt.After(now) {
			return false
		}
	}
	for _, t := range p.tenants {
		if t.mine && !t.opened && t.down == 0 {
			return false
		}
	}
	return len(p.streams) > 0 || len(p.tenants) > 0
}

// ErrClosed is returned by Next after Close. It is fatal (IsFatal): a host
// loop that sees it must end, not retry.
var ErrClosed = errors.New("auditpull: poller closed")

// pick chooses the stream to step: among those due, a live one before one
// reading history, so that a long backfill of one stream (a tenant added
// with its history) never delays the live polls of the others, whose
// budget priority alone cannot help within one poll loop; else the one due
// first. Ties go round-robin so that no stream starves when many are
// behind.
func (p *Poller) pick(now time.Time) *stream {
	best := -1
	var bestDue time.Time
	var bestLive bool
	n := len(p.streams)
	if n == 0 {
		return nil // tenants that have not opened yet
	}
	for i := 0; i < n; i++ {
		j := (p.rr + i) % n
		s := p.streams[j]
		if s.tenant != nil && !s.tenant.leaveBy.IsZero() {
			continue // being handed over: no new pages
		}
		d, live := s.dueAt(now), !s.backfilling()
		switch {
		case best < 0:
		case !d.After(now) && !bestDue.After(now) && live != bestLive:
			if !live {
				continue
			}
		case !d.Before(bestDue):
			continue
		}
		best, bestDue, bestLive = j, d, live
	}
	if best < 0 {
		return nil
	}
	p.rr = (best + 1) % n
	return p.streams[best]
}

func (p *Poller) waitWake(ctx context.Context, timer <-chan time.Time) error {
	select {
	case <-p.wake:
		return nil
	case <-timer:
		return nil
	case <-p.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	case <-p.shareChanged():
		return nil
	}
}

// waitReports waits for the host to report a batch while it holds
// max_undelivered_pages of them. A host that reports none for stallAfter
// is stuck, or waits for more events than it can be given (an output
// batching more than the read-ahead holds, with no period, never writes,
// and never acks): said once per stall, since reading cannot go on by
// itself.
func (p *Poller) waitReports(ctx context.Context) error {
	p.mu.Lock()
	reports := p.reports
	p.mu.Unlock()
	if p.stallSince.IsZero() || reports != p.stallReports {
		p.stallSince, p.stallReports, p.stallWarned = time.Now(), reports, false
	}
	var timer <-chan time.Time
	if !p.stallWarned {
		t := time.NewTimer(time.Until(p.stallSince.Add(p.stallAfter)))
		defer t.Stop()
		timer = t.C
	}
	if err := p.waitWake(ctx, timer); err != nil {
		return err
	}
	p.mu.Lock()
	reports = p.reports
	p.mu.Unlock()
	if !p.stallWarned && reports == p.stallReports && time.Since(p.stallSince) >= p.stallAfter {
		p.stallWarned = true
		p.log.Warn("reading is paused: the host holds max_undelivered_pages pages and has reported none for "+p.stallAfter.String()+
			" (its outputs fail or hang, or wait for more events than max_undelivered_pages × page_size before they write, "+
			"as a Benthos batching count with no period does)",
			"max_undelivered_pages", p.maxOut)
	}
	return nil
}

// WaitReported blocks until the host has reported the fate (Ack, Nack or
// Release) of every batch Next returned, or ctx ends. A host whose poller
// failed for good (a revoked token) waits for it before Close, so that the
// pages already in its outputs still move the checkpoint. One caller at a
// time.
func (p *Poller) WaitReported(ctx context.Context) error {
	for {
		p.mu.Lock()
		n := p.withHost
		p.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-p.reported:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// reportedLocked notes that the host reported b's fate. The caller holds
// p.mu.
func (p *Poller) reportedLocked(b *Batch) {
	p.reports++
	if b.withHost {
		b.withHost = false
		p.withHost--
		p.signal(p.reported)
	}
}

// shareChanged wakes a waiting Next when the replicas' view changes; nil
// (never) without a Share.
func (p *Poller) shareChanged() <-chan struct{} {
	if p.share == nil {
		return nil
	}
	return p.share.Changed()
}

func (p *Poller) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Ack reports the batch's fate: nil when the host delivered it, an error to
// have it delivered again.
func (b *Batch) Ack(err error) {
	if err != nil {
		b.p.Nack(b)
		return
	}
	b.p.ack(b)
}

// Release forgets b without delivering it: its slot is freed but the
// checkpoint never moves past it, so a restart reads it again. Dry runs
// (a host's "test" mode) release what they only displayed.
func (b *Batch) Release() {
	p := b.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if b.done || b.released {
		return
	}
	b.released = true
	p.freeSlot(b)
	p.reportedLocked(b)
	p.signal(p.wake)
}

// Handed tells the poller that the host holds b's events but has not made
// them durable yet: b's read-ahead slot (max_undelivered_pages) is freed so
// polling goes on, while the checkpoint still waits for Ack. For hosts that
// take records into a volatile buffer first (Fluent Bit's ring buffer of a
// threaded input): holding the slot until then would halve their
// throughput, moving the checkpoint would lose the records in a crash.
func (b *Batch) Handed() {
	p := b.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if b.done || b.released {
		return
	}
	p.freeSlot(b)
	p.reports++ // progress for waitReports; its fate is still to come
	p.signal(p.wake)
}

// freeSlot gives b's read-ahead slot back, once. The caller holds p.mu.
func (p *Poller) freeSlot(b *Batch) {
	if !b.handed && len(b.Events) > 0 {
		p.outstanding--
	}
	b.handed = true
}

// Nack puts b back to be returned by Next again, ahead of new pages.
func (p *Poller) Nack(b *Batch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b.done || b.released {
		return
	}
	b.attempts++
	p.reportedLocked(b)
	if b.handed && len(b.Events) > 0 {
		// Back in auditpull's hands: it holds a slot again until handed.
		p.outstanding++
	}
	b.handed = false
	p.metrics.Redeliveries.Add(1)
	p.redeliver = append(p.redeliver, b)
	p.signal(p.wake)
}

func (p *Poller) ack(b *Batch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b.done || b.released {
		return
	}
	p.freeSlot(b)
	p.reportedLocked(b)
	b.done = true
	p.metrics.EventsAcked.Add(int64(len(b.Events)))
	s := b.s
	advanced := false
	for {
		nb, ok := s.pending[s.committed+1]
		if !ok || !nb.done {
			break
		}
		delete(s.pending, s.committed+1)
		s.committed++
		s.commitSnap = nb.snap
		advanced = true
	}
	if advanced && !s.detached {
		p.dirty[s] = true
		p.metrics.setLag(p.clock.Now().Sub(p.oldestCommit()))
		p.signal(p.saveKick)
	}
	p.signal(p.wake)
}

// oldestCommit is the least advanced committed position of the streams
// read here, so that lag_seconds shows a tenant that is stuck, not the
// stream that happened to commit last. The caller holds p.mu.
func (p *Poller) oldestCommit() time.Time {
	var oldest time.Time
	for _, s := range p.streams {
		if c := s.commitSnap.cursor; oldest.IsZero() || c.Before(oldest) {
			oldest = c
		}
	}
	return oldest
}

// saver writes committed checkpoints in the background, coalescing bursts
// of acks into one write per stream, so acks never wait for a disk.
func (p *Poller) saver() {
	defer p.saverWG.Done()
	for {
		select {
		case <-p.saveKick:
			_ = p.flush(context.Background()) // logged, and retried at the next ack
		case <-p.stop:
			return
		}
	}
}

// Flush writes the committed checkpoints now, before returning, instead of
// leaving them to the background saver. For hosts whose ack means the
// events have already left auditpull (Fluent Bit appends a collect to its
// chunk before its cleanup callback; Telegraf reports a page once every
// output has written it): a crash right after the ack then re-delivers
// nothing. A save is a journal line, about 3 µs; a stream's save is made
// durable (an fsync, about 0.25 ms here; every eighth a rewrite of the
// file, about 1 ms) at most once per checkpoint.sync_interval, so a Flush
// over many streams that save less often than that makes each durable.
func (p *Poller) Flush(ctx context.Context) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil // Close writes the last checkpoint
	}
	return p.flush(ctx)
}

func (p *Poller) flush(ctx context.Context) error {
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	if p.storeClosed {
		return nil
	}
	p.mu.Lock()
	var work []*stream
	var snaps []*snapshot
	for s := range p.dirty {
		work = append(work, s)
		snaps = append(snaps, s.commitSnap)
	}
	clear(p.dirty)
	p.mu.Unlock()
	var first error
	for i, s := range work {
		if ok, retry := p.mayWrite(s); !ok {
			if retry {
				p.mu.Lock()
				p.dirty[s] = true // written at the next ack, once the lease is confirmed again
				p.mu.Unlock()
			}
			continue
		}
		data := s.encode(snaps[i], p.clock.Now())
		save := func() error { return p.store.Save(ctx, s.key, data) }
		var err error
		if p.share != nil && s.tenant != nil {
			err = p.share.Write(s.tenant.key, save)
			if errors.Is(err, checkpoint.ErrLeaseLost) {
				continue // lost since mayWrite: its new reader owns the checkpoint
			}
		} else {
			err = save()
		}
		if err != nil {
			err = &CheckpointError{Where: p.store.Where(s.key), Err: fmt.Errorf("save failed: %w", err)}
			p.log.Error("checkpoint not saved; events since the last save will be re-read after a restart", "stream", s.key, "error", err.Error())
			p.metrics.Errors.Add(1)
			p.mu.Lock()
			p.dirty[s] = true // try again with the next ack
			p.saveErr = fmt.Errorf("%w", transientCheckpoint{err})
			p.mu.Unlock()
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// transientCheckpoint keeps a failed save from being treated as fatal: the
// stream goes on and the next ack retries the write.
type transientCheckpoint struct{ err error }

func (t transientCheckpoint) Error() string { return t.err.Error() }

// Close stops polling and writes the last committed checkpoint. Batches
// not acked by then are re-read after a restart.
func (p *Poller) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.end()
	close(p.stop)
	// Wait for a Next in progress to notice, so no batch is created after
	// the final checkpoint is written.
	p.nextMu.Lock()
	defer p.nextMu.Unlock()
	p.saverWG.Wait()
	err := p.flush(ctx)
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	p.storeClosed = true
	if cerr := p.store.Close(); err == nil {
		err = cerr
	}
	if p.share != nil {
		p.share.Close() // after the last write: the leases go back now
	}
	return err
}

func (p *Poller) newBatch(s *stream, events []Event) *Batch {
	p.normalize(s.info.Source, events)
	p.mu.Lock()
	defer p.mu.Unlock()
	s.seq++
	b := &Batch{Events: events, Stream: s.key, Source: s.info.Source, p: p, s: s, seq: s.seq, snap: s.snapshot()}
	s.pending[b.seq] = b
	if len(events) > 0 {
		p.outstanding++
		p.metrics.Pages.Add(1)
		p.metrics.Events.Add(int64(len(events)))
	}
	return b
}

// normalize replaces each event's Raw by its rendering in the configured
// format. The renderings share one buffer: one allocation per page.
func (p *Poller) normalize(source string, events []Event) {
	f := normalize.Format(p.cfg.Format)
	if f == normalize.Raw || f == "" || len(events) == 0 {
		return
	}
	size := 0
	for i := range events {
		size += 2*len(events[i].Raw) + 512
	}
	buf := make([]byte, 0, size)
	ends := make([]int, len(events))
	unmapped := 0
	for i := range events {
		e := &events[i]
		ne := normalize.Event{Source: source, ID: e.ID, Time: e.Time, Type: e.Type, Action: e.Action, Raw: e.Raw}
		var mapped bool
		buf, mapped = normalize.Append(buf, f, &ne)
		ends[i] = len(buf)
		if !mapped {
			unmapped++
		}
	}
	start := 0
	for i := range events {
		events[i].Raw = buf[start:ends[i]:ends[i]]
		start = ends[i]
	}
	p.metrics.UnmappedEvents.Add(int64(unmapped))
}

// encode renders a snapshot as the versioned checkpoint JSON.
func (s *stream) encode(sn *snapshot, now time.Time) []byte {
	st := checkpointState{
		Stream:    s.key,
		Cursor:    sn.cursor,
		Final:     sn.final,
		HighWater: sn.highWater,
		Window:    sn.window,
		Updated:   now.UTC(),
	}
	st.Seen = sn.seen.records()
	return encodeState(&st)
}
