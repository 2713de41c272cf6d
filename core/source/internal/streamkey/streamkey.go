// Package streamkey builds the parts of sources' default stream names.
// A stream name is the checkpoint's key, and file stores make it a file
// name, so it keeps only characters every file system takes; and two
// inputs that read the same account with different filters must never
// share a checkpoint, so a filtered input's name carries a digest of its
// filter.
package streamkey

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"
)

var unsafeRE = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Safe replaces each run of characters a file name may not hold with "_".
func Safe(s string) string { return unsafeRE.ReplaceAllString(s, "_") }

// Digest is the suffix naming filter: "-" and 8 hex digits of its SHA-256.
// Callers pass the filter in a canonical form (sorted, deduplicated), so
// equal filters name the same stream.
func Digest(filter []byte) string {
	sum := sha256.Sum256(filter)
	return "-" + hex.EncodeToString(sum[:4])
}

// Host is the account part of a stream name for an API at u: its host and
// path, taken from the parsed URL so that nothing else of the URL (a
// user:password, a query) can become part of a checkpoint's name.
func Host(u *url.URL) string { return u.Host + u.EscapedPath() }
