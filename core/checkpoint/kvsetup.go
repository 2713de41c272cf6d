package checkpoint

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"
)

// KVSetup says how a host keeps checkpoints in a KV shared by processes (a
// Benthos cache resource): under which keys, and whether leases guard them.
type KVSetup struct {
	// Name names the KV in messages, e.g. `cache "state"`.
	Name string
	// Prefix starts every key written, the host's namespace in the KV
	// (e.g. "auditpull:").
	Prefix string
	// LeaseTTL, when positive, guards the checkpoints with leases in the
	// same KV, so that processes sharing it read each stream one at a
	// time; 0 leaves them unguarded (one process).
	LeaseTTL time.Duration
	// Tenants are the input's tenant streams. With leases, the processes
	// divide them through a Share, each tenant under its own lease; an
	// input without tenants is leased whole.
	Tenants []string
	// Log receives hand-overs, losses and fall-backs; nil discards them.
	Log Logger
}

// CheckpointKey and LeaseKey name a stream's entries. The stream name is
// escaped, so that any name is one flat key, which stores backed by files
// need.
func (s KVSetup) CheckpointKey(stream string) string {
	return s.Prefix + "checkpoint:" + url.PathEscape(stream)
}

func (s KVSetup) LeaseKey(stream string) string { return s.Prefix + "lease:" + url.PathEscape(stream) }

// OpenKV returns the checkpoint store over kv, and the Share that divides
// the tenants among the processes when there are tenants and leases (nil
// otherwise; the poller then reads them all).
func OpenKV(kv KV, s KVSetup) (*KVStore, *Share) {
	opts := KVStoreOptions{Name: s.Name, Key: s.CheckpointKey, Log: s.Log}
	switch {
	case s.LeaseTTL > 0 && len(s.Tenants) > 0:
		// A tenant's lease is named by the Share as LeaseKey names it
		// (its suffixes are "lease:<escaped stream>"), so a process of a
		// release that leased each tenant whole still excludes a new one
		// during a rolling upgrade.
		share := NewShare(kv, GroupName(s.Tenants), s.LeaseTTL, ShareOptions{
			Key: func(suffix string) string { return s.Prefix + suffix },
			Log: s.Log,
		})
		return NewKVStore(kv, opts), share
	case s.LeaseTTL > 0:
		opts.Lease = NewLeaser(kv, s.LeaseTTL, LeaseOptions{Key: s.LeaseKey, Log: s.Log})
	}
	return NewKVStore(kv, opts), nil
}

// ErrForgets is CheckKeeps' verdict on a KV that did not keep an entry
// written without expiry: it would lose the checkpoints.
var ErrForgets = errors.New("an entry written without expiry was gone when read back at once")

// CheckKeeps writes an entry to be kept until deleted, under prefix, and
// reads it back: a store that drops it at once (a Benthos memory cache with
// compaction on, where a TTL of 0 expires the entry as it is written; the
// noop cache) gets ErrForgets, so the host can refuse to start instead of
// restarting every stream from its initial lookback at each reconnection.
// Stores that keep the entry a while and then evict it (an LRU) cannot be
// told apart here.
func CheckKeeps(ctx context.Context, kv KV, prefix string) error {
	key := prefix + "probe:" + strconv.FormatUint(rand.Uint64(), 36) // one per call: processes never meet
	if err := kv.Set(ctx, key, []byte("{}"), 0); err != nil {
		return err
	}
	_, err := kv.Get(ctx, key)
	_ = kv.Delete(ctx, key) // a probe left behind is harmless, and rare
	if errors.Is(err, ErrNotFound) {
		return ErrForgets
	}
	return err
}
