package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/auditpull/auditpull/core"
)

// Properties are the core schema's keys, spelled exactly as the core spells
// them: nested keys joined with "." (nordpass.token, checkpoint.path,
// rate_limit.requests). Fluent Bit cannot enumerate a Go input's properties,
// so each known key is asked for by name; list-valued keys
// (nordpass.user_uuids) are comma-separated. Two properties belong to the
// plugin itself: callback_max_bytes and commit_delay.

// budgetKey bounds the bytes handed to Fluent Bit by one callback.
const budgetKey = "callback_max_bytes"

// commitDelayKey is how long after Fluent Bit took a collect's records the
// checkpoint may move past them (see instance.commit).
const commitDelayKey = "commit_delay"

// engineRingBufferPeriod is how often Fluent Bit's engine moves what
// threaded inputs appended from their ring buffers into chunks: 250 ms
// (src/flb_engine.c), or FLB_DEV_RB_MS, which the plugin reads from the
// same process environment.
func engineRingBufferPeriod() time.Duration {
	if ms, err := strconv.Atoi(os.Getenv("FLB_DEV_RB_MS")); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return 250 * time.Millisecond
}

// pluginOptions are the properties of the plugin itself.
type pluginOptions struct {
	budget      int
	commitDelay time.Duration
}

// DefaultBudget is callback_max_bytes' default, 4M: a few Fluent Bit
// chunks' worth, far more than one 1-second tick normally needs.
const DefaultBudget = 4_000_000

// minBudget is 1K. Sizes are read as Fluent Bit reads its own
// (flb_utils_size_to_bytes): K, M and G are powers of 1000, fractions
// allowed; go-humanize reads them the same way and adds KiB, MiB, GiB.
const minBudget = 1000

// readConfig reads the core schema's properties (core.MapOfProperties) and
// the plugin's own. get returns "" for a property that is not set.
func readConfig(get func(key string) string) (map[string]any, pluginOptions, error) {
	m, err := core.MapOfProperties(get)
	if err != nil {
		return nil, pluginOptions{}, err
	}
	opts := pluginOptions{budget: DefaultBudget, commitDelay: 2 * engineRingBufferPeriod()}
	if v := strings.TrimSpace(get(budgetKey)); v != "" {
		n, err := humanize.ParseBytes(v)
		if err != nil || n < minBudget || n > math.MaxInt32 {
			return nil, opts, &core.ConfigError{Key: budgetKey, Msg: fmt.Sprintf("%q is not a size from 1K to 2G (e.g. 512K, 4M)", v)}
		}
		opts.budget = int(n)
	}
	if v := strings.TrimSpace(get(commitDelayKey)); v != "" {
		d, err := core.ParseDuration(v)
		if err != nil || d < 0 || d > time.Minute {
			return nil, opts, &core.ConfigError{Key: commitDelayKey, Msg: fmt.Sprintf("%q is not a duration from 0s to 1m (e.g. 500ms, 2s)", v)}
		}
		opts.commitDelay = d
	}
	return m, opts, nil
}
