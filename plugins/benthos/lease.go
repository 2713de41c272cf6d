package benthos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
)

// keyPrefix starts every cache key the input writes.
const keyPrefix = "auditpull:"

// cacheTimeout bounds one cache operation, so that an unreachable cache
// shows up as an error instead of a hang.
const cacheTimeout = 10 * time.Second

// newCacheStore keeps checkpoints in the named cache resource; with a lease
// TTL, the same cache carries the leases that guard them, and the replicas
// of an input with tenants divide the tenants (a Share).
func newCacheStore(res *service.Resources, cache string, ttl time.Duration, tenants []string, log checkpoint.Logger) (*checkpoint.KVStore, *checkpoint.Share) {
	return checkpoint.OpenKV(cacheKV{res: res, name: cache}, checkpoint.KVSetup{
		Name: fmt.Sprintf("cache %q", cache), Prefix: keyPrefix, LeaseTTL: ttl, Tenants: tenants, Log: log,
	})
}

// cacheKV is a Benthos cache resource seen as the core's KV. A failure of
// the cache itself (unreachable, timed out) is no error the core takes for
// fatal, so Connect returns it as it is and Benthos retries soon.
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
		return fmt.Errorf("cache %q: %w", c.name, aerr)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, service.ErrKeyAlreadyExists):
		return checkpoint.ErrExists
	case errors.Is(err, service.ErrKeyNotFound):
		return checkpoint.ErrNotFound
	}
	return err
}

// ttlOption always passes the TTL. Without one a cache applies its
// default_ttl (memcached 300s unless set, memory 5m, redis whatever is
// configured), which would expire a checkpoint during a stop longer than
// that; the KV's 0, "keep until deleted", is what redis, memcached,
// couchbase and ristretto make of an explicit 0 too. The caches that read
// it otherwise are refused by keepsEntries or named in the README.
func ttlOption(ttl time.Duration) *time.Duration { return &ttl }

// keepsEntries refuses, naming the setting, a cache that drops an entry
// written without expiry (see checkpoint.CheckKeeps). Caches that keep the
// entry a while and then evict it (lru, ttlru) cannot be told apart; the
// README says they must not hold checkpoints.
func (c cacheKV) keepsEntries(ctx context.Context) error {
	err := checkpoint.CheckKeeps(ctx, c, keyPrefix)
	if errors.Is(err, checkpoint.ErrForgets) {
		return &core.ConfigError{Key: "checkpoint." + fieldCache, Msg: fmt.Sprintf(
			"cache %q does not keep an entry written without expiry (it was gone when read back at once), so it would lose the checkpoints: "+
				"use a cache that keeps entries (redis, memcached, file, …); a memory cache needs compaction_interval: \"\", "+
				"and checkpoint.type: memory keeps checkpoints in this process without a cache", c.name)}
	}
	return err
}
