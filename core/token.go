package core

import (
	"context"
	"sync"
	"time"
)

// TokenCache holds one short-lived credential (a login or OAuth access
// token, a signed JWT) shared by every request of a source, and renews it
// before it expires: a slow request or a little clock skew must never carry
// a stale token. Drop forgets a token the vendor refused, so the next Token
// fetches a fresh one — sources do that once, then report the AuthError.
type TokenCache struct {
	Clock Clock
	// Fetch obtains a new token and its lifetime.
	Fetch func(ctx context.Context) (token string, lifetime time.Duration, err error)
	// Early is how long before expiry a token of a given lifetime is
	// renewed (default: a tenth of it, at most two minutes).
	Early func(lifetime time.Duration) time.Duration

	mu      sync.Mutex
	tok     string
	renewAt time.Time
}

// Token returns the current token, fetching one if there is none or it is
// due for renewal. Concurrent callers share one fetch.
func (c *TokenCache) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != "" && c.Clock.Now().Before(c.renewAt) {
		return c.tok, nil
	}
	c.tok = ""
	tok, life, err := c.Fetch(ctx)
	if err != nil {
		return "", err
	}
	early := min(2*time.Minute, life/10)
	if c.Early != nil {
		early = c.Early(life)
	}
	c.tok, c.renewAt = tok, c.Clock.Now().Add(life-early)
	return tok, nil
}

// Drop forgets tok if it is still the current token (another request may
// have renewed it already).
func (c *TokenCache) Drop(tok string) {
	c.mu.Lock()
	if c.tok == tok {
		c.tok = ""
	}
	c.mu.Unlock()
}
