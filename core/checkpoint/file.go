package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// File keeps one file per stream in a directory: <dir>/<key>.json, written
// durably (temp file, fsync, rename, fsync of the directory). The previous
// durable checkpoint is kept as <key>.json.prev so that an operator can roll
// back by hand; it is never used silently.
//
// A durable write costs three fsyncs with the journal's, 0.9 ms on this
// project's machine, and a backfill acks hundreds of pages a second. With
// SyncEvery(d) the store journals instead: each save appends one
// checksummed line to <key>.json.journal (one write, no fsync: the page
// cache keeps it through a crash of the process), and at most once per d
// for each key the journal is fsynced, which makes its newest line
// durable (0.25 ms). Once the journal holds foldLines lines at such a
// sync, and at a key's first sync of a run, it is folded instead: the
// latest checkpoint written durably to <key>.json and the journal emptied.
// A clean stop syncs every journal that needs it.
// A crash of the process therefore loses no save; a crash of the machine
// loses at most the saves of the last d, which only means re-reading those
// pages. Load prefers the journal's newest line that checks out: every
// line is a whole checkpoint with its own checksum, and a machine that
// died may leave any line written since the last fsync cut short, zeroed
// or missing (file systems write a file's pages back in any order). Lines
// that do not check out are skipped with a warning; an older save only
// means pages are read again. Only a journal with no line that checks out
// and no file beside it is ErrCorrupt.
type File struct {
	dir       string
	syncEvery time.Duration
	now       func() time.Time

	mu       sync.Mutex
	journals map[string]*journal
	leftover []string // temp files found at start: a killed process's unfinished writes
	log      Logger

	write func(*os.File, []byte) (int, error) // (*os.File).Write; tests cut it short
}

// A journal keeps no copy of a checkpoint in memory: the sync at Close
// reads the newest line back, and lines are built in a buffer shared by
// all keys. An input of a thousand tenants has a thousand journals, and a
// copy and a line buffer kept per key held two copies of every checkpoint
// (55 MiB of a 127 MiB live heap in BenchmarkThousandTenantsInOneInput).
type journal struct {
	mu     sync.Mutex
	f      *os.File
	dirty  bool  // the newest line is not durable yet
	line   int64 // where the newest line starts
	size   int64 // bytes of whole lines in the journal
	lines  int   // whole lines in the journal
	synced time.Time
}

// foldLines is how many lines a journal holds before a sync folds it into
// the file rather than fsyncing it alone. A stream that saves less often
// than sync_interval (a tenant polling every 5 s) syncs at every save:
// fsyncing its journal costs one fsync, folding three, and a journal that
// is folded every eighth sync stays small. A backfill appends hundreds of
// lines between two syncs and is folded at each.
const foldLines = 8

// lines lends the buffer a journal line is built in: one write call, so
// that a killed process never leaves half a line with another after it.
var lines = sync.Pool{New: func() any { return new([]byte) }}

// ErrCorrupt means a stored checkpoint does not check out and the store
// holds no intact save of it to resume from: a person must look.
var ErrCorrupt = errors.New("corrupt checkpoint")

// NewFile creates dir if needed and checks that it is writable, so a bad
// path fails at startup rather than at the first checkpoint. Every save is
// durable until SyncEvery says otherwise.
func NewFile(dir string) (*File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("checkpoint directory %s: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("checkpoint directory %s is not writable: %w", dir, err)
	}
	_ = probe.Close()
	_ = os.Remove(probe.Name())
	s := &File{dir: dir, now: time.Now, journals: map[string]*journal{}, write: (*os.File).Write, log: NopLogger{}}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		// The names saveDurable's CreateTemp makes: .<key>.json.tmp-<digits>.
		if _, rest, ok := strings.Cut(e.Name(), ".json.tmp-"); ok && strings.HasPrefix(e.Name(), ".") &&
			rest != "" && strings.Trim(rest, "0123456789") == "" {
			s.leftover = append(s.leftover, e.Name())
		}
	}
	return s, nil
}

// SyncEvery makes saves journaled, durable at most d apart (see File); 0
// makes every save durable.
func (s *File) SyncEvery(d time.Duration) *File {
	s.syncEvery = d
	return s
}

// LogTo sends the store's warnings (a damaged journal line skipped) to log.
func (s *File) LogTo(log Logger) *File {
	s.log = log
	return s
}

// Path is the file that holds key.
func (s *File) Path(key string) string {
	return filepath.Join(s.dir, sanitize(key)+".json")
}

func (s *File) journalPath(key string) string { return s.Path(key) + ".journal" }

func (s *File) Where(key string) string { return s.Path(key) }

func (s *File) Fallback(key string) string {
	prev := "the previous durable checkpoint, if any, is kept as " + s.Path(key) + ".prev"
	if fi, err := os.Stat(s.journalPath(key)); err == nil && fi.Size() > 0 {
		// Load reads the journal first, so the bad checkpoint may be its
		// last line (a kill of a newer release, then a downgrade): fixing
		// or removing the file alone would change nothing.
		return "its journal " + s.journalPath(key) + " is read first: fix or remove it too; " + prev
	}
	return prev
}

