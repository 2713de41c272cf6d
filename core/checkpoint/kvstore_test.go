package checkpoint

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestKVStore(t *testing.T) {
	ctx := context.Background()
	t.Run("keeps checkpoints under escaped stream keys", func(t *testing.T) {
		kv := NewMemoryKV()
		s := NewKVStore(kv, KVStoreOptions{Name: "memory"})
		if _, err := s.Load(ctx, "a/b"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("first Load: %v; want ErrNotFound", err)
		}
		if err := s.Save(ctx, "a/b", []byte(`"v1"`)); err != nil {
			t.Fatal(err)
		}
		if v, err := kv.Get(ctx, "checkpoint:a%2Fb"); err != nil || string(v) != `"v1"` {
			t.Fatalf("entry: %q, %v", v, err)
		}
		if v, err := s.Load(ctx, "a/b"); err != nil || string(v) != `"v1"` {
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
		if err := s.Save(ctx, "s", []byte(`"v1"`)); err != nil {
			t.Fatal(err)
		}
		l.markLost(errors.New("taken"))
		if err := s.Save(ctx, "s", []byte(`"v2"`)); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("Save after the loss: %v; want ErrLeaseLost", err)
		}
		if v, _ := shared.Get(ctx, "checkpoint:s"); string(v) != `"v1"` {
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

// A store that writes in place (the Benthos file cache truncates, then
// writes) keeps a torn entry when its writer is killed during the write.
// Whichever write of a save a kill tears, the next process resumes from
// that save or the one before it, never stops on a corrupt entry.
func TestKVStoreSurvivesAKillDuringASave(t *testing.T) {
	ctx := context.Background()
	const previous, this = `{"save":1,"events":["a","b"]}`, `{"save":2,"events":["a","b","c"]}`
	for _, tc := range []struct {
		name    string
		torn    string // the key being written when the process died
		keep    int    // bytes of the new value that reached the store
		want    string
		warning bool // the load says it fell back to the copy
	}{
		{"killed writing the copy, nothing written yet", "checkpoint:s#copy", 0, previous, false},
		{"killed writing the copy, half written", "checkpoint:s#copy", len(this) / 2, previous, false},
		{"killed writing the checkpoint, nothing written yet", "checkpoint:s", 0, this, true},
		{"killed writing the checkpoint, half written", "checkpoint:s", len(this) / 2, this, true},
		{"killed writing the checkpoint, all but the last byte", "checkpoint:s", len(this) - 1, this, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv := &tearingKV{KV: NewMemoryKV(), key: "-"}
			if err := NewKVStore(kv, KVStoreOptions{}).Save(ctx, "s", []byte(previous)); err != nil {
				t.Fatal(err)
			}
			kv.key, kv.keep = tc.torn, tc.keep
			if err := NewKVStore(kv, KVStoreOptions{}).Save(ctx, "s", []byte(this)); !errors.Is(err, errKilled) {
				t.Fatalf("Save: %v; want the simulated kill", err)
			}
			log := &testLog{}
			got, err := NewKVStore(kv, KVStoreOptions{Log: log}).Load(ctx, "s")
			if err != nil || string(got) != tc.want {
				t.Fatalf("Load after the kill: %q, %v; want %q", got, err, tc.want)
			}
			if warned := log.has("resuming from its copy"); warned != tc.warning {
				t.Errorf("fall-back warning %v, want %v; log:\n%s", warned, tc.warning, log)
			}
		})
	}
	t.Run("both torn is a corrupt checkpoint naming both keys", func(t *testing.T) {
		kv := NewMemoryKV()
		_ = kv.Set(ctx, "checkpoint:s", []byte(`{"sa`), 0)
		_ = kv.Set(ctx, "checkpoint:s#copy", nil, 0)
		_, err := NewKVStore(kv, KVStoreOptions{}).Load(ctx, "s")
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `"checkpoint:s#copy"`) {
			t.Fatalf("Load: %v; want ErrCorrupt naming the copy", err)
		}
	})
	t.Run("a torn checkpoint without a copy is corrupt", func(t *testing.T) {
		kv := NewMemoryKV()
		_ = kv.Set(ctx, "checkpoint:s", nil, 0)
		if _, err := NewKVStore(kv, KVStoreOptions{}).Load(ctx, "s"); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Load: %v; want ErrCorrupt", err)
		}
	})
	t.Run("a removed checkpoint starts over even beside its copy", func(t *testing.T) {
		kv := NewMemoryKV()
		_ = kv.Set(ctx, "checkpoint:s#copy", []byte(this), 0)
		if _, err := NewKVStore(kv, KVStoreOptions{}).Load(ctx, "s"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Load: %v; want ErrNotFound", err)
		}
	})
	t.Run("an unreachable store while reading the copy is not corruption", func(t *testing.T) {
		kv := unreachableKey{KV: NewMemoryKV(), key: "checkpoint:s#copy"}
		_ = kv.Set(ctx, "checkpoint:s", nil, 0)
		if _, err := NewKVStore(kv, KVStoreOptions{}).Load(ctx, "s"); !errors.Is(err, errUnreachable) {
			t.Fatalf("Load: %v; want the store's error", err)
		}
	})
}

var errKilled = errors.New("killed during the write")

// tearingKV stores only the first keep bytes of a Set of key, then fails
// every later write, as a process killed in the middle of that Set.
type tearingKV struct {
	KV
	key  string
	keep int
	dead bool
}

func (k *tearingKV) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if k.dead {
		return errKilled
	}
	if key == k.key {
		k.dead = true
		_ = k.KV.Set(ctx, key, value[:k.keep], ttl)
		return errKilled
	}
	return k.KV.Set(ctx, key, value, ttl)
}

