package checkpoint_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		if _, err := checkpoint.NewFile(filepath.Join(dir, "sub")); err == nil {
			t.Fatal("want an error")
		}
	})
}

// journaled opens a store over dir that makes saves durable an hour apart:
// every save after the first of a run only goes to the journal.
func journaled(t *testing.T, dir string) *checkpoint.File {
	t.Helper()
	s, err := checkpoint.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s.SyncEvery(time.Hour)
}

func load(t *testing.T, s *checkpoint.File, key string) string {
	t.Helper()
	b, err := s.Load(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestJournaledFileStore(t *testing.T) {
	ctx := context.Background()
	save := func(t *testing.T, s *checkpoint.File, vs ...string) {
		t.Helper()
		for _, v := range vs {
			if err := s.Save(ctx, "k", []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("a process that dies keeps every save: the next one reads the journal", func(t *testing.T) {
		dir := t.TempDir()
		save(t, journaled(t, dir), `{"v":1}`, `{"v":2}`, `{"v":3}`) // never closed
		s := journaled(t, dir)
		if got := load(t, s, "k"); got != `{"v":3}` {
			t.Fatalf("loaded %s", got)
		}
		if durable, _ := os.ReadFile(s.Path("k")); string(durable) != `{"v":1}` {
			t.Fatalf("durable file %s: only the first save of a run is synced at once", durable)
		}
	})
	t.Run("after close the next start loads the latest save", func(t *testing.T) {
		dir := t.TempDir()
		s := journaled(t, dir)
		save(t, s, `{"v":1}`, `{"v":2}`)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if got := load(t, journaled(t, dir), "k"); got != `{"v":2}` {
			t.Fatalf("loaded %s", got)
		}
	})
	t.Run("a zero interval makes every save durable", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := checkpoint.NewFile(dir)
		save(t, s.SyncEvery(0), `{"v":1}`, `{"v":2}`)
		if durable, _ := os.ReadFile(s.Path("k")); string(durable) != `{"v":2}` {
			t.Fatalf("durable %s", durable)
		}
	})
	t.Run("a durable save after journaled ones wins over the journal", func(t *testing.T) {
		dir := t.TempDir()
		save(t, journaled(t, dir), `{"v":1}`, `{"v":2}`)
		s, _ := checkpoint.NewFile(dir)
		save(t, s, `{"v":3}`)
		if got := load(t, s, "k"); got != `{"v":3}` {
			t.Fatalf("loaded %s", got)
		}
	})
	t.Run("a checkpoint with a newline is saved durably", func(t *testing.T) {
		dir := t.TempDir()
		s := journaled(t, dir)
		save(t, s, `{"v":1}`, `{"v":2}`, "{\n\"v\":3}")
		if got := load(t, journaled(t, dir), "k"); got != "{\n\"v\":3}" {
			t.Fatalf("loaded %q", got)
		}
	})

	// Every line is a whole checkpoint with its checksum, and a machine
	// that lost power may leave any line written since the last fsync cut
	// short, zeroed or missing: the newest line that checks out wins, with
	// a warning when lines were skipped. An older save only re-reads pages.
	v3 := fmt.Sprintf("%08x {\"v\":3}", crc32.Checksum([]byte(`{"v":3}`), crc32.MakeTable(crc32.Castagnoli)))
	zeroed := strings.Repeat("\x00", 24)
	damaged := []struct {
		name    string
		journal string // %s: the journal's own lines, the newest {"v":2}
		noFile  bool   // <key>.json removed
		want    string // "" when Load must fail with ErrCorrupt
		warning string // "" when Load must not warn
	}{
		{"a line cut short by a power loss is skipped", "%s\n{\"v\":", false, `{"v":2}`, ""},
		{"a last line that fails its checksum is skipped, and pages after the save in force are read again", "%s\n00000000 {\"v\":3}\n", false, `{"v":2}`, "read again"},
		{"a bad line before a good one is skipped: the good one is newer", "00000000 {\"v\":0}\n%s\n", false, `{"v":2}`, "its newest save checks out"},
		{"a line that is no record is skipped", "garbage\n%s\n", false, `{"v":2}`, "its newest save checks out"},
		{"zeroes a power loss left mid-journal are skipped for the line after them", "%s\n" + zeroed + "\"v\":2.5}\n" + v3 + "\n", false, `{"v":3}`, "its newest save checks out"},
		{"a journal none of whose lines checks out falls back to the durable file", "garbage\n00000000 {\"v\":3}\n", false, `{"v":1}`, "resuming from the last durable checkpoint"},
		{"a journal none of whose lines checks out, without a file, is corruption", "garbage\n", true, "", ""},
		{"an empty journal leaves the durable file", "", false, `{"v":1}`, ""},
	}
	for _, tc := range damaged {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := journaled(t, dir)
			save(t, s, `{"v":1}`, `{"v":2}`)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			j, _ := os.ReadFile(s.Path("k") + ".journal")
			content := tc.journal
			content = strings.Replace(content, "%s", strings.TrimSuffix(string(j), "\n"), 1)
			if err := os.WriteFile(s.Path("k")+".journal", []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.noFile {
				if err := os.Remove(s.Path("k")); err != nil {
					t.Fatal(err)
				}
			}
			log := &warnings{}
			got, err := journaled(t, dir).LogTo(log).Load(ctx, "k")
			if tc.want == "" {
				if !errors.Is(err, checkpoint.ErrCorrupt) || !strings.Contains(err.Error(), s.Path("k")+".journal") {
					t.Fatalf("want ErrCorrupt naming the journal, got %v (%s)", err, got)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("loaded %s, %v; want %s", got, err, tc.want)
			}
			switch warned := log.String(); {
			case tc.warning == "" && warned != "":
				t.Errorf("warned %q; want no warning", warned)
			case tc.warning != "" && (!strings.Contains(warned, tc.warning) || !strings.Contains(warned, s.Path("k")+".journal")):
				t.Errorf("warned %q; want a warning saying %q and naming the journal", warned, tc.warning)
			}
		})
	}
}

// warnings records a store's warnings.
type warnings struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *warnings) Debug(string, ...any) {}
func (w *warnings) Info(string, ...any)  {}
func (w *warnings) Warn(msg string, kv ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(&w.b, "%s %v\n", msg, kv)
}
func (w *warnings) Error(msg string, kv ...any) { w.Warn(msg, kv...) }
func (w *warnings) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// BenchmarkFileSave compares a durable save with journaled ones: saves
// far more often than sync_interval (a backfill), and saves each due a
// sync (a tenant polling every 5 s under the 1 s default).
func BenchmarkFileSave(b *testing.B) {
	data := []byte(`{"version":1,"stream":"nordpass-eu","cursor":"2026-01-01T00:00:00Z","window":{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z","page":17}}`)
	for _, bc := range []struct {
		name  string
		every time.Duration
	}{{"durable", 0}, {"journaled-1s", time.Second}, {"journaled-sync-each", time.Nanosecond}} {
		b.Run(bc.name, func(b *testing.B) {
			s, _ := checkpoint.NewFile(b.TempDir())
			s.SyncEvery(bc.every)
			for b.Loop() {
				if err := s.Save(context.Background(), "k", data); err != nil {
					b.Fatal(err)
				}
			}
			s.Close()
		})
	}
}

// Two inputs that save one key would each move the checkpoint past pages
// only the other had delivered. A store holds every key it writes until
// Close or until its process ends: another store, in this process or
// another, is refused it.
func TestAKeyIsHeldByOneStoreAtATime(t *testing.T) {
	if os.Getenv("AUDITPULL_HOLD_KEY") != "" {
		// The other process: hold the key until killed.
		s, err := checkpoint.NewFile(os.Getenv("AUDITPULL_HOLD_DIR"))
		if err == nil {
			err = s.Lock(os.Getenv("AUDITPULL_HOLD_KEY"))
		}
		if err != nil {
			os.Exit(2)
		}
		_, _ = os.Stdout.WriteString("held\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	ctx := context.Background()
	dir := t.TempDir()
	open := func(t *testing.T) *checkpoint.File {
		t.Helper()
		s, err := checkpoint.NewFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s.SyncEvery(time.Second)
	}
	refused := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, checkpoint.ErrInUse) || !strings.Contains(err.Error(), filepath.Join(dir, "k.json.journal")) {
			t.Fatalf("want ErrInUse naming the journal, got %v", err)
		}
	}

	t.Run("in one process", func(t *testing.T) {
		a, b := open(t), open(t)
		if err := a.Lock("k"); err != nil {
			t.Fatal(err)
		}
		if err := a.Lock("k"); err != nil {
			t.Fatalf("locking a held key again: %v", err)
		}
		refused(t, b.Lock("k"))
		refused(t, b.Save(ctx, "k", []byte(`{"v":2}`)))
		if err := b.Lock("other"); err != nil {
			t.Fatalf("another key: %v", err)
		}
		if err := a.Save(ctx, "k", []byte(`{"v":1}`)); err != nil {
			t.Fatal(err)
		}
		if got := load(t, b, "k"); got != `{"v":1}` {
			t.Fatalf("a store that does not hold the key still reads it: %s", got)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Lock("k"); err != nil {
			t.Fatalf("after the holder closed: %v", err)
		}
		_ = b.Close()
	})

	t.Run("in another process, until it is killed", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestAKeyIsHeldByOneStoreAtATime$")
		cmd.Env = append(os.Environ(), "AUDITPULL_HOLD_KEY=k", "AUDITPULL_HOLD_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "held\n" {
			t.Fatalf("the other process: %q, %v", line, err)
		}
		s := open(t)
		defer s.Close()
		refused(t, s.Lock("k"))
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if err := s.Lock("k"); err != nil {
			t.Fatalf("after the holder was killed: %v", err)
		}
	})
}
