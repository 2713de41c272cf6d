// Package hostrun runs the shipped auditpull hosts as processes, the way a
// user runs them: the Benthos build (build/out/benthos), the Telegraf build
// (build/out/telegraf), the Fluent Bit plugin (build/out/in_auditpull.so)
// loaded by the harness that plays Fluent Bit's Go proxy
// (build/out/fbharness), and — as the peer of the adapter benchmark — plain
// Benthos pulling the same NordPass pages with its own generate input and
// http processors.
//
// Every host writes one line per event to a file; Event turns such a line
// back into the vendor's event in a canonical form, so the crash suite can
// compare what was delivered with the simulator's truth. Processes write
// their logs to files of their own, which the suites grep for secrets.
//
// It is shared by the adapter benchmark (test/bench/adapters) and the crash
// and fault suite (test/chaos).
package hostrun

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/auditpull/auditpull/internal/modroot"
)

// Host is one way of running auditpull (or the peer).
type Host string

const (
	Benthos Host = "benthos"
	// BenthosFileCache is the Benthos build keeping its checkpoints in a
	// `file` cache resource, which writes in place, instead of the
	// atomic file store: the checkpoint.path of each input becomes the
	// cache's directory.
	BenthosFileCache Host = "benthos-file-cache"
	Telegraf         Host = "telegraf"
	FluentBit        Host = "fluentbit"
	// Peer is stock Benthos pulling the same pages without auditpull.
	Peer Host = "peer"
	// FileCopy is stock Benthos moving already split events from a file
	// to the same file output: Benthos' own cost of passing a message from
	// an input to that output, with no HTTP and no JSON work.
	FileCopy Host = "filecopy"
)

// Title is how reports name the host.
func (h Host) Title() string {
	switch h {
	case Benthos:
		return "auditpull in the Benthos build"
	case BenthosFileCache:
		return "auditpull in the Benthos build, checkpoints in a file cache"
	case Telegraf:
		return "auditpull in the Telegraf build"
	case FluentBit:
		return "auditpull Fluent Bit .so (harness)"
	case Peer:
		return "peer: Benthos generate + http (no auditpull)"
	case FileCopy:
		return "stock Benthos: file input to file output (no HTTP, no JSON)"
	}
	return string(h)
}

// Binaries are the artifacts under test.
type Binaries struct {
	Benthos, Telegraf, FluentBitSO, FluentBitHarness string
}

// Has reports whether everything h needs is there.
func (b Binaries) Has(h Host) bool {
	switch h {
	case Benthos, BenthosFileCache, Peer, FileCopy:
		return b.Benthos != ""
	case Telegraf:
		return b.Telegraf != ""
	case FluentBit:
		return b.FluentBitSO != "" && b.FluentBitHarness != ""
	}
	return false
}

// Env names the environment variables that point at prebuilt artifacts
// (make passes build/out/...).
var Env = struct{ Benthos, Telegraf, FluentBitSO, FluentBitHarness string }{
	"AUDITPULL_BENTHOS", "AUDITPULL_TELEGRAF", "AUDITPULL_FLUENTBIT_SO", "AUDITPULL_FLUENTBIT_HARNESS",
}

// RepoRoot finds the module root (the directory holding go.mod) from the
// working directory upwards.
func RepoRoot() (string, error) { return modroot.Dir() }

// goCmd is the go command of the toolchain running us: go test and go run
// put that toolchain's bin first on PATH.
func goCmd() string { return "go" }

