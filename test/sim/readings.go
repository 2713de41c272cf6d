package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"
)

// Readings are the choices every simulated vendor has to make where its
// document is silent. Each vendor's Config embeds them; the zero value is
// the reading the simulator always had, so a test opts into another one
// field by field. doc.go lists every reading with the sentence it stems
// from.
type Readings struct {
	// RateLimitScope is what the rate limit counts: requests per client IP
	// (default) or per client IP and credential.
	RateLimitScope RateLimitScope
	// OmitRetryAfter sends 429 responses without a Retry-After header, both
	// the rate limiter's and injected FaultThrottle ones: a client must then
	// choose its own wait.
	OmitRetryAfter bool
	// ClockSkew is how far the API's clock is ahead of Config.Clock
	// (negative: behind). The API decides everything it decides by "now"
	// with the skewed clock: which records are visible, which bounds lie in
	// the future, default ranges, token expiry, the default end of the
	// generated history. The rate limiter keeps RateClock.
	ClockSkew time.Duration
	// Ties is the order in which records sharing a timestamp are served.
	Ties TieOrder
}

// RateLimitScope is what a rate limit counts requests by.
type RateLimitScope int

const (
	// RateLimitPerIP gives every client IP one budget, whatever credential
	// it sends (NordPass documents "per IP address").
	RateLimitPerIP RateLimitScope = iota
	// RateLimitPerCredential gives every client IP one budget per
	// credential, so two tokens used from one host each get the full limit.
	RateLimitPerCredential
)

// TieOrder is the order of records with equal timestamps. No vendor
// document says it, and a client that pages by offset through a run of
// ties can only be sure of reading each record once if the order holds
// from one request to the next.
type TieOrder int

const (
	// TiesInsertionOrder serves ties in the order they were added (a
	// newest-first API serves the later-added first): one stable order.
	TiesInsertionOrder TieOrder = iota
	// TiesReversed serves ties in the opposite stable order.
	TiesReversed
	// TiesShuffled serves ties in a new random order at every request, as
	// an API backed by a search engine with several replicas may: offset
	// pages through a run can then repeat some records and skip others,
	// and a keyset cursor inside a run points into an order that is gone.
	TiesShuffled
)

// apiClock returns the clock the API reads "now" from.
func (r Readings) apiClock(c Clock) Clock {
	if r.ClockSkew == 0 {
		return c
	}
	return skewedClock{c, r.ClockSkew}
}

// gateway returns the gateway in front of a data endpoint whose callers
// identify themselves with the first present header of credential; its
// answers carry a Date by the API's clock.
func (r Readings) gateway(clock Clock, limit int, window time.Duration, rateClock Clock, credential ...string) *Gateway {
	g := NewGateway(limit, window, rateClock)
	g.dateClock = clock
	g.faults.omitRetryAfter = r.OmitRetryAfter
	if r.RateLimitScope == RateLimitPerCredential {
		g.credential = credential
	}
	return g
}

// newStore returns a store that serves ties in the API's order. seed makes
// shuffled orders reproducible for a client that sends its requests one at
// a time.
func (r Readings) newStore(clock Clock, seed int64) *Store {
	s := NewStore(clock)
	s.ties, s.tieSeed = r.Ties, mix64(uint64(seed))
	return s
}

// skewedClock is another machine's clock: Config.Clock moved by skew, so
// that moving the test's FakeClock moves the API's too.
type skewedClock struct {
	base Clock
	skew time.Duration
}

func (c skewedClock) Now() time.Time { return c.base.Now().Add(c.skew) }

// credentialKey is the rate-limit key of a per-credential limit: the client
// IP and a digest of the credential (the secret itself is not kept).
func credentialKey(r *http.Request, headers []string) string {
	var cred string
	for _, h := range headers {
		if cred = r.Header.Get(h); cred != "" {
			break
		}
	}
	sum := sha256.Sum256([]byte(cred))
	return clientIP(r) + "/" + hex.EncodeToString(sum[:8])
}

// mix64 is SplitMix64's finalizer: a cheap bijection that spreads
// neighbouring inputs (record ids, request counters) over all 64 bits.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
