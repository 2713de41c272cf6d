package checkpoint

import (
	"context"
	"errors"
	"testing"
)

func TestKVStore(t *testing.T) {
	ctx := context.Background()
	t.Run("keeps checkpoints under escaped stream keys", func(t *testing.T) {
		kv := NewMemoryKV()
		s := NewKVStore(kv, KVStoreOptions{Name: "memory"})
		if _, err := s.Load(ctx, "a/b"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("first Load: %v; want ErrNotFound", err)
		}
		if err := s.Save(ctx, "a/b", []byte("v1")); err != nil {
			t.Fatal(err)
		}
		if v, err := kv.Get(ctx, "checkpoint:a%2Fb"); err != nil || string(v) != "v1" {
			t.Fatalf("entry: %q, %v", v, err)
		}
		if v, err := s.Load(ctx, "a/b"); err != nil || string(v) != "v1" {
			t.Fatalf("Load: %q, %v", v, err)
		}
		if w := s.Where("a/b"); w != `memory key "checkpoint:a%2Fb"` {
			t.Errorf("Where: %s", w)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("passes the store's errors through", func(t *testing.T) {
		kv := &faultyKV{KV: NewMemoryKV()}
		kv.fail.Store(true)
		s := NewKVStore(kv, KVStoreOptions{Key: func(stream string) string { return stream }})
		if w := s.Where("s"); w != `kv key "s"` {
			t.Errorf("Where: %s", w)
		}
		if _, err := s.Load(ctx, "s"); !errors.Is(err, errUnreachable) {
			t.Errorf("Load: %v", err)
		}
		if err := s.Save(ctx, "s", []byte("v")); !errors.Is(err, errUnreachable) {
			t.Errorf("Save: %v", err)
		}
	})
	t.Run("with a lease, loads once it holds the stream and saves only while it does", func(t *testing.T) {
		shared := NewMemoryKV()
		other, _, _ := newTestLeaser(t, shared)
		if err := other.Acquire(ctx, "s"); err != nil {
			t.Fatal(err)
		}
		l, _, _ := newTestLeaser(t, shared)
		s := NewKVStore(shared, KVStoreOptions{Lease: l})
		short, cancel := context.WithTimeout(ctx, testTTL/2)
		defer cancel()
		if _, err := s.Load(short, "s"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Load while another holds the lease: %v; want a wait", err)
		}
		other.Close()
		if _, err := s.Load(ctx, "s"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Load after the hand-over: %v", err)
		}
		if err := s.Save(ctx, "s", []byte("v1")); err != nil {
			t.Fatal(err)
		}
		l.markLost(errors.New("taken"))
		if err := s.Save(ctx, "s", []byte("v2")); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("Save after the loss: %v; want ErrLeaseLost", err)
		}
		if v, _ := shared.Get(ctx, "checkpoint:s"); string(v) != "v1" {
			t.Errorf("the lost lease's save overwrote the checkpoint: %q", v)
		}
	})
	t.Run("Close gives the leases back", func(t *testing.T) {
		shared := NewMemoryKV()
		l, _, _ := newTestLeaser(t, shared)
		s := NewKVStore(shared, KVStoreOptions{Lease: l})
		if _, err := s.Load(ctx, "s"); !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := shared.Get(ctx, l.key("s")); !errors.Is(err, ErrNotFound) {
			t.Errorf("the lease entry is still there: %v", err)
		}
	})
}
