package checkpoint

import (
	"context"
	"errors"
	"testing"
	"time"
)

// forgetfulKV accepts every write and keeps none (a Benthos noop cache, or
// a memory cache that expires a TTL of 0 at once).
type forgetfulKV struct{ KV }

func (forgetfulKV) Set(context.Context, string, []byte, time.Duration) error { return nil }
func (forgetfulKV) Get(context.Context, string) ([]byte, error)              { return nil, ErrNotFound }

func TestCheckKeepsRefusesOnlyAStoreThatDropsAnEntryAtOnce(t *testing.T) {
	ctx := context.Background()
	faulty := &faultyKV{KV: NewMemoryKV()}
	faulty.fail.Store(true)
	tests := []struct {
		name string
		kv   KV
		want error
	}{
		{"a store that keeps entries", NewMemoryKV(), nil},
		{"a store that drops them", forgetfulKV{NewMemoryKV()}, ErrForgets},
		{"an unreachable store: its own error, not a verdict", faulty, errUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckKeeps(ctx, tc.kv, "app:"); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("CheckKeeps: %v, want %v", err, tc.want)
			}
		})
	}
	kv := NewMemoryKV()
	_ = CheckKeeps(ctx, kv, "app:")
	if n := len(kv.m); n != 0 {
		t.Fatalf("the probe left %d entries behind", n)
	}
}

func TestOpenKVGuardsAStreamWithItsLeaseAndSharesTenants(t *testing.T) {
	ctx := context.Background()
	setup := KVSetup{Name: "cache", Prefix: "app:", Log: NopLogger{}}
	t.Run("without a TTL: no lease, no share", func(t *testing.T) {
		kv := NewMemoryKV()
		st, share := OpenKV(kv, setup)
		defer st.Close()
		if share != nil || st.opts.Lease != nil {
			t.Fatal("a store without a lease TTL leases")
		}
		if err := st.Save(ctx, "a/b", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Get(ctx, "app:checkpoint:a%2Fb"); err != nil {
			t.Fatalf("the checkpoint is not under its prefixed, escaped key: %v", err)
		}
	})
	t.Run("a single stream is leased whole", func(t *testing.T) {
		s := setup
		s.LeaseTTL = time.Minute
		kv := NewMemoryKV()
		st, share := OpenKV(kv, s)
		defer st.Close()
		if share != nil || st.opts.Lease == nil {
			t.Fatalf("share %v, lease %v: want a lease alone", share, st.opts.Lease)
		}
		if _, err := st.Load(ctx, "s"); !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		if _, err := kv.Get(ctx, s.LeaseKey("s")); err != nil {
			t.Fatalf("no lease under %s: %v", s.LeaseKey("s"), err)
		}
	})
	t.Run("tenants are shared, each under a lease of the same name", func(t *testing.T) {
		s := setup
		s.LeaseTTL, s.Tenants = time.Minute, []string{"acme", "globex"}
		kv := NewMemoryKV()
		st, share := OpenKV(kv, s)
		defer st.Close()
		if share == nil || st.opts.Lease != nil {
			t.Fatal("want a share, and no lease on the store itself")
		}
		defer share.Close()
		if err := share.Join(ctx); err != nil {
			t.Fatal(err)
		}
		if held, _, err := share.Claim(ctx, "acme"); !held || err != nil {
			t.Fatalf("Claim: %v, %v", held, err)
		}
		// A process of a release that leased each tenant whole looks here.
		if _, err := kv.Get(ctx, s.LeaseKey("acme")); err != nil {
			t.Fatalf("the tenant's lease is not under %s: %v", s.LeaseKey("acme"), err)
		}
	})
}
