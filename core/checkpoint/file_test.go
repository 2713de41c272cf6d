package checkpoint_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditpull/auditpull/core/checkpoint"
)

func TestFileStore(t *testing.T) {
	ctx := context.Background()
	t.Run("a first run finds no checkpoint", func(t *testing.T) {
		s, _ := checkpoint.NewFile(t.TempDir())
		if _, err := s.Load(ctx, "nordpass-eu"); !errors.Is(err, checkpoint.ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
	})
	t.Run("saves replace atomically and keep the previous good copy", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := checkpoint.NewFile(dir)
		for _, v := range []string{`{"v":1}`, `{"v":2}`, `{"v":3}`} {
			if err := s.Save(ctx, "k", []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := s.Load(ctx, "k")
		prev, _ := os.ReadFile(s.Path("k") + ".prev")
		if string(got) != `{"v":3}` || string(prev) != `{"v":2}` {
			t.Fatalf("current %s, previous %s", got, prev)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Fatalf("temporary file left behind: %s", e.Name())
			}
		}
	})
	t.Run("stream keys never escape the directory", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := checkpoint.NewFile(dir)
		for _, key := range []string{"../../etc/passwd", "qualtrics/login", "..", "a b"} {
			if err := s.Save(ctx, key, []byte("{}")); err != nil {
				t.Fatal(err)
			}
			if filepath.Dir(s.Path(key)) != dir {
				t.Fatalf("%q maps outside the directory: %s", key, s.Path(key))
			}
		}
	})
	t.Run("an unwritable directory fails at startup", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root can write anywhere")
		}
		dir := t.TempDir()
		os.Chmod(dir, 0o500)
		if _, err := checkpoint.NewFile(filepath.Join(dir, "sub")); err == nil {
			t.Fatal("want an error")
		}
	})
}
