package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/internal/fbrecord"
)

// closeTimeout bounds the final checkpoint write at exit.
const closeTimeout = 10 * time.Second

// registry holds every running instance and every buffer handed to Fluent
// Bit. Fluent Bit runs each instance in a thread of its own and calls the
// plugin from those threads concurrently, so everything here is locked.
//
// Lock order: instance.mu before registry.mu.
type registry struct {
	mu      sync.Mutex
	ordinal int     // instances started since the last full exit
	nextID  uintptr // handles given to Fluent Bit as remote_context
	insts   map[uintptr]*instance
	buffers map[uintptr]*handout // C buffers by address
}

func newRegistry() *registry {
	return &registry{insts: map[uintptr]*instance{}, buffers: map[uintptr]*handout{}}
}

// handout is one buffer given to Fluent Bit. When Fluent Bit gives it back
// (cleanup callback, right after appending it) its records are in the
// instance's ring buffer, not yet in a chunk: its batches are acked — and
// the checkpoint moves — only once the engine has had commit_delay to move
// them (see instance.commit).
type handout struct {
	in      *instance
	batches []*core.Batch
	back    time.Time // when Fluent Bit had appended it
}

// ready is a batch already encoded as Fluent Bit records.
type ready struct {
	b    *core.Batch
	data []byte
}

// instance is one [INPUT] section of the plugin: a poller, the goroutine
// that drives it, and the encoded batches waiting for Fluent Bit's callback.
type instance struct {
	id      uintptr
	name    string
	tid     uint64 // the Fluent Bit thread that initialised the instance
	log     *logger
	metrics *hostMetrics // nil: the host offers no metrics API
	poller  *core.Poller
	opts    pluginOptions
	queue   chan ready
	cancel  context.CancelFunc
	done    chan struct{}

	mu       sync.Mutex
	stopped  bool
	carry    *ready     // did not fit the previous callback's budget
	appended []*handout // given back, in order: waiting for commit_delay
	paused   bool       // FLBPluginInputPause: the ring buffer may not drain
	resumed  time.Time
}

// host is what Fluent Bit offers an instance at init.
type host struct {
	level   int                         // the instance's log_level
	print   func(level int, msg string) // Fluent Bit's logger; nil: stderr
	metrics func(name string, m *core.Metrics) *hostMetrics
}

