package benthos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
)

// Cache keys. Stream keys are escaped so that any stream name is one flat
// key, which caches backed by files need.
func checkpointKey(stream string) string { return "auditpull:checkpoint:" + url.PathEscape(stream) }
func leaseKey(stream string) string      { return "auditpull:lease:" + url.PathEscape(stream) }

// cacheTimeout bounds one cache operation, so that an unreachable cache
// shows up as an error instead of a hang.
const cacheTimeout = 10 * time.Second

// newCacheStore keeps checkpoints in the named cache resource; with a lease
// TTL, the same cache carries the leases that guard them. An input with
// tenants gets a Share instead: the replicas divide the tenants, each
// under its own lease; a single stream is leased whole.
func newCacheStore(res *service.Resources, cache string, ttl time.Duration, tenants []string, log checkpoint.Logger) (*checkpoint.KVStore, *checkpoint.Share) {
	kv := cacheKV{res: res, name: cache}
	opts := checkpoint.KVStoreOptions{Name: fmt.Sprintf("cache %q", cache), Key: checkpointKey, Log: log}
	switch {
	case ttl > 0 && len(tenants) > 0:
		// Tenant leases keep leaseKey's names (share keys are the
		// suffix after "auditpull:"), so a replica of an earlier
		// release, which leased each tenant whole, still excludes
		// a new one during a rolling upgrade.
		share := checkpoint.NewShare(kv, checkpoint.GroupName(tenants), ttl, checkpoint.ShareOptions{
			Key: func(suffix string) string { return "auditpull:" + suffix },
			Log: log,
		})
		return checkpoint.NewKVStore(kv, opts), share
	case ttl > 0:
		opts.Lease = checkpoint.NewLeaser(kv, ttl, checkpoint.LeaseOptions{Key: leaseKey, Log: log})
	}
	return checkpoint.NewKVStore(kv, opts), nil
}

// cacheError is a failure of the cache itself (unreachable, timed out).
// It is transient: the input reconnects and tries again, unlike a corrupt
// checkpoint, which the core reports as fatal.
type cacheError struct{ err error }

func (e *cacheError) Error() string { return e.err.Error() }
func (e *cacheError) Unwrap() error { return e.err }

// cacheKV is a Benthos cache resource seen as the core's KV. Failures of
// the cache itself are cacheErrors, which Connect retries soon.
type cacheKV struct {
	res  *service.Resources
	name string
}

func (c cacheKV) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return c.do(ctx, func(ctx context.Context, cache service.Cache) error {
		return cache.Add(ctx, key, value, ttlOption(ttl))
	})
}

func (c cacheKV) Get(ctx context.Context, key string) (value []byte, err error) {
	err = c.do(ctx, func(ctx context.Context, cache service.Cache) error {
		value, err = cache.Get(ctx, key)
		return err
	})
	return value, err
}

func (c cacheKV) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return c.do(ctx, func(ctx context.Context, cache service.Cache) error {
		return cache.Set(ctx, key, value, ttlOption(ttl))
	})
}

func (c cacheKV) Delete(ctx context.Context, key string) error {
	return c.do(ctx, func(ctx context.Context, cache service.Cache) error {
		return cache.Delete(ctx, key)
	})
}

// do runs fn against the cache with a bounded context and maps its answer
// to the KV's errors.
func (c cacheKV) do(ctx context.Context, fn func(ctx context.Context, cache service.Cache) error) error {
	ctx, cancel := context.WithTimeout(ctx, cacheTimeout)
	defer cancel()
	var err error
	if aerr := c.res.AccessCache(ctx, c.name, func(cache service.Cache) { err = fn(ctx, cache) }); aerr != nil {
		return &cacheError{fmt.Errorf("cache %q: %w", c.name, aerr)}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, service.ErrKeyAlreadyExists):
		return checkpoint.ErrExists
	case errors.Is(err, service.ErrKeyNotFound):
		return checkpoint.ErrNotFound
	}
	return &cacheError{err}
}

// ttlOption always passes the TTL. Without one a cache applies its
// default_ttl (memcached 300s unless set, memory 5m, redis whatever is
// configured), which would expire a checkpoint during a stop longer than
// that; the KV's 0, "keep until deleted", is what redis, memcached,
// couchbase and ristretto make of an explicit 0 too. The caches that read
// it otherwise are refused by keepsEntries or named in the README.
func ttlOption(ttl time.Duration) *time.Duration { return &ttl }

// keepsEntries writes an entry to be kept until deleted and reads it back,
// so that a cache which drops it at once (a memory cache with compaction
// on, where a TTL of 0 expires the entry as it is written; the noop cache)
// stops the input with an error naming the setting instead of restarting
// every stream from initial_lookback at each reconnection. Caches that keep
// the entry a while and then evict it (lru, ttlru) cannot be told apart
// here; the README says they must not hold checkpoints.
func (c cacheKV) keepsEntries(ctx context.Context) error {
	key := "auditpull:probe:" + strconv.FormatUint(rand.Uint64(), 36) // one per call: replicas never meet
	if err := c.Set(ctx, key, []byte("{}"), 0); err != nil {
		return err
	}
	_, err := c.Get(ctx, key)
	_ = c.Delete(ctx, key) // a probe left behind is harmless, and rare
	if errors.Is(err, checkpoint.ErrNotFound) {
		return &core.ConfigError{Key: "checkpoint." + fieldCache, Msg: fmt.Sprintf(
			"cache %q does not keep an entry written without expiry (it was gone when read back at once), so it would lose the checkpoints: "+
				"use a cache that keeps entries (redis, memcached, file, …); a memory cache needs compaction_interval: \"\", "+
				"and checkpoint.type: memory keeps checkpoints in this process without a cache", c.name)}
	}
	return err
}
