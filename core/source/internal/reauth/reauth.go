// Package reauth renews a refused credential once. A vendor refuses a
// token that expired in flight, or that a clock a little ahead of its own
// stamped, though a fresh one would pass; but a fresh token refused too
// means the credential or its settings are wrong, and renewing again would
// only loop, so that refusal is reported with what to check.
package reauth

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/auditpull/auditpull/core"
)

// Renewal says how one source renews its credential.
type Renewal struct {
	Log core.Logger
	// Note is logged (with the vendor's reason) before renewing.
	Note string
	// Drop forgets the refused credential, so the next request gets a
	// fresh one.
	Drop func(cred string)
	// Hint says what to check when a fresh credential is refused too; it
	// is appended to the vendor's reason.
	Hint func(reason string) string
}

// Once calls try, which sends one request and returns the credential it
// carried. When the vendor refuses that credential as expired, Once drops
// it and calls try again; a second such refusal is returned as a final
// AuthError.
func Once[T any](r Renewal, try func() (T, string, error)) (T, error) {
	out, used, err := try()
	var ae *core.AuthError
	if !errors.As(err, &ae) || !ae.Expired {
		return out, err
	}
	r.Log.Info(r.Note, "reason", ae.Reason)
	r.Drop(used)
	out, _, err = try()
	if errors.As(err, &ae) && ae.Expired {
		var zero T
		return zero, &core.AuthError{Op: ae.Op, Status: ae.Status, Reason: ae.Reason + ": " + r.Hint(ae.Reason)}
	}
	return out, err
}

// maxLifetime bounds a lifetime read from an answer: a larger one is no
// lifetime at all, and cannot overflow a time.Duration.
const maxLifetime = 366 * 24 * time.Hour

// Lifetime reads how long a credential lasts, in seconds, as a login or
// token answer gives it (expires_in, ExpiresIn) once decoded by
// encoding/json into an any: a number, whole or not, or a number in a
// string, which some servers send. Anything else, and a lifetime not above
// zero or beyond a year, is 0, for the caller's default: a token renewed
// too early costs a login, a login refused for its lifetime's form costs
// the stream.
func Lifetime(v any) time.Duration {
	var secs float64
	switch x := v.(type) {
	case float64:
		secs = x
	case string:
		secs, _ = strconv.ParseFloat(strings.TrimSpace(x), 64)
	}
	if !(secs > 0) || secs > maxLifetime.Seconds() {
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}