// Find returns the artifacts the hosts need: those named in the environment
// (Env), and the others built into dir with go build (and gcc for the
// harness). A host whose artifacts cannot be had is left out and its error
// returned in the map.
func Find(dir string, hosts ...Host) (Binaries, map[Host]error) {
	var b Binaries
	errs := map[Host]error{}
	root, rootErr := RepoRoot()
	// build runs "go build -o PATH ARGS…" (tool "go") or "gcc ARGS… -o PATH".
	build := func(out, tool string, args ...string) (string, error) {
		if rootErr != nil {
			return "", rootErr
		}
		path := filepath.Join(dir, out)
		var cmd *exec.Cmd
		if tool == "go" {
			cmd = exec.Command(goCmd(), append([]string{"build", "-o", path}, args...)...)
		} else {
			cmd = exec.Command(tool, append(slices.Clone(args), "-o", path)...)
		}
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
		}
		return path, nil
	}
	get := func(env, out, tool string, args ...string) (string, error) {
		if p := os.Getenv(env); p != "" {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("%s: %w", env, err)
			}
			return filepath.Abs(p)
		}
		return build(out, tool, args...)
	}
	want := map[Host]bool{}
	for _, h := range hosts {
		want[h] = true
	}
	var err error
	if want[Benthos] || want[BenthosFileCache] || want[Peer] || want[FileCopy] {
		if b.Benthos, err = get(Env.Benthos, "benthos", "go", "./build/benthos"); err != nil {
			errs[Benthos], errs[BenthosFileCache], errs[Peer], errs[FileCopy] = err, err, err, err
		}
	}
	if want[Telegraf] {
		if b.Telegraf, err = get(Env.Telegraf, "telegraf", "go", "./build/telegraf"); err != nil {
			errs[Telegraf] = err
		}
	}
	if want[FluentBit] {
		so, err1 := get(Env.FluentBitSO, "in_auditpull.so", "go", "-buildmode=c-shared", "./plugins/fluentbit")
		var harness string
		var err2 error
		if os.Getenv(Env.FluentBitHarness) == "" {
			if _, err := exec.LookPath("gcc"); err != nil {
				err2 = errors.New("gcc is needed to build the Fluent Bit harness")
			}
		}
		if err2 == nil {
			harness, err2 = get(Env.FluentBitHarness, "fbharness", "gcc", "-std=c11", "-O2", "-pthread", "-rdynamic", "test/fluentbit/harness/harness.c", "-ldl")
		}
		if err := errors.Join(err1, err2); err != nil {
			errs[FluentBit] = err
		} else {
			b.FluentBitSO, b.FluentBitHarness = so, harness
		}
	}
	return b, errs
}

// Usage is what the kernel reports for a finished process (wait4).
type Usage struct {
	CPU    time.Duration // user + system
	MaxRSS int64         // bytes
}

// Proc is one running host process. Its stdout and stderr go to files
// (Stdout, Stderr).
type Proc struct {
	Cmd            *exec.Cmd
	Stdout, Stderr string
	Started        time.Time

	done   chan struct{}
	err    error
	ended  time.Time
	closer sync.Once
	files  []*os.File
}

// Start starts cmd with its output in logDir/name.stdout and name.stderr.
func Start(cmd *exec.Cmd, logDir, name string) (*Proc, error) {
	p := &Proc{Cmd: cmd, done: make(chan struct{}),
		Stdout: filepath.Join(logDir, name+".stdout"), Stderr: filepath.Join(logDir, name+".stderr")}
	for _, path := range []string{p.Stdout, p.Stderr} {
		fh, err := os.Create(path)
		if err != nil {
			p.closeFiles()
			return nil, err
		}
		p.files = append(p.files, fh)
	}
	cmd.Stdout, cmd.Stderr = p.files[0], p.files[1]
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		p.closeFiles()
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		p.ended = time.Now()
		p.closeFiles()
		close(p.done)
	}()
	return p, nil
}

func (p *Proc) closeFiles() {
	p.closer.Do(func() {
		for _, f := range p.files {
			_ = f.Close()
		}
	})
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	if !p.Exited() {
		_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout for the process to exit, then
// kills it. It returns an error unless the process exited by itself with
// status 0 in time.
func (p *Proc) Stop(timeout time.Duration) error {
	if !p.Exited() {
		_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s did not exit within %s of SIGTERM; killed", filepath.Base(p.Cmd.Path), timeout)
	}
	return p.ExitErr()
}

// Wait waits up to timeout for the process to exit by itself, then kills it.
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.ExitErr()
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s did not exit within %s; killed", filepath.Base(p.Cmd.Path), timeout)
	}
}

// ExitErr is the result of the process once it has exited.
func (p *Proc) ExitErr() error {
	<-p.done
	if p.err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(p.Cmd.Path), p.err)
	}
	return nil
}

// Usage is the CPU time and peak RSS of the exited process, and how long it
// ran.
func (p *Proc) Usage() (Usage, time.Duration) {
	<-p.done
	var u Usage
	if ru, ok := p.Cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		u.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		u.MaxRSS = ru.Maxrss << 10 // kilobytes on Linux
	}
	return u, p.ended.Sub(p.Started)
}

// Logs returns the paths of the process's log files.
func (p *Proc) Logs() []string { return []string{p.Stdout, p.Stderr} }

// env returns the environment with extra entries.
func env(extra ...string) []string {
	return append(os.Environ(), extra...)
}

// value renders v for YAML and TOML alike: integers and booleans bare,
// everything else as a double-quoted string (valid in both for the ASCII
// values used here).
func value(v string) string {
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return v
	}
	if v == "true" || v == "false" {
		return v
	}
	return strconv.Quote(v)
}
