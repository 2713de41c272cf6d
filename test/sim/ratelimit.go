package sim

import (
	"sync"
	"time"
)

// RateLimiter allows at most limit requests per client in any sliding
// window of the given length. A sliding log (not a fixed window or a token
// bucket) is the strictest reading of "N requests per 5 minutes": a client
// that bursts at a window boundary is still caught, so a client that passes
// here passes any looser real gateway. It is safe for concurrent use.
type RateLimiter struct {
	limit  int
	window time.Duration
	clock  Clock

	mu        sync.Mutex
	clients   map[string]*slidingLog
	throttled int
}

// slidingLog is a ring of the admission times of one client's requests
// still inside the window.
type slidingLog struct {
	at   []int64 // Unix nanoseconds, ring of capacity limit
	head int
	n    int
}

// NewRateLimiter returns a limiter of limit requests per window per client.
// A limit <= 0 admits everything.
func NewRateLimiter(limit int, window time.Duration, clock Clock) *RateLimiter {
	if clock == nil {
		clock = RealClock{}
	}
	return &RateLimiter{limit: limit, window: window, clock: clock, clients: map[string]*slidingLog{}}
}

// Allow admits one request of client, or refuses it and says how long until
// a slot frees. Refused requests do not take a slot: a client that keeps
// hammering is let in as soon as its old requests age out.
func (l *RateLimiter) Allow(client string) (ok bool, retryAfter time.Duration) {
	if l == nil || l.limit <= 0 {
		return true, 0
	}
	now := l.clock.Now().UnixNano()
	win := int64(l.window)
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[client]
	if c == nil {
		c = &slidingLog{at: make([]int64, l.limit)}
		l.clients[client] = c
	}
	for c.n > 0 && c.at[c.head] <= now-win {
		c.head = (c.head + 1) % l.limit
		c.n--
	}
	if c.n < l.limit {
		c.at[(c.head+c.n)%l.limit] = now
		c.n++
		return true, 0
	}
	l.throttled++
	return false, time.Duration(c.at[c.head] + win - now)
}

// Throttled returns how many requests the limiter refused.
func (l *RateLimiter) Throttled() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.throttled
}

// retryAfterSeconds renders a wait as a Retry-After value: whole seconds,
// rounded up so a client that obeys it is never early, and at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
