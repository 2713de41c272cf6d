package benthos

import (
	"context"

	"github.com/auditpull/auditpull/core"
)

// session is one poller's life in the input, from Connect until Close, a
// lost lease or a failure a person must fix.
type session struct {
	*core.Poller
	// stop ends a retired session's wait for its pages (Close); ended is
	// closed once the session's poller has written its last checkpoint.
	stop, ended chan struct{}
}

func newSession(p *core.Poller) *session {
	return &session{Poller: p, stop: make(chan struct{}), ended: make(chan struct{})}
}

// retire ends the session once Benthos has acknowledged or rejected every
// page it handed out, or when stop is closed, and then closes ended. Until
// then its poller reads nothing more but still takes those pages'
// acknowledgements and saves the checkpoint over them: a failure (a token
// revoked mid-run) must not have the next session deliver again the pages
// already in the output.
func (s *session) retire(end func(*session)) {
	go func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		_ = s.WaitReported(ctx) // ends early only by stop
		end(s)
		close(s.ended)
	}()
}
