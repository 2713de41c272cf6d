package checkpoint

import (
	"context"
	"encoding/json"
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
	// files need. It must escape '#' (url.PathEscape does): the copy of a
	// checkpoint is its key + "#copy", which then names no stream's entry.
	Key func(stream string) string
	// Lease, if set, guards every stream: Load first takes the stream's
	// lease, waiting while another process holds it, and Save refuses to
	// write once it is lost. Close closes it.
	Lease *Leaser
	// Log receives a load that fell back to the copy; nil discards it.
	Log Logger
}

// KVStore keeps checkpoints in a KV, so that processes sharing the KV share
// the checkpoints. Errors of the KV pass through unchanged (ErrNotFound for
// a first run), so the caller's classification of them holds.
//
// Stores may write in place: the Benthos file cache truncates the file,
// then writes it, so a process killed between the two leaves an empty
// checkpoint, and a stream that would stop until a person removed it. Each
// save therefore writes a copy first (key + "#copy"), then the checkpoint:
// a kill tears at most one of the two, and Load takes the copy when the
// checkpoint is not JSON (the core's checkpoints are JSON documents; a torn
// one is not). Both are the same save, so the fall-back repeats nothing.
// The saves are the core's background ones, coalesced: the second write
// delays no ack.
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
	if opts.Log == nil {
		opts.Log = NopLogger{}
	}
	return &KVStore{kv: kv, opts: opts}
}

// copyKey names the copy of a stream's checkpoint. Earlier releases named
// it key + ".copy", which is also the key of a stream named "<stream>.copy"
// ('.' is not escaped): two such tenants in one cache overwrote each
// other's checkpoint. legacyCopyKey is read only for an entry torn before
// the upgrade, whose copy has no new name yet.
func (s *KVStore) copyKey(stream string) string       { return s.opts.Key(stream) + "#copy" }
func (s *KVStore) legacyCopyKey(stream string) string { return s.opts.Key(stream) + ".copy" }

func (s *KVStore) Load(ctx context.Context, stream string) ([]byte, error) {
	if s.opts.Lease != nil {
		if err := s.opts.Lease.Acquire(ctx, stream); err != nil {
			return nil, err
		}
	}
	data, err := s.kv.Get(ctx, s.opts.Key(stream))
	if err != nil || json.Valid(data) {
		// A missing checkpoint is a first run even beside a copy: removing
		// it is how an operator starts a stream over.
		return data, err
	}
	copyKey := s.copyKey(stream)
	copied, err := s.kv.Get(ctx, copyKey)
	if errors.Is(err, ErrNotFound) {
		copyKey = s.legacyCopyKey(stream)
		copied, err = s.kv.Get(ctx, copyKey)
	}
	switch {
	case err == nil && json.Valid(copied):
		s.opts.Log.Warn("checkpoint entry is torn (a process killed while writing it); resuming from its copy, the same save",
			"stream", stream, "key", s.opts.Key(stream), "copy", copyKey)
		return copied, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return nil, err
	}
	return nil, fmt.Errorf("%w: not valid JSON, and its copy %q is missing or not valid either; fix or remove both to start over", ErrCorrupt, s.copyKey(stream))
}

func (s *KVStore) Save(ctx context.Context, stream string, data []byte) error {
	if s.opts.Lease != nil {
		return s.opts.Lease.Write(stream, func() error { return s.save(ctx, stream, data) })
	}
	return s.save(ctx, stream, data)
}

func (s *KVStore) save(ctx context.Context, stream string, data []byte) error {
	if err := s.kv.Set(ctx, s.copyKey(stream), data, 0); err != nil {
		return err
	}
	return s.kv.Set(ctx, s.opts.Key(stream), data, 0)
}

func (s *KVStore) Fallback(stream string) string {
	// The copy is the same save, so it does not roll back; removing the
	// entry alone starts over (a copy without its entry is ignored).
	return fmt.Sprintf("its copy %q holds the same save, not an older one", s.copyKey(stream))
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
