package benthos

import (
	"context"
	"errors"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
)

// leaser is the core's lease manager (see checkpoint.Leaser for the rules)
// over the checkpoint cache.
type leaser = checkpoint.Leaser

func newLeaser(res *service.Resources, cache string, ttl time.Duration, log core.Logger) *leaser {
	return checkpoint.NewLeaser(cacheKV{res: res, name: cache}, ttl, checkpoint.LeaseOptions{Key: leaseKey, Log: log})
}

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

func (c cacheKV) do(ctx context.Context, fn func(ctx context.Context, cache service.Cache) error) error {
	err := withCache(ctx, c.res, c.name, fn)
	var ce *cacheError
	switch {
	case err == nil, errors.As(err, &ce):
		return err
	case errors.Is(err, service.ErrKeyAlreadyExists):
		return checkpoint.ErrExists
	case errors.Is(err, service.ErrKeyNotFound):
		return checkpoint.ErrNotFound
	}
	return &cacheError{err}
}

func ttlOption(ttl time.Duration) *time.Duration {
	if ttl <= 0 {
		return nil
	}
	return &ttl
}
