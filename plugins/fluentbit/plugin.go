package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/auditpull/auditpull/core"
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

// handout is one buffer Fluent Bit holds: the batches it carries are acked
// when Fluent Bit gives it back (cleanup callback), which it does right after
// appending it to the input's chunk.
type handout struct {
	in      *instance
	batches []*core.Batch
}

// ready is a batch already encoded as Fluent Bit records.
type ready struct {
	b    *core.Batch
	data []byte
}

// instance is one [INPUT] section of the plugin: a poller, the goroutine
// that drives it, and the encoded batches waiting for Fluent Bit's callback.
type instance struct {
	id     uintptr
	name   string
	tid    uint64 // the Fluent Bit thread that initialised the instance
	log    *logger
	poller *core.Poller
	budget int
	queue  chan ready
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	stopped bool
	carry   *ready               // did not fit the previous callback's budget
	handed  map[uintptr]*handout // given to Fluent Bit, not given back yet
}

// start parses one instance's configuration, opens its poller and starts
// polling. get reads a property; level is the instance's log level; tid
// identifies the calling thread.
func (r *registry) start(get func(string) string, level int, tid uint64) (*instance, error) {
	r.mu.Lock()
	name := fmt.Sprintf("auditpull.%d", r.ordinal)
	r.ordinal++
	r.mu.Unlock()
	log := newLogger(name, level)

	m, budget, err := readConfig(get)
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
	// DeferOpen: Fluent Bit calls init on its main thread, and a vendor that
	// is down must not hold up the whole pipeline's start.
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
		budget: budget,
		queue:  make(chan ready, cfg.MaxUndeliveredPages),
		cancel: cancel,
		done:   make(chan struct{}),
		handed: map[uintptr]*handout{},
	}
	r.mu.Lock()
	r.nextID++
	in.id = r.nextID
	r.insts[in.id] = in
	r.mu.Unlock()
	go in.poll(ctx)
	log.Info("started", "source", cfg.Source, "streams", fmt.Sprint(p.Streams()), "poll_interval", cfg.PollInterval.D().String())
	return in, nil
}

// poll runs the core: Next blocks until a page is ready; the page is encoded
// here, off Fluent Bit's thread, and queued for the callback.
func (in *instance) poll(ctx context.Context) {
	defer close(in.done)
	for {
		b, err := in.poller.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if core.IsFatal(err) {
				in.log.Error("polling stopped: "+err.Error()+"; fix the configuration or credentials and restart Fluent Bit (the checkpoint keeps what was delivered)", "streams", fmt.Sprint(in.poller.Streams()))
				return
			}
			in.log.Warn("poll failed; retrying: " + err.Error())
			continue
		}
		if len(b.Events) == 0 {
			b.Ack(nil)
			continue
		}
		e := ready{b: b, data: appendBatch(nil, b, in.log)}
		select {
		case in.queue <- e:
		case <-ctx.Done():
			return
		}
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
	for total < in.budget {
		select {
		case e := <-in.queue:
			if total > 0 && total+len(e.data) > in.budget {
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

// settle acks buffers Fluent Bit took without calling the cleanup callback
// (hosts without one free the buffer themselves right after appending it).
// Fluent Bit calls collect, append and cleanup of one instance in sequence on
// the instance's thread, so a buffer still listed when the next collect (or
// exit, on the same thread) arrives was taken. The caller holds in.mu.
func (r *registry) settle(in *instance) {
	if len(in.handed) == 0 {
		return
	}
	r.mu.Lock()
	var acks []*core.Batch
	for addr, h := range in.handed {
		delete(r.buffers, addr)
		acks = append(acks, h.batches...)
	}
	r.mu.Unlock()
	clear(in.handed)
	for _, b := range acks {
		b.Ack(nil)
	}
	in.saveAcks()
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
	in.handed[addr] = h
}

// release is the cleanup callback: Fluent Bit has appended the buffer at addr
// to its chunk, so its batches are delivered. It reports whether addr was a
// buffer of this plugin (the caller frees it only then).
func (r *registry) release(addr uintptr) bool {
	r.mu.Lock()
	h, ok := r.buffers[addr]
	delete(r.buffers, addr)
	r.mu.Unlock()
	if !ok {
		return false
	}
	h.in.mu.Lock()
	delete(h.in.handed, addr)
	h.in.mu.Unlock()
	for _, b := range h.batches {
		b.Ack(nil)
	}
	h.in.saveAcks()
	return true
}

// saveAcks writes the checkpoint before the callback returns: Fluent Bit
// has the records in its chunk already, so a crash before the background
// save would deliver the whole collect again. A save is a journal line;
// a failed one is logged by the core and retried at the next ack.
func (in *instance) saveAcks() {
	in.poller.Flush(context.Background())
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

// exit stops the instances initialised on thread tid; Fluent Bit calls
// FLBPluginExit once per instance, from the instance's thread, without
// saying which. A call from any other thread stops every instance.
func (r *registry) exit(tid uint64) {
	r.mu.Lock()
	var mine, all []*instance
	for _, in := range r.insts {
		all = append(all, in)
		if in.tid == tid {
			mine = append(mine, in)
		}
	}
	stop := mine
	if len(stop) == 0 {
		stop = all
	}
	for _, in := range stop {
		delete(r.insts, in.id)
	}
	if len(r.insts) == 0 {
		r.ordinal = 0
	}
	r.mu.Unlock()

	var wg sync.WaitGroup
	for _, in := range stop {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.stop(in, in.tid == tid)
		}()
	}
	wg.Wait()
}

// stop ends polling and writes the checkpoint of everything Fluent Bit has
// taken. Batches still queued are not acked: they are read again after a
// restart. sameThread says Fluent Bit has finished with every buffer it got.
func (r *registry) stop(in *instance, sameThread bool) {
	in.mu.Lock()
	if in.stopped {
		in.mu.Unlock()
		return
	}
	in.stopped = true
	if sameThread {
		r.settle(in)
	}
	in.mu.Unlock()

	in.cancel()
	<-in.done
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := in.poller.Close(ctx); err != nil {
		in.log.Error("checkpoint not written at exit: " + err.Error())
	}
	s := in.poller.Metrics().Snapshot()
	in.log.Info("stopped", "events", s["events"], "pages", s["pages"], "requests", s["requests"], "errors", s["errors"])
}
