// Package modroot finds the auditpull module's root directory, for the
// generators and benchmark tools that read and write files of the tree
// whatever directory they are started from.
package modroot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// Dir is the nearest directory at or above the working directory whose
// go.mod declares the auditpull module.
func Dir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/auditpull/auditpull\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the auditpull module")
		}
		dir = parent
	}
}
