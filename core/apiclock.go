package core

import (
	"net/http"
	"sync/atomic"
	"time"
)

// maxAPIClockBehind bounds how far behind an API's clock is believed to
// be: a Date header days off is a broken proxy, not a clock.
const maxAPIClockBehind = time.Hour

// apiClock estimates how far the clock of the API a poller reads is
// behind this machine's, from the Date header of its answers. Windows end
// settle_delay before the API's "now", not this machine's: an API whose
// clock is behind refuses a window ending in its future (NordPass: 400
// "timestamp_to is in the future"), and stamps events later than this
// machine would, so a window ending by this machine's clock would close
// before they exist. An API whose clock is ahead needs nothing: its events
// simply come in a later window.
type apiClock struct {
	behind atomic.Int64 // nanoseconds, >= 0
}

// observe notes an answer's Date header against received, this machine's
// time when the answer came. Date has whole seconds, truncated, so the
// API's clock read at least Date then: received − Date is at least how far
// it is behind, overstated by under a second plus the answer's latency.
// Overstating is the safe side for both uses (a window ends a little
// earlier; a token is stamped a little earlier).
func (c *apiClock) observe(received time.Time, date string) {
	if c == nil || date == "" {
		return
	}
	t, err := http.ParseTime(date)
	if err != nil {
		return
	}
	b := min(max(received.Sub(t), 0), maxAPIClockBehind)
	c.behind.Store(int64(b))
}

// Behind returns the latest estimate (0 until an answer carried a Date).
func (c *apiClock) Behind() time.Duration {
	if c == nil {
		return 0
	}
	return time.Duration(c.behind.Load())
}