// start parses one instance's configuration, opens its poller and starts
// polling. get reads a property; tid identifies the calling thread.
func (r *registry) start(get func(string) string, h host, tid uint64) (_ *instance, err error) {
	r.mu.Lock()
	name := fmt.Sprintf("auditpull.%d", r.ordinal)
	r.ordinal++
	r.mu.Unlock()
	log := newLogger(name, h.level, h.print)
	defer func() {
		if err != nil {
			log.flush() // init's caller flushes a started instance's lines
		}
	}()

	m, opts, err := readConfig(get)
	if err != nil {
		log.Error("invalid configuration: " + err.Error())
		return nil, err
	}
	cfg, err := core.ParseMap(m)
	if err != nil {
		log.Error("invalid configuration: " + err.Error())
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	// DeferOpen: Fluent Bit's main thread waits for each input's init, so
	// a vendor that is down must not hold up the whole pipeline's start.
	p, err := core.NewPoller(ctx, cfg, core.Options{Logger: log, DeferOpen: true})
	if err != nil {
		cancel()
		log.Error("cannot start: " + err.Error())
		return nil, err
	}
	in := &instance{
		name:   name,
		tid:    tid,
		log:    log,
		poller: p,
		opts:   opts,
		queue:  make(chan ready, cfg.MaxUndeliveredPages),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	if h.metrics != nil {
		in.metrics = h.metrics(name, p.Metrics())
	}
	if in.metrics == nil && h.print != nil {
		log.Info("this Fluent Bit offers no metrics API to Go inputs; the counters are logged when the input stops")
	}
	r.mu.Lock()
	r.nextID++
	in.id = r.nextID
	r.insts[in.id] = in
	r.mu.Unlock()
	go in.poll(ctx)
	kv := []any{"source", cfg.Source, "streams", p.Streams()}
	if t := cfg.TenantStreams(); len(t) > 0 {
		// Tenants open after this line, one by one: say how many there are.
		kv[2], kv[3] = "tenants", len(t)
	}
	log.Info("started", append(kv, "poll_interval", cfg.PollInterval.D(), "commit_delay", opts.commitDelay)...)
	return in, nil
}

// deliver encodes a batch, here off Fluent Bit's thread, and queues it for
// the collect callback.
func (in *instance) deliver(ctx context.Context, b *core.Batch) error {
	select {
	case in.queue <- ready{b: b, data: fbrecord.Append(nil, b, in.log)}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// poll runs the core until the instance stops or polling cannot go on.
func (in *instance) poll(ctx context.Context) {
	defer close(in.done)
	err := in.poller.Run(ctx, in.deliver, func(err error) { in.log.Warn("poll failed; retrying: " + err.Error()) })
	if err != nil {
		in.log.Error("polling stopped: "+err.Error()+"; fix the configuration or credentials and restart Fluent Bit (the checkpoint keeps what was delivered)", "streams", in.poller.Streams())
	}
}

// drain takes the batches that are ready, without waiting, up to the byte
// budget (at least one batch, however large). It returns their records and
// total size. The caller holds in.mu.
func (in *instance) drain() (pieces []ready, total int) {
	if in.carry != nil {
		pieces, total = append(pieces, *in.carry), len(in.carry.data)
		in.carry = nil
	}
	for total < in.opts.budget {
		select {
		case e := <-in.queue:
			if total > 0 && total+len(e.data) > in.opts.budget {
				in.carry = &e
				return pieces, total
			}
			pieces = append(pieces, e)
			total += len(e.data)
		default:
			return pieces, total
		}
	}
	return pieces, total
}

// settle counts as appended the buffers Fluent Bit took without calling the
// cleanup callback (hosts without one free the buffer themselves right
// after appending it). Fluent Bit calls collect, append and cleanup of one
// instance in sequence on the instance's thread, so a buffer still listed
// when the next collect (or exit, on the same thread) arrives was taken,
// by now at the latest. The caller holds in.mu.
func (r *registry) settle(in *instance, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for addr, h := range r.buffers {
		if h.in == in {
			delete(r.buffers, addr)
			in.appendedAt(h, now)
		}
	}
}

// appendedAt records that Fluent Bit appended h at t: its pages no longer
// take read-ahead slots, but wait for commit. The caller holds in.mu.
func (in *instance) appendedAt(h *handout, t time.Time) {
	h.back = t
	for _, b := range h.batches {
		b.Handed()
	}
	in.appended = append(in.appended, h)
	in.commitLater()
}

// commitLater commits once commit_delay has passed, from a timer rather
// than the next collect a second later: a crash re-delivers what was
// appended in the last commit_delay, not in the last collect interval.
func (in *instance) commitLater() {
	time.AfterFunc(in.opts.commitDelay+5*time.Millisecond, func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		if !in.stopped {
			in.commit(time.Now())
		}
	})
}

// commit acks the pages Fluent Bit has had time to make durable, and
// writes the checkpoint before returning. Every Go input is a threaded
// input (Fluent Bit 2.0 and later), so an append only copies the records
// into the instance's ring buffer; the engine thread moves ring buffers
// into chunks every 250 ms, and skips an input paused by its buffer limits
// (mem_buf_limit, storage). A page is acked once the input has been
// running (not paused) for commit_delay since its append: a crash before
// that re-delivers it, never loses it. The caller holds in.mu.
func (in *instance) commit(now time.Time) {
	if in.paused || len(in.appended) == 0 {
		return
	}
	n := 0
	for _, h := range in.appended {
		since := h.back
		if in.resumed.After(since) {
			since = in.resumed
		}
		if now.Sub(since) < in.opts.commitDelay {
			break // appended in order: the rest is younger
		}
		for _, b := range h.batches {
			b.Ack(nil)
		}
		n++
	}
	if n == 0 {
		return
	}
	in.appended = append(in.appended[:0], in.appended[n:]...)
	// A save is a journal line; a failed one is logged by the core and
	// retried at the next ack.
	_ = in.poller.Flush(context.Background())
}

// pause and resume follow FLBPluginInputPause / FLBPluginInputResume:
// while the input is paused the engine leaves its ring buffer alone, so
// nothing appended in the last commit_delay may be committed before the
// input has run for commit_delay again. Both come on the instance's thread.
func (in *instance) pause(now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.commit(now)
	in.paused = true
}

func (in *instance) resume(now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.paused, in.resumed = false, now
	if len(in.appended) > 0 {
		in.commitLater()
	}
}

// track records that the buffer at addr now belongs to Fluent Bit. The
// caller holds in.mu.
func (r *registry) track(in *instance, addr uintptr, pieces []ready) {
	h := &handout{in: in, batches: make([]*core.Batch, len(pieces))}
	for i, p := range pieces {
		h.batches[i] = p.b
	}
	r.mu.Lock()
	r.buffers[addr] = h
	r.mu.Unlock()
}

// release is the cleanup callback: Fluent Bit has appended the buffer at
// addr. It reports whether addr was a buffer of this plugin (the caller
// frees it only then).
func (r *registry) release(addr uintptr) bool {
	r.mu.Lock()
	h, ok := r.buffers[addr]
	delete(r.buffers, addr)
	r.mu.Unlock()
	if !ok {
		return false
	}
	h.in.mu.Lock()
	h.in.appendedAt(h, time.Now())
	h.in.mu.Unlock()
	return true
}

// lookup finds the instance of a Ctx callback (by the handle Fluent Bit
// passes back) or of a plain one (by the calling thread; with a single
// instance, that one).
func (r *registry) lookup(handle uintptr, tid uint64) *instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	if handle != 0 {
		return r.insts[handle]
	}
	var only *instance
	for _, in := range r.insts {
		if in.tid == tid {
			return in
		}
		only = in
	}
	if len(r.insts) == 1 {
		return only
	}
	return nil
}

// onThread returns the instances initialised on thread tid, or every
// instance when none was (a callback that names no instance, from a
// thread the plugin does not know: applying it to all is the safe side).
func (r *registry) onThread(tid uint64) []*instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	var mine, all []*instance
	for _, in := range r.insts {
		all = append(all, in)
		if in.tid == tid {
			mine = append(mine, in)
		}
	}
	if len(mine) == 0 {
		return all
	}
	return mine
}

// exit stops the instances initialised on thread tid; Fluent Bit calls
// FLBPluginExit once per instance, from the instance's thread, without
// saying which. A call from any other thread stops every instance.
func (r *registry) exit(tid uint64) {
	stop := r.onThread(tid)
	own := len(stop) > 0 && stop[0].tid == tid
	r.mu.Lock()
	for _, in := range stop {
		delete(r.insts, in.id)
	}
	if len(r.insts) == 0 {
		r.ordinal = 0
	}
	r.mu.Unlock()

	if own {
		// The usual case: on the instance's own thread, so the last
		// metrics and log lines go through Fluent Bit as from a callback.
		for _, in := range stop {
			r.stop(in, true)
			in.log.flush()
		}
		return
	}
	var wg sync.WaitGroup
	for _, in := range stop {
		wg.Go(func() { r.stop(in, false) })
	}
	wg.Wait()
	for _, in := range stop {
		in.log.flush()
	}
}

// stop ends polling and writes the checkpoint of what Fluent Bit has had
// time to make durable. Batches still queued, and those appended within
// commit_delay of the stop (or of a pause: Fluent Bit pauses every input
// when it stops), are not acked: they are read again after a restart.
// sameThread says Fluent Bit has finished with every buffer it got.
func (r *registry) stop(in *instance, sameThread bool) {
	in.mu.Lock()
	if in.stopped {
		in.mu.Unlock()
		return
	}
	in.stopped = true
	now := time.Now()
	if sameThread {
		r.settle(in, now)
	}
	in.commit(now)
	in.mu.Unlock()

	in.cancel()
	<-in.done
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := in.poller.Close(ctx); err != nil {
		in.log.Error("checkpoint not written at exit: " + err.Error())
	}
	in.metrics.sync()
	in.metrics.close()
	s := in.poller.Metrics().Snapshot()
	in.log.Info("stopped", "events", s["events"], "pages", s["pages"], "requests", s["requests"], "errors", s["errors"])
}
