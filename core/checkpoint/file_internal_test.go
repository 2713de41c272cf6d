package checkpoint

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The journal holds a checkpoint only until it is durable: an input of a
// thousand tenants has a thousand journals, and a copy kept past its sync
// is memory held for nothing. What the copy is for, a later sync, must
// still find it when a sync fails.
func TestJournalHoldsACheckpointOnlyUntilItIsDurable(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	open := func(t *testing.T) *File {
		t.Helper()
		s, err := NewFile(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		s.now = func() time.Time { return clock }
		return s.SyncEvery(time.Minute)
	}
	durable := func(t *testing.T, s *File) string {
		t.Helper()
		b, err := os.ReadFile(s.Path("k"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	t.Run("a synced save keeps no copy; a journaled one keeps its own", func(t *testing.T) {
		s := open(t)
		if err := s.Save(ctx, "k", []byte(`{"v":1}`)); err != nil {
			t.Fatal(err)
		}
		if j := s.journals["k"]; j.last != nil || j.dirty {
			t.Fatalf("after a sync the journal holds %q (dirty %v)", j.last, j.dirty)
		}
		data := []byte(`{"v":2}`)
		if err := s.Save(ctx, "k", data); err != nil {
			t.Fatal(err)
		}
		copy(data, `{"v":9}`) // the caller may reuse its buffer
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if got := durable(t, s); got != `{"v":2}` {
			t.Fatalf("durable %s, want the journaled save as it was handed over", got)
		}
	})

	t.Run("a failed sync keeps the newest checkpoint for the next", func(t *testing.T) {
		s := open(t)
		if err := s.Save(ctx, "k", []byte(`{"v":1}`)); err != nil {
			t.Fatal(err)
		}
		// A non-empty directory where the .prev link goes makes the
		// durable write fail.
		block := filepath.Join(s.Path("k")+".prev", "x")
		if err := os.MkdirAll(block, 0o700); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Hour)
		data := []byte(`{"v":2}`)
		if err := s.Save(ctx, "k", data); err == nil {
			t.Fatal("want the sync's error")
		}
		copy(data, `{"v":9}`)
		if got, err := s.Load(ctx, "k"); err != nil || string(got) != `{"v":2}` {
			t.Fatalf("loaded %s, %v: the journal still holds the save", got, err)
		}
		if err := os.RemoveAll(s.Path("k") + ".prev"); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if got := durable(t, s); got != `{"v":2}` {
			t.Fatalf("durable %s after close, want the save whose sync failed", got)
		}
	})
}
