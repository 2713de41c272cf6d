package sim

import (
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Gateway is what stands in front of a vendor's data endpoint in reality:
// the rate limiter (per IP, or per credential under
// Readings.RateLimitScope) and the infrastructure that fails. Vendors embed
// it, so every simulated API counts, throttles and breaks the same way.
type Gateway struct {
	limiter  *RateLimiter
	faults   Faults
	requests atomic.Int64
	served   atomic.Int64

	// credential, when set, makes the limit per credential: the headers
	// that may carry it, the first present one counting.
	credential []string
	// dateClock, when set, dates every answer (the Date header) by the API's
	// clock, skew included, instead of the machine's.
	dateClock Clock
}

// NewGateway returns a gateway admitting limit requests per window per
// client IP (limit <= 0: unlimited), timed by clock.
func NewGateway(limit int, window time.Duration, clock Clock) *Gateway {
	return &Gateway{limiter: NewRateLimiter(limit, window, clock)}
}

// Faults returns the gateway's fault injector.
func (g *Gateway) Faults() *Faults { return &g.faults }

// Requests returns how many requests reached the data endpoint, whatever
// became of them: throttled, faulted, rejected or served.
func (g *Gateway) Requests() int { return int(g.requests.Load()) }

// Throttled returns how many requests the rate limiter refused (injected
// FaultThrottle responses are counted by Faults().Injected instead).
func (g *Gateway) Throttled() int { return g.limiter.Throttled() }

// Served returns how many successful data responses reached the client
// intact (pages cut by FaultTruncated are not counted).
func (g *Gateway) Served() int { return int(g.served.Load()) }

// markServed is called by vendors for each intact successful response.
func (g *Gateway) markServed() { g.served.Add(1) }

// Wrap puts h behind the gateway: count, then rate limit, then faults. The
// limiter comes first because a real gateway spends the client's quota on
// requests the backend then fails.
func (g *Gateway) Wrap(h http.Handler) http.Handler {
	faulty := g.faults.Wrap(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.requests.Add(1)
		if g.dateClock != nil {
			w.Header().Set("Date", g.dateClock.Now().UTC().Format(http.TimeFormat))
		}
		if ok, wait := g.limiter.Allow(g.rateKey(r)); !ok {
			writeTooManyRequests(w, wait, g.faults.omitRetryAfter)
			return
		}
		faulty.ServeHTTP(w, r)
	})
}

// rateKey is what r's request counts against.
func (g *Gateway) rateKey(r *http.Request) string {
	if g.credential != nil {
		return credentialKey(r, g.credential)
	}
	return clientIP(r)
}

// clientIP is the rate-limit key: the peer address without its port, as
// the vendors limit "per IP address".
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
