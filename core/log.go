package core

import "github.com/auditpull/auditpull/core/checkpoint"

// Logger is how the core and its sources log; each adapter binds it to its
// host's logger.
type Logger = checkpoint.Logger

// NopLogger discards everything.
type NopLogger = checkpoint.NopLogger
