package core

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/auditpull/auditpull/core/checkpoint"
)

// ErrReconnect is Reader.Next's answer when it has no session: none was
// opened, or the last one ended (its lease was lost to another process, a
// failure a person must fix stopped it, or Close). The host connects again.
var ErrReconnect = errors.New("auditpull: not connected")

// ReaderOptions are what a Reader needs from its host.
type ReaderOptions struct {
	Logger Logger
	// FatalRetry is how long the host waits before it calls Connect again
	// after a failure a person must fix; the log says it.
	FatalRetry time.Duration
	// CloseTimeout bounds a session's final checkpoint write; 0 means 10s.
	CloseTimeout time.Duration
}

// Reader keeps a Poller open for hosts that pull batches and reconnect
// when told to (Benthos: Connect, ReadBatch, Close). A session is one
// poller's life, from Connect until Close, a lost lease, or a failure a
// person must fix.
//
// A failure reaches Next only once the host has settled every page the
// session handed out (Poller.Next waits for that: a token revoked mid-run
// must not have the next session deliver again the pages that were in the
// output), so the session ends at once, with a checkpoint that covers
// them. A session that lost its lease ends at once too: its checkpoint is
// another process's now, and its unacknowledged pages are that process's
// to read again.
//
// Connect and Next are called from one goroutine, Close from any.
type Reader struct {
	open func(ctx context.Context) (*Poller, error)
	log  Logger
	opts ReaderOptions

	mu     sync.Mutex
	sess   *Poller
	fatal  error // ended the last session; Connect reports it once
	closed bool
}

// NewReader returns a Reader whose sessions run the pollers open returns.
// With leases, open blocks until this process holds the stream.
func NewReader(open func(ctx context.Context) (*Poller, error), opts ReaderOptions) *Reader {
	if opts.Logger == nil {
		opts.Logger = NopLogger{}
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = 10 * time.Second
	}
	return &Reader{open: open, log: opts.Logger, opts: opts}
}

// Connect opens a session unless one is open. It returns ErrClosed after
// Close; the failure a person must fix that ended the last session, once
// (the host waits FatalRetry before calling again); or open's error, logged
// when it is such a failure.
func (r *Reader) Connect(ctx context.Context) error {
	r.mu.Lock()
	sess, fatal, closed := r.sess, r.fatal, r.closed
	r.fatal = nil
	r.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case sess != nil:
		return nil
	case fatal != nil:
		return fatal
	}
	p, err := r.open(ctx)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return ctx.Err()
	case IsFatal(err):
		r.log.Error("cannot start reading; fix the cause, the input retries every "+r.opts.FatalRetry.String(), "error", err.Error())
		return err
	default:
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		go r.end(p)
		return ErrClosed
	}
	r.sess = p
	return nil
}

// Next returns the session's next batch. It returns ErrReconnect when there
// is no session or it has just ended, and a transient error as the poller
// does (already retried; the poller waits before polling again).
func (r *Reader) Next(ctx context.Context) (*Batch, error) {
	r.mu.Lock()
	sess := r.sess
	r.mu.Unlock()
	if sess == nil {
		return nil, ErrReconnect
	}
	b, err := sess.Next(ctx)
	switch {
	case err == nil:
		return b, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, ErrClosed):
		// The session was ended (Close, or a lost lease) while reading.
		return nil, ErrReconnect
	case errors.Is(err, checkpoint.ErrLeaseLost):
		// Another process owns the stream now: stop reading; the next
		// Connect waits to take it back when it goes away.
		r.drop(sess, nil)
		return nil, ErrReconnect
	case IsFatal(err):
		r.log.Error("stream stopped: a person must fix the cause; the checkpoint stays where delivery ended, and the input retries every "+r.opts.FatalRetry.String(), "error", err.Error())
		r.drop(sess, err)
		return nil, ErrReconnect
	}
	return nil, err
}

// drop ends sess if it is still the current one; fatal, if set, is reported
// by the next Connect.
func (r *Reader) drop(sess *Poller, fatal error) {
	r.mu.Lock()
	current := r.sess == sess
	if current {
		r.sess, r.fatal = nil, fatal
	}
	r.mu.Unlock()
	if current {
		r.end(sess)
	}
}

// end writes the session's last committed checkpoint and gives up its
// leases.
func (r *Reader) end(s *Poller) {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.CloseTimeout)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		r.log.Warn("closing the poller", "error", err.Error())
	}
}

// Close ends the session, writing the checkpoint of every page
// acknowledged so far, and makes later Connects return ErrClosed.
func (r *Reader) Close() {
	r.mu.Lock()
	sess := r.sess
	r.closed, r.sess = true, nil
	r.mu.Unlock()
	if sess != nil {
		r.end(sess)
	}
}