// unreachableKey fails every Get of key, as a store that went away between
// two reads.
type unreachableKey struct {
	KV
	key string
}

func (k unreachableKey) Get(ctx context.Context, key string) ([]byte, error) {
	if key == k.key {
		return nil, errUnreachable
	}
	return k.KV.Get(ctx, key)
}

// Copies are named so that no stream's copy is another stream's entry:
// tenants "acme" and "acme.copy" in one cache keep their own checkpoints.
// A copy written under the earlier name (key + ".copy") still rescues an
// entry torn before the upgrade.
func TestKVStoreCopiesNameNoOtherStream(t *testing.T) {
	ctx := context.Background()
	t.Run("a stream named like another's copy keeps its own checkpoint", func(t *testing.T) {
		kv := NewMemoryKV()
		st := NewKVStore(kv, KVStoreOptions{})
		for _, stream := range []string{"acme.copy", "acme", "acme#copy", "acme"} {
			if err := st.Save(ctx, stream, []byte(`{"stream":"`+stream+`"}`)); err != nil {
				t.Fatal(err)
			}
		}
		for _, stream := range []string{"acme", "acme.copy", "acme#copy"} {
			got, err := st.Load(ctx, stream)
			if want := `{"stream":"` + stream + `"}`; err != nil || string(got) != want {
				t.Errorf("Load(%q) = %s, %v; want %s", stream, got, err, want)
			}
		}
	})
	t.Run("a copy under the earlier name rescues an entry torn before the upgrade", func(t *testing.T) {
		kv := NewMemoryKV()
		_ = kv.Set(ctx, "checkpoint:s", []byte(`{"sa`), 0)
		_ = kv.Set(ctx, "checkpoint:s.copy", []byte(`{"save":1}`), 0)
		log := &testLog{}
		got, err := NewKVStore(kv, KVStoreOptions{Log: log}).Load(ctx, "s")
		if err != nil || string(got) != `{"save":1}` || !log.has("checkpoint:s.copy") {
			t.Fatalf("Load: %s, %v; want the earlier copy, named in the warning; log:\n%s", got, err, log)
		}
	})
	t.Run("the copy under the current name wins over the earlier one", func(t *testing.T) {
		kv := NewMemoryKV()
		_ = kv.Set(ctx, "checkpoint:s", nil, 0)
		_ = kv.Set(ctx, "checkpoint:s.copy", []byte(`{"save":1}`), 0)
		_ = kv.Set(ctx, "checkpoint:s#copy", []byte(`{"save":2}`), 0)
		if got, err := NewKVStore(kv, KVStoreOptions{}).Load(ctx, "s"); err != nil || string(got) != `{"save":2}` {
			t.Fatalf("Load: %s, %v; want save 2", got, err)
		}
	})
}
