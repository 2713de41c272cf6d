//go:build !windows

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// catchFlushSignal returns flush, which makes the agent's outputs write what
// they hold now by sending this process SIGUSR1: the agent flushes every
// output on it (agent/agent_posix.go), as `kill -USR1` does. SIGUSR1 kills
// a Go process that does not catch it, and the agent catches it only while
// its flush loops run, which start in goroutines of their own: so it is
// caught here too until release.
func catchFlushSignal() (flush, release func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	flush = func() { _ = syscall.Kill(os.Getpid(), syscall.SIGUSR1) }
	return flush, func() { signal.Stop(c) }
}
