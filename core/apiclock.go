package core

import (
	"net/http"
	"sync"
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

	mu     sync.Mutex
	recent [apiClockSamples]time.Duration // the last observations, a ring
	n, i   int
}

// apiClockSamples is how many answers the estimate is the least of.
const apiClockSamples = 16

// observe notes an answer's Date header against received, this machine's
// time when the answer came. Date has whole seconds, truncated, so the
// API's clock read at least Date then: received − Date is at least how far
// it is behind, overstated by the fraction of a second Date dropped plus
// the answer's latency. The estimate is the least of the last answers',
// which leaves out most of that fraction: a second overstated made every
// window end up to a second earlier than it had to, and live events that
// much later. It never understates: each sample is at least the truth. A
// clock that falls further behind than the fraction can explain is
// believed at once.
func (c *apiClock) observe(received time.Time, date string) {
	if c == nil || date == "" {
		return
	}
	t, err := http.ParseTime(date)
	if err != nil {
		return
	}
	b := min(max(received.Sub(t), 0), maxAPIClockBehind)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n > 0 && b > time.Duration(c.behind.Load())+time.Second {
		c.n = 0 // the API's clock moved back: older samples understate it
	}
	c.recent[c.i] = b
	c.i = (c.i + 1) % apiClockSamples
	c.n = min(c.n+1, apiClockSamples)
	least := b
	for k := range c.n {
		least = min(least, c.recent[(c.i-1-k+apiClockSamples)%apiClockSamples])
	}
	c.behind.Store(int64(least))
}

// Behind returns the latest estimate (0 until an answer carried a Date).
func (c *apiClock) Behind() time.Duration {
	if c == nil {
		return 0
	}
	return time.Duration(c.behind.Load())
}
