// Package checkpoint keeps the position of each stream between runs. A Store
// holds opaque, already encoded checkpoints by stream key; the core encodes
// and versions them, so any key/value store (a file, a Benthos cache) works.
package checkpoint

import (
	"context"
	"errors"
)

// ErrNotFound means the stream has never been checkpointed: a first run.
// KV.Get returns it too, for a key that holds nothing.
var ErrNotFound = errors.New("no checkpoint")

// Store persists checkpoints. Save must be atomic: after a crash, Load
// returns either the previous or the new value, never a mix.
type Store interface {
	Load(ctx context.Context, key string) ([]byte, error)
	Save(ctx context.Context, key string, data []byte) error
	// Where names the place a key is stored, for error messages.
	Where(key string) string
	Close() error
}

// Fallbacker is a Store that can say what it keeps beside a checkpoint: the
// core adds it to the error when a checkpoint does not decode, so the way
// back (or the lack of one) is in the message rather than in a README.
type Fallbacker interface {
	// Fallback says what the store keeps beside key, e.g. "the previous
	// durable checkpoint, if any, is kept as /var/lib/auditpull/x.json.prev".
	Fallback(key string) string
}

// ErrInUse means another input, in this process or another, holds a key:
// two inputs saving one checkpoint would each move it past pages only the
// other had delivered.
var ErrInUse = errors.New("in use by another input (in this process or another): give each input its own stream name or checkpoint.path")

// Locker is a Store that can keep a key to one input. The core locks each
// stream's key before loading it; a store read by a dry run does not lock.
type Locker interface {
	// Lock holds key for this store until Close; it fails with ErrInUse
	// while another store holds it. Locking a key again is a no-op.
	Lock(key string) error
}
