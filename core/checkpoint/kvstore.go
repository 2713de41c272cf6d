package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"net/url"
)

// ErrLeaseLost is KVStore.Save's refusal to write after the stream's lease
// was lost: the new holder's checkpoint must not be overwritten.
var ErrLeaseLost = errors.New("the stream's lease was lost to another process; not overwriting its checkpoint")

// KVStoreOptions are the optional parts of a KVStore.
type KVStoreOptions struct {
	// Name names the KV in Where, e.g. `cache "state"`; the default is
	// "kv".
	Name string
	// Key names the entry holding a stream's checkpoint. The default
	// escapes the stream name into one flat key, which stores backed by
	// files need.
	Key func(stream string) string
	// Lease, if set, guards every stream: Load first takes the stream's
	// lease, waiting while another process holds it, and Save refuses to
	// write once it is lost. Close closes it.
	Lease *Leaser
}

// KVStore keeps checkpoints in a KV, so that processes sharing the KV share
// the checkpoints. Errors of the KV pass through unchanged (ErrNotFound for
// a first run), so the caller's classification of them holds.
type KVStore struct {
	kv   KV
	opts KVStoreOptions
}

var _ Store = (*KVStore)(nil)

// NewKVStore returns a Store over kv.
func NewKVStore(kv KV, opts KVStoreOptions) *KVStore {
	if opts.Key == nil {
		opts.Key = func(stream string) string { return "checkpoint:" + url.PathEscape(stream) }
	}
	if opts.Name == "" {
		opts.Name = "kv"
	}
	return &KVStore{kv: kv, opts: opts}
}

func (s *KVStore) Load(ctx context.Context, stream string) ([]byte, error) {
	if s.opts.Lease != nil {
		if err := s.opts.Lease.Acquire(ctx, stream); err != nil {
			return nil, err
		}
	}
	return s.kv.Get(ctx, s.opts.Key(stream))
}

func (s *KVStore) Save(ctx context.Context, stream string, data []byte) error {
	if s.opts.Lease != nil && !s.opts.Lease.Holds(stream) {
		return ErrLeaseLost
	}
	return s.kv.Set(ctx, s.opts.Key(stream), data, 0)
}

func (s *KVStore) Where(stream string) string {
	return fmt.Sprintf("%s key %q", s.opts.Name, s.opts.Key(stream))
}

// LeaseLost is closed when the store's lease is lost to another process
// (nil, never, without a lease); the core then ends polling with an error
// wrapping ErrLeaseLost, so the host stops reading and waits to take the
// stream back.
func (s *KVStore) LeaseLost() (lost <-chan struct{}, why func() error) {
	if s.opts.Lease == nil {
		return nil, nil
	}
	return s.opts.Lease.Lost(), s.opts.Lease.Err
}

// Close gives up the leases; the core calls it after its last Save.
func (s *KVStore) Close() error {
	if s.opts.Lease != nil {
		s.opts.Lease.Close()
	}
	return nil
}
