package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File keeps one file per stream in a directory: <dir>/<key>.json, written
// atomically (temp file, fsync, rename, fsync of the directory). The
// previous good checkpoint is kept as <key>.json.prev so that an operator
// can roll back by hand; it is never used silently.
type File struct {
	dir string
}

// NewFile creates dir if needed and checks that it is writable, so a bad
// path fails at startup rather than at the first checkpoint.
func NewFile(dir string) (*File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("checkpoint directory %s: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("checkpoint directory %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return &File{dir: dir}, nil
}

// Path is the file that holds key.
func (s *File) Path(key string) string {
	return filepath.Join(s.dir, sanitize(key)+".json")
}

func (s *File) Where(key string) string { return s.Path(key) }

func (s *File) Load(_ context.Context, key string) ([]byte, error) {
	b, err := os.ReadFile(s.Path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return b, err
}

func (s *File) Save(_ context.Context, key string, data []byte) error {
	path := s.Path(key)
	tmp, err := os.CreateTemp(s.dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	if _, err := tmp.Write(data); err != nil {
		cleanup()
		return err
	}
	if err := tmp.Sync(); err != nil {
		cleanup()
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	// Keep the last good copy: a hard link costs nothing and survives the
	// rename below.
	prev := path + ".prev"
	if _, err := os.Stat(path); err == nil {
		os.Remove(prev)
		if err := os.Link(path, prev); err != nil {
			os.Remove(tmp.Name())
			return err
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (s *File) Close() error { return nil }

// sanitize maps a stream key to a file name: keys are chosen by users and
// must never escape the directory.
func sanitize(key string) string {
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "%%%02X", r)
		}
	}
	s := b.String()
	if s == "" || s == "." || s == ".." {
		s = "%" + s
	}
	return s
}