func (s *File) Load(_ context.Context, key string) ([]byte, error) {
	jb, err := os.ReadFile(s.journalPath(key))
	switch {
	case err == nil:
		rec, ok, damaged, after := lastRecord(jb)
		switch {
		case ok && after > 0:
			s.log.Warn("checkpoint journal ends in lines that do not check out (a machine that lost power, or damage on disk); "+
				"resuming from its newest intact save: the pages of the saves after it are read again, none is lost",
				"journal", s.journalPath(key), "damaged_lines", damaged)
		case ok && damaged > 0:
			s.log.Warn("checkpoint journal has lines that do not check out (a machine that lost power, or damage on disk); "+
				"skipped: its newest save checks out", "journal", s.journalPath(key), "damaged_lines", damaged)
		case damaged > 0:
			if _, serr := os.Stat(s.Path(key)); serr != nil {
				return nil, fmt.Errorf("%w: %s: none of its %d line(s) checks out, and there is no %s to resume from",
					ErrCorrupt, s.journalPath(key), damaged, s.Path(key))
			}
			s.log.Warn("checkpoint journal has no line that checks out (a machine that lost power, or damage on disk); "+
				"resuming from the last durable checkpoint: pages saved after it are read again, none is lost",
				"journal", s.journalPath(key), "damaged_lines", damaged, "file", s.Path(key))
		}
		if ok {
			return rec, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	b, err := os.ReadFile(s.Path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return b, err
}

func (s *File) Save(_ context.Context, key string, data []byte) error {
	s.sweep(key)
	if s.syncEvery <= 0 || bytes.IndexByte(data, '\n') >= 0 {
		// A journal line cannot hold a newline; such stores are not ours
		// (the core writes compact JSON), but stay correct.
		if err := s.saveDurable(key, data); err != nil {
			return err
		}
		return s.dropJournal(key)
	}
	j, err := s.journal(key)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	buf := lines.Get().(*[]byte)
	*buf = appendRecord((*buf)[:0], data)
	n, err := s.write(j.f, *buf)
	lines.Put(buf)
	if err != nil {
		// A write cut short (a full disk) leaves part of a line, which
		// the next line would join into one that fails its checksum:
		// cut it off, then try to make this save durable.
		if n > 0 {
			_ = j.f.Truncate(j.size)
		}
		return s.fold(key, j, data)
	}
	j.dirty, j.line, j.size, j.lines = true, j.size, j.size+int64(n), j.lines+1
	if s.now().Sub(j.synced) >= s.syncEvery {
		return s.sync(key, j, data)
	}
	return nil
}

// Lock holds key: a store locks the journal of every key it writes (see
// journal), and the core locks each stream's key before loading it, so
// that a second input configured with the same stream fails at start
// instead of sharing the checkpoint.
func (s *File) Lock(key string) error {
	_, err := s.journal(key)
	return err
}

// newest reads back the journal's newest line, the checkpoint that a sync
// without one in hand makes durable.
func (j *journal) newest() ([]byte, error) {
	b := make([]byte, j.size-j.line)
	_, err := j.f.ReadAt(b, j.line)
	rec, ok := []byte(nil), false
	if err == nil {
		rec, ok, _, _ = lastRecord(b)
	}
	if err == nil && !ok {
		err = errors.New("no line checks out")
	}
	if err != nil {
		return nil, fmt.Errorf("journal %s: newest line: %w", j.f.Name(), err)
	}
	return rec, nil
}

// Close makes every journal's newest line durable. It leaves the lines
// where they are: folding every journal made the stop of an input of
// 1,000 tenants take 2.3 s instead of 0.02 (BenchmarkThousandTenantsInOneInput
// under strace), and Load reads the journal first.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for key, j := range s.journals {
		j.mu.Lock()
		err := error(nil)
		if j.dirty {
			err = s.sync(key, j, nil)
		}
		if cerr := j.f.Close(); err == nil {
			err = cerr
		}
		j.mu.Unlock()
		if err != nil && first == nil {
			first = err
		}
	}
	clear(s.journals)
	return first
}

func (s *File) journal(key string) (*journal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.journals[key]; j != nil {
		return j, nil
	}
	path := s.journalPath(key)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	// The journal's exclusive lock, held until Close or the end of the
	// process, keeps the key to this store: a second input saving it
	// would move the checkpoint past pages only the first had delivered.
	// Taken before the journal is read, which must not be cut while
	// another process appends.
	if err := flock(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	whole := bytes.LastIndexByte(b, '\n') + 1
	if whole < len(b) {
		// A power loss tore the last line (Load skipped it): cut it off,
		// or this run's first line would join it.
		if err := f.Truncate(int64(whole)); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	// An earlier run's lines count towards the next fold (line stays 0:
	// newest then reads them all and finds the last).
	j := &journal{f: f, size: int64(whole), lines: bytes.Count(b[:whole], []byte{'\n'})}
	// synced is zero: the first save of a run folds.
	s.journals[key] = j
	return j, nil
}

// sync makes the journal's newest line durable: an fsync of the journal,
// or a fold once it holds foldLines lines and at the first sync of a run
// (so that <key>.json exists from a stream's first save, and an earlier
// run's journal starts empty). A fold writes latest, or with nil the
// newest line read back.
func (s *File) sync(key string, j *journal, latest []byte) error {
	if j.lines >= foldLines || j.synced.IsZero() {
		if latest == nil {
			var err error
			if latest, err = j.newest(); err != nil {
				return err
			}
		}
		return s.fold(key, j, latest)
	}
	if err := j.f.Sync(); err != nil {
		return err
	}
	j.dirty, j.synced = false, s.now()
	return nil
}

// fold writes latest durably to key's file and empties the journal: the
// journal is fsynced first, so that, whatever the machine keeps of what
// follows, its newest line is never older than the durable file. After a
// failure the journal still holds its lines for the next sync.
func (s *File) fold(key string, j *journal, latest []byte) error {
	err := j.f.Sync()
	if err == nil {
		err = s.saveDurable(key, latest)
	}
	if err == nil {
		err = j.f.Truncate(0)
	}
	if err != nil {
		return err
	}
	j.dirty, j.size, j.lines = false, 0, 0
	j.synced = s.now()
	return nil
}

// dropJournal empties key's journal after a durable save, which it would
// otherwise override with an older line.
func (s *File) dropJournal(key string) error {
	s.mu.Lock()
	j := s.journals[key]
	s.mu.Unlock()
	if j != nil {
		j.mu.Lock()
		defer j.mu.Unlock()
		j.dirty = false
		if err := j.f.Truncate(0); err != nil {
			return err
		}
		j.size, j.lines = 0, 0
		return nil
	}
	if err := os.Truncate(s.journalPath(key), 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// A journal line is the CRC-32C of the checkpoint in 8 hex digits, a
// space, the checkpoint, a newline.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendRecord(dst, data []byte) []byte {
	dst = fmt.Appendf(dst, "%08x ", crc32.Checksum(data, castagnoli))
	dst = append(dst, data...)
	return append(dst, '\n')
}

// lastRecord returns the newest line of a journal that checks out, how
// many complete lines do not, and how many of those come after it. A line
// that checks out is trusted wherever the damage lies (see File); a last
// line without its newline is a write that never finished, skipped without
// counting: the next start cuts it off.
func lastRecord(b []byte) (rec []byte, ok bool, damaged, after int) {
	for len(b) > 0 {
		line, rest, complete := bytes.Cut(b, []byte{'\n'})
		b = rest
		if !complete {
			break
		}
		if len(line) < 9 || line[8] != ' ' {
			damaged, after = damaged+1, after+1
			continue
		}
		want, err := strconv.ParseUint(string(line[:8]), 16, 32)
		if err != nil || uint32(want) != crc32.Checksum(line[9:], castagnoli) {
			damaged, after = damaged+1, after+1
			continue
		}
		rec, ok, after = line[9:], true, 0
	}
	return rec, ok, damaged, after
}

// sweep removes the temp files a killed process left behind mid-write
// for key, before key's first save: nothing reads them, and each kill at
// that moment would leave one more. Only this key's, which the process
// that saves it owns, and only those there at start.
func (s *File) sweep(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.leftover) == 0 {
		return
	}
	prefix := "." + filepath.Base(s.Path(key)) + ".tmp-"
	kept := s.leftover[:0]
	for _, name := range s.leftover {
		if rest, ok := strings.CutPrefix(name, prefix); ok && strings.Trim(rest, "0123456789") == "" {
			_ = os.Remove(filepath.Join(s.dir, name))
			continue
		}
		kept = append(kept, name)
	}
	s.leftover = kept
}

// saveDurable writes data to key's file atomically and durably, keeping the
// previous version as .prev.
func (s *File) saveDurable(key string, data []byte) error {
	path := s.Path(key)
	tmp, err := os.CreateTemp(s.dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	cleanup := func() { _ = tmp.Close(); _ = os.Remove(tmp.Name()) }
	if _, err := tmp.Write(data); err != nil {
		cleanup()
		return err
	}
	if err := tmp.Sync(); err != nil {
		cleanup()
		return err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	// Keep the last good copy: a hard link costs nothing and survives the
	// rename below.
	prev := path + ".prev"
	if _, err := os.Stat(path); err == nil {
		_ = os.Remove(prev)
		if err := os.Link(path, prev); err != nil {
			_ = os.Remove(tmp.Name())
			return err
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

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
