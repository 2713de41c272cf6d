package checkpoint

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The journal keeps no copy of a checkpoint in memory (an input of a
// thousand tenants has a thousand journals): a fold at Close reads the
// newest line back from the journal, checksum and all.
func TestJournalSyncsTheNewestLineReadBackFromDisk(t *testing.T) {
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

	// fill saves the first of a run (a fold) and foldLines more, not
	// due a sync: the next sync, the one at Close, folds again.
	fill := func(t *testing.T, s *File) {
		t.Helper()
		for v := 1; v <= 1+foldLines; v++ {
			if err := s.Save(ctx, "k", fmt.Appendf(nil, `{"v":%d}`, v)); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("close folds the newest journaled save as it was handed over", func(t *testing.T) {
		s := open(t)
		fill(t, s)
		data := []byte(`{"v":100,"more":true}`)
		if err := s.Save(ctx, "k", data); err != nil {
			t.Fatal(err)
		}
		copy(data, `{"v":999}`) // the caller may reuse its buffer
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if got := durable(t, s); got != `{"v":100,"more":true}` {
			t.Fatalf("durable %s", got)
		}
	})

	t.Run("a newest line changed on disk fails close, and is not made durable", func(t *testing.T) {
		s := open(t)
		fill(t, s)
		j, err := os.ReadFile(s.journalPath("k"))
		if err != nil {
			t.Fatal(err)
		}
		newest := fmt.Sprintf(`"v":%d}`, 1+foldLines)
		if err := os.WriteFile(s.journalPath("k"), bytes.Replace(j, []byte(newest), []byte(`"v":77}`), 1), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err == nil || !strings.Contains(err.Error(), s.journalPath("k")) {
			t.Fatalf("close: %v; want an error naming the journal", err)
		}
		if got := durable(t, s); got != `{"v":1}` {
			t.Fatalf("durable %s, want the last good sync", got)
		}
	})

	t.Run("a failed fold keeps the newest checkpoint for the next", func(t *testing.T) {
		s := open(t)
		for v := 1; v <= foldLines; v++ { // the first folds, the others fill the journal
			if err := s.Save(ctx, "k", fmt.Appendf(nil, `{"v":%d}`, v)); err != nil {
				t.Fatal(err)
			}
		}
		// A non-empty directory where the .prev link goes makes the
		// durable write fail.
		block := filepath.Join(s.Path("k")+".prev", "x")
		if err := os.MkdirAll(block, 0o700); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Hour)
		data := []byte(`{"v":100}`)
		if err := s.Save(ctx, "k", data); err == nil {
			t.Fatal("want the fold's error")
		}
		copy(data, `{"v":999}`)
		if got, err := s.Load(ctx, "k"); err != nil || string(got) != `{"v":100}` {
			t.Fatalf("loaded %s, %v: the journal still holds the save", got, err)
		}
		if err := os.RemoveAll(s.Path("k") + ".prev"); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if got := durable(t, s); got != `{"v":100}` {
			t.Fatalf("durable %s after close, want the save whose fold failed", got)
		}
	})
}

// A tenant that saves less often than sync_interval syncs at every save.
// A sync fsyncs the journal alone (one fsync) until the journal holds
// foldLines lines; then it folds them into the file (three fsyncs). What
// loads is the newest save either way, and a clean stop folds.
func TestJournalIsFsyncedAtEachSyncAndFoldedEveryFoldLines(t *testing.T) {
	ctx := context.Background()
	s, err := NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	s.SyncEvery(time.Second)
	durable := func() string {
		b, _ := os.ReadFile(s.Path("k"))
		return string(b)
	}
	journalLines := func() int {
		b, _ := os.ReadFile(s.journalPath("k"))
		return bytes.Count(b, []byte{'\n'})
	}
	for v := 1; v <= 2*foldLines+3; v++ {
		clock = clock.Add(5 * time.Second) // every save is due a sync
		if err := s.Save(ctx, "k", fmt.Appendf(nil, `{"v":%d}`, v)); err != nil {
			t.Fatal(err)
		}
		// The first save of a run folds; then every foldLines-th.
		folded := 1 + (v-1)/foldLines*foldLines
		if got, want := durable(), fmt.Sprintf(`{"v":%d}`, folded); got != want {
			t.Fatalf("after save %d: durable file %s, want %s", v, got, want)
		}
		if got, want := journalLines(), v-folded; got != want {
			t.Fatalf("after save %d: journal holds %d lines, want %d", v, got, want)
		}
		if s.journals["k"].dirty {
			t.Fatalf("after save %d: the newest line is not durable", v)
		}
		if got, err := NewFile(s.dir); err != nil {
			t.Fatal(err)
		} else if b, err := got.Load(ctx, "k"); err != nil || string(b) != fmt.Sprintf(`{"v":%d}`, v) {
			t.Fatalf("after save %d: a new store loads %s, %v", v, b, err)
		}
	}
	// A save not due a sync is made durable by Close, which leaves it in
	// the journal: folding every journal would make stopping an input of
	// many tenants cost three fsyncs each.
	last := fmt.Appendf(nil, `{"v":%d}`, 2*foldLines+4)
	if err := s.Save(ctx, "k", last); err != nil {
		t.Fatal(err)
	}
	if !s.journals["k"].dirty {
		t.Fatal("a save before sync_interval passed was synced")
	}
	j := s.journals["k"]
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if j.dirty || journalLines() != 3 || durable() != fmt.Sprintf(`{"v":%d}`, 2*foldLines+1) {
		t.Fatalf("after close: dirty %v, journal %d lines, durable %s", j.dirty, journalLines(), durable())
	}
	if b, err := s.Load(ctx, "k"); err != nil || string(b) != string(last) {
		t.Fatalf("after close: loads %s, %v", b, err)
	}
}

// A full disk cuts a journal write short. What it left of the line must
// not join the next line into one that fails its checksum: the journal
// would then read as corrupt at the next start, and stop the stream.
func TestJournalLineCutShortByAFullDiskIsCutOff(t *testing.T) {
	ctx := context.Background()
	s, err := NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.SyncEvery(time.Hour)
	if err := s.Save(ctx, "k", []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "k", []byte(`{"v":2}`)); err != nil {
		t.Fatal(err)
	}
	// The disk fills: half a line is written, and the durable write
	// that follows fails too.
	s.write = func(f *os.File, b []byte) (int, error) {
		n, _ := f.Write(b[:len(b)/2])
		return n, syscall.ENOSPC
	}
	if err := os.MkdirAll(filepath.Join(s.Path("k")+".prev", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "k", []byte(`{"v":3,"pad":"a line long enough to be cut"}`)); err == nil {
		t.Fatal("want the full disk's error")
	}
	// Space again: the saves go on in the journal (the next durable
	// write is not due), and the process dies before it closes the store.
	s.write = (*os.File).Write
	for _, v := range []string{`{"v":4}`, `{"v":5}`} {
		if err := s.Save(ctx, "k", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	again, err := NewFile(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := again.Load(ctx, "k")
	if errors.Is(err, ErrCorrupt) || string(got) != `{"v":5}` {
		t.Fatalf("loaded %s, %v; want the newest save", got, err)
	}
}

// A power loss may leave the journal's last line torn; Load skips it. The
// next run's lines must not join it, or a journal that is never folded
// into the file (every durable write failing) would read as corrupt.
func TestTornJournalLineIsCutOffBeforeTheNextRunAppends(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	j := appendRecord(nil, []byte(`{"v":1}`))
	j = append(j, appendRecord(nil, []byte(`{"v":2}`))[:9]...) // torn
	if err := os.WriteFile(s.journalPath("k"), j, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, "k"); err != nil || string(got) != `{"v":1}` {
		t.Fatalf("loaded %s, %v", got, err)
	}
	if err := os.MkdirAll(filepath.Join(s.Path("k")+".prev", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path("k"), []byte(`{"v":0}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s.SyncEvery(time.Hour)
	for _, v := range []string{`{"v":3}`, `{"v":4}`} {
		if err := s.Save(ctx, "k", []byte(v)); err == nil {
			t.Fatal("want the durable write's error")
		}
	}
	again, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Load(ctx, "k"); err != nil || string(got) != `{"v":4}` {
		t.Fatalf("loaded %s, %v; want the newest save", got, err)
	}
}

// Whatever a full disk, a failing durable write, a crash or a clean stop
// does to a journaled store, the next start loads a checkpoint that was
// saved, and none older than the last save that succeeded. Random runs
// from fixed seeds.
func TestJournaledStoreLoadsTheNewestSuccessfulSaveAfterAnyFailures(t *testing.T) {
	ctx := context.Background()
	for seed := int64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 0))
		dir := t.TempDir()
		clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		open := func() *File {
			s, err := NewFile(dir)
			if err != nil {
				t.Fatal(err)
			}
			s.now = func() time.Time { return clock }
			return s.SyncEvery(time.Minute)
		}
		abandon := func(s *File) { // a crash: no Close, nothing synced
			for _, j := range s.journals {
				_ = j.f.Close()
			}
		}
		block := filepath.Join(dir, "k.json.prev", "x")
		s := open()
		ok, tried, inRun := 0, 0, 0 // newest save that succeeded, was tried, reached this run's journal
		check := func(step string) {
			t.Helper()
			got, err := open().Load(ctx, "k")
			if errors.Is(err, ErrNotFound) && ok == 0 {
				return
			}
			v := 0
			if err == nil {
				_, err = fmt.Sscanf(string(got), `{"v":%d`, &v)
			}
			if err != nil || v < ok || v > tried {
				t.Fatalf("seed %d, after %s: loaded %q, %v; want a save from %d to %d", seed, step, got, err, ok, tried)
			}
		}
		for range 30 {
			switch op := rng.IntN(10); {
			case op < 5:
				tried++
				data := fmt.Appendf(nil, `{"v":%d,"pad":"%s"}`, tried, strings.Repeat("x", rng.IntN(200)))
				full := rng.IntN(4) == 0
				s.write = (*os.File).Write
				if full { // the disk fills: part of the line is written
					s.write = func(f *os.File, b []byte) (int, error) {
						n, _ := f.Write(b[:rng.IntN(len(b))])
						return n, syscall.ENOSPC
					}
				}
				if err := s.Save(ctx, "k", data); err == nil {
					ok = tried
				}
				if !full {
					inRun = tried // in the journal, for Close
				}
			case op == 5:
				if rng.IntN(2) == 0 {
					_ = os.MkdirAll(block, 0o700) // durable writes fail
				} else {
					_ = os.RemoveAll(filepath.Dir(block))
				}
			case op == 6:
				clock = clock.Add(time.Duration(rng.IntN(120)) * time.Second)
			case op == 7:
				abandon(s)
				check("a crash")
				s, inRun = open(), 0
			case op == 8:
				if err := s.Close(); err == nil {
					// A clean stop makes durable this run's newest save
					// that reached the journal, even one whose own
					// durable write failed.
					ok = max(ok, inRun)
				}
				inRun = 0
				check("a clean stop")
				s = open()
			default:
				check("a look")
			}
		}
		abandon(s)
		check("the end")
	}
}

// A process killed inside a durable write leaves its temp file; a kill
// at that moment each time would fill the directory. A key's leftovers
// go before its first save; other keys' files, and anything that is no
// temp file of ours, stay.
func TestLeftoverTempFilesOfAKeyAreRemovedBeforeItsFirstSave(t *testing.T) {
	dir := t.TempDir()
	files := map[string]bool{ // name: removed by k's first save
		".k.json.tmp-2718263466":    true,
		".k.json.tmp-1":             true,
		".other.json.tmp-99":        false,
		".k.json.tmp-x.json.tmp-12": false, // another key's ("k.json.tmp-x")
		".k.json.tmp-notdigits":     false,
		"k.json.tmp-123":            false, // not hidden: not CreateTemp's
		".k.json.prev":              false,
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, every := range []time.Duration{0, time.Hour} { // durable, then journaled
		if err := s.SyncEvery(every).Save(context.Background(), "k", []byte(`{"v":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	for name, removed := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if gone := errors.Is(err, os.ErrNotExist); gone != removed {
			t.Errorf("%s: removed %v, want %v", name, gone, removed)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") && !files[e.Name()] {
			if _, known := files[e.Name()]; !known {
				t.Errorf("a new temp file %s was left", e.Name())
			}
		}
	}
}

// A power loss can leave a whole last journal line that fails its checksum
// (the end of an unsynced line reached the disk, its start did not). The
// next run loads the line before it and appends after the damaged one; a
// kill before its fold leaves a damaged line before a good one, and the
// start after that loads the good one, the killed process's save.
func TestAKillAfterADamagedJournalLineLosesNoSave(t *testing.T) {
	if d := os.Getenv("AUDITPULL_DAMAGED_JOURNAL_DIR"); d != "" {
		s, err := NewFile(d)
		if err != nil {
			os.Exit(2)
		}
		s.SyncEvery(time.Second)
		s.write = func(f *os.File, b []byte) (int, error) {
			n, err := f.Write(b)
			_, _ = os.Stdout.WriteString("appended\n") // killed here, before the fold
			time.Sleep(time.Minute)
			return n, err
		}
		if err := s.Lock("k"); err != nil {
			os.Exit(3)
		}
		if _, err := s.Load(context.Background(), "k"); err != nil {
			_, _ = os.Stdout.WriteString("load: " + err.Error() + "\n")
			os.Exit(4)
		}
		_ = s.Save(context.Background(), "k", []byte(`{"v":3}`))
		os.Exit(0)
	}
	dir := t.TempDir()
	s := &File{dir: dir}
	if err := os.WriteFile(s.Path("k"), []byte(`{"v":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	j := appendRecord(nil, []byte(`{"v":2}`))
	l3 := appendRecord(nil, []byte(`{"v":2,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`))
	for i := 0; i < len(l3)-10; i++ {
		l3[i] = 0
	}
	if err := os.WriteFile(s.journalPath("k"), append(j, l3...), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestAKillAfterADamagedJournalLineLosesNoSave$")
	cmd.Env = append(os.Environ(), "AUDITPULL_DAMAGED_JOURNAL_DIR="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "appended\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()

	s2, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Lock("k"); err != nil {
		t.Fatal(err)
	}
	b, err := s2.Load(context.Background(), "k")
	if err != nil {
		t.Fatalf("the start after the kill cannot load the checkpoint it loaded before: %v", err)
	}
	if string(b) != `{"v":3}` {
		t.Fatalf("loaded %s, want the killed process's save {\"v\":3}", b)
	}
}
