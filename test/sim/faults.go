package sim

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// FaultKind is one way a request to a data endpoint can go wrong.
type FaultKind int

const (
	// FaultLatency delays the request by Fault.Delay, then serves it.
	FaultLatency FaultKind = iota
	// FaultStatus5xx answers Fault.Status (default 503) with a short text body.
	FaultStatus5xx
	// FaultThrottle answers 429 with Retry-After (Fault.RetryAfter, default 1s;
	// none under Readings.OmitRetryAfter), as a gateway does under load
	// regardless of the client's own rate.
	FaultThrottle
	// FaultReset closes the TCP connection without any response.
	FaultReset
	// FaultTruncated serves the real response with its body cut in half. The
	// HTTP message itself is well formed (Content-Length matches), so only a
	// client that checks the JSON notices.
	FaultTruncated
	// FaultInvalidJSON answers 200 application/json with a body that is not
	// JSON, as a misbehaving proxy does.
	FaultInvalidJSON
)

var faultNames = [...]string{"latency", "5xx", "throttle", "reset", "truncated", "invalid-json"}

func (k FaultKind) String() string {
	if k >= 0 && int(k) < len(faultNames) {
		return faultNames[k]
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// Fault is one injected failure.
type Fault struct {
	Kind FaultKind
	// Status is the status of FaultStatus5xx; 0 means 503.
	Status int
	// Delay is the delay of FaultLatency; 0 means 100ms.
	Delay time.Duration
	// RetryAfter is the wait FaultThrottle announces; 0 means 1s.
	RetryAfter time.Duration
}

// AllFaults is one fault of every kind with default settings, for
// Faults.Random.
func AllFaults() []Fault {
	return []Fault{
		{Kind: FaultLatency}, {Kind: FaultStatus5xx}, {Kind: FaultThrottle},
		{Kind: FaultReset}, {Kind: FaultTruncated}, {Kind: FaultInvalidJSON},
	}
}

// invalidJSONBody is what FaultInvalidJSON serves: the kind of page a
// proxy returns, under a JSON content type.
var invalidJSONBody = []byte("<html><body>upstream error</body></html>\x00")

// Faults decides which requests fail and how. Scripted faults (Next) come
// first, in order; random faults (Random) apply when no script is pending.
// It is safe for concurrent use; the zero value injects nothing.
type Faults struct {
	mu       sync.Mutex
	queue    []scripted
	rate     float64
	rnd      *rand.Rand
	kinds    []Fault
	injected map[FaultKind]int

	// omitRetryAfter is the vendor's Readings.OmitRetryAfter, set before
	// the first request.
	omitRetryAfter bool
}

type scripted struct {
	f Fault
	n int
}

// Next makes the next n requests (after those already scripted) fail with f.
func (fs *Faults) Next(n int, f Fault) {
	if n <= 0 {
		return
	}
	fs.mu.Lock()
	fs.queue = append(fs.queue, scripted{f, n})
	fs.mu.Unlock()
}

// Random makes each request fail with probability rate, with a fault drawn
// uniformly from kinds (every kind with defaults if none are given). The
// draws come from a generator seeded with seed, so a sequential client sees
// the same faults on every run. A rate <= 0 turns random faults off.
func (fs *Faults) Random(rate float64, seed int64, kinds ...Fault) {
	if len(kinds) == 0 {
		kinds = AllFaults()
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rate = rate
	fs.kinds = append([]Fault(nil), kinds...)
	fs.rnd = rand.New(rand.NewPCG(uint64(seed), 0x5eed_fa17))
}

// Clear cancels scripted and random faults. Counts are kept.
func (fs *Faults) Clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.queue, fs.rate, fs.rnd, fs.kinds = nil, 0, nil, nil
}

// Injected returns how many faults of each kind were injected so far.
func (fs *Faults) Injected() map[FaultKind]int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make(map[FaultKind]int, len(fs.injected))
	for k, n := range fs.injected {
		out[k] = n
	}
	return out
}

// take returns the fault for the current request, if any, and counts it.
func (fs *Faults) take() (Fault, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var f Fault
	switch {
	case len(fs.queue) > 0:
		f = fs.queue[0].f
		if fs.queue[0].n--; fs.queue[0].n == 0 {
			fs.queue = fs.queue[1:]
		}
	case fs.rnd != nil && fs.rate > 0:
		// Draw both numbers every time so the sequence of faults depends
		// only on the seed and the number of requests.
		hit, pick := fs.rnd.Float64(), fs.rnd.IntN(len(fs.kinds))
		if hit >= fs.rate {
			return Fault{}, false
		}
		f = fs.kinds[pick]
	default:
		return Fault{}, false
	}
	if fs.injected == nil {
		fs.injected = map[FaultKind]int{}
	}
	fs.injected[f.Kind]++
	return f, true
}

type damagedKey struct{}

// damaged reports whether the response a handler is producing will not
// reach the client intact, so hooks that mean "the client got this page"
// must not fire.
func damaged(ctx context.Context) bool {
	v, _ := ctx.Value(damagedKey{}).(bool)
	return v
}

// Wrap returns next behind fault injection.
func (fs *Faults) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := fs.take()
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		switch f.Kind {
		case FaultLatency:
			d := f.Delay
			if d == 0 {
				d = 100 * time.Millisecond
			}
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				next.ServeHTTP(w, r)
			case <-r.Context().Done():
			}
		case FaultStatus5xx:
			status := f.Status
			if status == 0 {
				status = http.StatusServiceUnavailable
			}
			http.Error(w, strconv.Itoa(status)+" "+http.StatusText(status), status)
		case FaultThrottle:
			d := f.RetryAfter
			if d == 0 {
				d = time.Second
			}
			writeTooManyRequests(w, d, fs.omitRetryAfter)
		case FaultReset:
			resetConnection(w)
		case FaultTruncated:
			c := &captureWriter{header: http.Header{}, status: http.StatusOK}
			next.ServeHTTP(c, r.WithContext(context.WithValue(r.Context(), damagedKey{}, true)))
			body := c.body.Bytes()
			body = body[:len(body)/2]
			h := w.Header()
			for k, v := range c.header {
				h[k] = v
			}
			h.Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(c.status)
			w.Write(body)
		case FaultInvalidJSON:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(invalidJSONBody)))
			w.WriteHeader(http.StatusOK)
			w.Write(invalidJSONBody)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// writeTooManyRequests answers 429, with a Retry-After in whole seconds
// unless the vendor's reading omits it.
func writeTooManyRequests(w http.ResponseWriter, d time.Duration, omitRetryAfter bool) {
	if !omitRetryAfter {
		w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(d), 10))
	}
	http.Error(w, "429 Too Many Requests", http.StatusTooManyRequests)
}

// resetConnection drops the connection under the request without writing
// anything. With a zero linger the kernel sends RST, which is what a
// crashing load balancer looks like to the client.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 and recorders cannot be hijacked; aborting the handler makes
		// net/http drop the stream or connection without a response.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// captureWriter buffers a response so a fault can damage it before sending.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (c *captureWriter) Header() http.Header { return c.header }

func (c *captureWriter) WriteHeader(status int) {
	if !c.wrote {
		c.status, c.wrote = status, true
	}
}

func (c *captureWriter) Write(p []byte) (int, error) {
	c.wrote = true
	return c.body.Write(p)
}
