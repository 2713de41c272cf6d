package checkpoint

import "context"

// ReadOnly is st for a dry run: it loads the saved checkpoints, and Save
// succeeds without writing, so the position is left exactly as found even
// over the empty windows the core commits by itself.
func ReadOnly(st Store) Store { return readOnly{st} }

// ReadOnlyFile reads the checkpoints a File store keeps in dir without
// creating dir, probing it or writing anything there (Save writes
// nothing): a dry run may be allowed to read the directory only. A missing
// directory holds no checkpoints.
func ReadOnlyFile(dir string, log Logger) Store {
	// Load, Where and Fallback only read dir's files; nothing here can
	// reach the methods that write.
	f := &File{dir: dir, log: log}
	return readOnlyFile{readOnly{f}, f}
}

type readOnly struct{ Store }

func (readOnly) Save(context.Context, string, []byte) error { return nil }

// readOnlyFile keeps File's Fallback, which the core adds to the error
// about a checkpoint that does not decode.
type readOnlyFile struct {
	readOnly
	f *File
}

func (r readOnlyFile) Fallback(key string) string { return r.f.Fallback(key) }
