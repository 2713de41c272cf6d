package checkpoint_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core/checkpoint"
)

// A dry run reads what the file store holds, as the store itself would,
// and leaves the directory exactly as it was: nothing created, probed or
// written, whatever it is asked to save.
func TestReadOnlyFileReadsTheCheckpointsAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	// run saves values as a run of the file store (journaled, syncing
	// hourly) would, and returns the store.
	run := func(t *testing.T, dir string, values ...string) *checkpoint.File {
		t.Helper()
		s, err := checkpoint.NewFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		s.SyncEvery(time.Hour)
		for _, v := range values {
			if err := s.Save(ctx, "k", []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) // leaves dir as a run left it
		want  string                         // what Load returns; "" for ErrNotFound
	}{
		{name: "a missing directory", setup: func(*testing.T, string) {}},
		{name: "an empty directory", setup: func(t *testing.T, dir string) { run(t, dir) }},
		{name: "a clean stop", want: `{"v":2}`, setup: func(t *testing.T, dir string) {
			if err := run(t, dir, `{"v":1}`, `{"v":2}`).Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a kill, the newest save in the journal", want: `{"v":3}`, setup: func(t *testing.T, dir string) {
			run(t, dir, `{"v":1}`, `{"v":2}`, `{"v":3}`) // never closed
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			tc.setup(t, dir)
			before := readOnlyDirState(t, dir)

			s := checkpoint.ReadOnlyFile(dir, checkpoint.NopLogger{})
			b, err := s.Load(ctx, "k")
			switch {
			case tc.want == "" && !errors.Is(err, checkpoint.ErrNotFound):
				t.Fatalf("Load: %q, %v; want ErrNotFound", b, err)
			case tc.want != "" && (err != nil || string(b) != tc.want):
				t.Fatalf("Load: %q, %v; want %s", b, err, tc.want)
			}
			if err := s.Save(ctx, "k", []byte(`{"v":9}`)); err != nil {
				t.Fatalf("Save: %v", err)
			}
			if err := s.Save(ctx, "other", []byte(`{"v":9}`)); err != nil {
				t.Fatalf("Save: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if after := readOnlyDirState(t, dir); !maps.Equal(after, before) {
				t.Fatalf("the directory changed:\nbefore %v\nafter  %v", before, after)
			}
			if _, ok := s.(interface{ Fallback(string) string }); !ok {
				t.Error("the store does not say what it keeps beside a bad checkpoint")
			}
		})
	}
}

// readOnlyDirState is dir as far as a write would show: its own modification time
// (a file created and removed again changes it), and each file's content
// and modification time.
func readOnlyDirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	out["."] = fi.ModTime().String()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi.ModTime().String() + " " + string(b)
	}
	return out
}
