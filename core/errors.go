package core

import (
	"errors"
	"fmt"
	"time"
)

// The error classes callers decide on. Sources and the HTTP client wrap
// failures into exactly one of these; nobody inspects error strings.

// TransientError is worth retrying: 5xx, timeouts, resets, unparsable bodies.
type TransientError struct {
	Op  string
	Err error
}

func (e *TransientError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// ThrottledError is a 429; RetryAfter is the vendor's reset hint (0 if none).
type ThrottledError struct {
	Op         string
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("%s: throttled by the API (retry after %s)", e.Op, e.RetryAfter)
	}
	return e.Op + ": throttled by the API"
}

// AuthError is a credential the vendor refuses: missing, invalid, expired or
// revoked token, or an inactive organization. It stops the stream and leaves
// the checkpoint untouched; Reason is the vendor's message.
type AuthError struct {
	Op     string
	Status int
	Reason string
	// Expired marks a token that may be renewed by logging in again; sources
	// that can re-authenticate do so once before reporting it.
	Expired bool
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("%s: authentication failed (HTTP %d): %s", e.Op, e.Status, e.Reason)
}

// RequestError is a request the vendor rejects as invalid (HTTP 400…): a bug
// or a configuration the vendor does not accept. Retrying will not help.
// Status 0 is a request that could not be sent at all (a header no
// request can carry).
type RequestError struct {
	Op     string
	Status int
	Reason string
}

func (e *RequestError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s: request not sent: %s", e.Op, e.Reason)
	}
	return fmt.Sprintf("%s: request rejected (HTTP %d): %s", e.Op, e.Status, e.Reason)
}

// IsFatal reports whether err stops a stream for good: only a person can fix
// it (credentials, configuration). Everything else is retried or reported and
// polled again.
func IsFatal(err error) bool {
	var a *AuthError
	var r *RequestError
	var c *ConfigError
	var cp *CheckpointError
	return errors.As(err, &a) || errors.As(err, &r) || errors.As(err, &c) || errors.As(err, &cp) || errors.Is(err, ErrClosed)
}

// ConfigError names the offending key and what it accepts.
type ConfigError struct {
	Key string
	Msg string
}

func (e *ConfigError) Error() string { return "auditpull config: " + e.Key + ": " + e.Msg }

// CheckpointError is a checkpoint that cannot be read or written. A corrupt
// checkpoint is never replaced by "start over" silently.
type CheckpointError struct {
	Where string // file path or cache key
	Err   error
}

func (e *CheckpointError) Error() string {
	return "checkpoint " + e.Where + ": " + e.Err.Error()
}
func (e *CheckpointError) Unwrap() error { return e.Err }
