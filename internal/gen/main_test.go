package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/auditpull/auditpull/internal/modroot"
)

// Everything generated from the schema is checked in, so that hosts build
// without a generation step; a declaration changed without `go generate`
// fails here, naming the stale file.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	root, err := modroot.Dir()
	if err != nil {
		t.Fatal(err)
	}
	files, err := generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s is stale: run `go generate ./internal/gen`", path)
		}
	}
}
