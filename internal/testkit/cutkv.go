package testkit

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/auditpull/auditpull/core/checkpoint"
)

// CutKV is a KV that can be cut off from its store, as a process killed
// or partitioned is: once Cut, every operation fails, so the process
// neither renews its leases nor writes a checkpoint, and gives nothing
// back.
type CutKV struct {
	checkpoint.KV
	cut atomic.Bool
}

// ErrCut is what a cut-off KV answers.
var ErrCut = errors.New("cut off from the store")

// Cut cuts the KV off for good.
func (c *CutKV) Cut() { c.cut.Store(true) }

func (c *CutKV) Add(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	if c.cut.Load() {
		return ErrCut
	}
	return c.KV.Add(ctx, k, v, ttl)
}

func (c *CutKV) Get(ctx context.Context, k string) ([]byte, error) {
	if c.cut.Load() {
		return nil, ErrCut
	}
	return c.KV.Get(ctx, k)
}

func (c *CutKV) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	if c.cut.Load() {
		return ErrCut
	}
	return c.KV.Set(ctx, k, v, ttl)
}

func (c *CutKV) Delete(ctx context.Context, k string) error {
	if c.cut.Load() {
		return ErrCut
	}
	return c.KV.Delete(ctx, k)
}
