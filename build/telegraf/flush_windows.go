//go:build windows

package main

// catchFlushSignal returns no flush: the agent has no flush signal on
// Windows, so at a stop the outputs write on their own flush_interval.
func catchFlushSignal() (flush, release func()) { return nil, func() {} }
