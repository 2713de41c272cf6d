package benthos

import (
	"sync"
	"time"

	"github.com/auditpull/auditpull/core"
)

// session is one poller's life in the input, from Connect until Close, a
// lost lease or a failure a person must fix, with the count of pages it
// handed to Benthos whose fate Benthos has not yet reported.
type session struct {
	*core.Poller

	mu       sync.Mutex
	inflight int    // pages read and not yet acknowledged or rejected
	acks     uint64 // fates reported so far, to tell a stall from slow progress
	// settled is closed once the session retires and inflight is 0.
	settled              chan struct{}
	retiring, wasSettled bool
	// stop ends a retired session's wait for its pages (Close); ended is
	// closed once the session's poller has written its last checkpoint.
	stop, ended chan struct{}
}

func newSession(p *core.Poller) *session {
	return &session{Poller: p, settled: make(chan struct{}), stop: make(chan struct{}), ended: make(chan struct{})}
}

func (s *session) handed() {
	s.mu.Lock()
	s.inflight++
	s.mu.Unlock()
}

// reported is called once per page, after the page's Ack reached the core.
func (s *session) reported() {
	s.mu.Lock()
	s.inflight--
	s.acks++
	s.settleLocked()
	s.mu.Unlock()
}

func (s *session) settleLocked() {
	if s.retiring && s.inflight == 0 && !s.wasSettled {
		s.wasSettled = true
		close(s.settled)
	}
}

// retire ends the session once every page it handed out has been
// acknowledged or rejected, or when stop is closed, and then closes ended.
// Until then its poller reads nothing more but still takes those pages'
// acknowledgements and saves the checkpoint over them: a failure (a token
// revoked mid-run) must not have the next session deliver again the pages
// already in the output.
func (s *session) retire(end func(*session)) {
	s.mu.Lock()
	s.retiring = true
	s.settleLocked()
	s.mu.Unlock()
	go func() {
		select {
		case <-s.settled:
		case <-s.stop:
		}
		end(s)
		close(s.ended)
	}()
}

// stallWarnAfter is how long a read waits with max_undelivered_pages pages
// in the output and no acknowledgement before the input says why.
var stallWarnAfter = time.Minute

// watchStall warns once if this read, which starts with the read-ahead
// full, sees no page acknowledged or rejected for after. The usual cause is
// an output whose batching count exceeds what the read-ahead holds, with no
// period: the output waits for more messages and the input for acks, for
// ever. stop ends the watch.
func (s *session) watchStall(after time.Duration, maxPages int, log logger) (stop func() bool) {
	s.mu.Lock()
	full, acks := s.inflight >= maxPages, s.acks
	s.mu.Unlock()
	if !full || after <= 0 {
		return func() bool { return false }
	}
	t := time.AfterFunc(after, func() {
		s.mu.Lock()
		stalled := s.acks == acks
		s.mu.Unlock()
		if stalled {
			log.Warn("reading is paused: max_undelivered_pages pages are in the output and none was acknowledged for "+after.String()+
				"; an output batching policy with a count above max_undelivered_pages × page_size and no period never flushes: give it a period, or raise max_undelivered_pages",
				"max_undelivered_pages", maxPages)
		}
	})
	return t.Stop
}
