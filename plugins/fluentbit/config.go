package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/auditpull/auditpull/core"
)

// Properties are the core schema's keys, spelled exactly as the core spells
// them: nested keys joined with "." (nordpass.token, checkpoint.path,
// rate_limit.requests). Fluent Bit cannot enumerate a Go input's properties,
// so each known key is asked for by name; list-valued keys
// (nordpass.user_uuids) are comma-separated. The one property of the plugin
// itself is callback_max_bytes.

// budgetKey bounds the bytes handed to Fluent Bit by one callback.
const budgetKey = "callback_max_bytes"

// DefaultBudget is callback_max_bytes' default: a few Fluent Bit chunks'
// worth, far more than one 1-second tick normally needs.
const DefaultBudget = 4 << 20

const minBudget = 1 << 10

// reservedKeys are the properties Fluent Bit keeps for itself (flb_input.c):
// a Go input never sees them. No core key may be one of them; the tests check.
var reservedKeys = []string{
	"name", "tag", "log_level", "log_suppress_interval", "routable", "alias",
	"mem_buf_limit", "listen", "host", "port", "ipv6", "threaded", "rate_window",
}

// reservedPrefixes are property prefixes Fluent Bit keeps for itself.
var reservedPrefixes = []string{"net.", "oauth2", "tls", "storage.", "thread.", "rate_gate", "processors"}

// isReserved reports whether Fluent Bit would keep key from the plugin.
func isReserved(key string) bool {
	key = strings.ToLower(key)
	if slices.Contains(reservedKeys, key) {
		return true
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// readConfig asks get for every key of the core schema and translates what
// is set into the flat map core.ParseMap takes, plus the plugin's own budget.
// get returns "" for a property that is not set.
func readConfig(get func(key string) string) (map[string]any, int, error) {
	lists := core.ListKeys()
	m := map[string]any{}
	for _, key := range core.Keys() {
		v := strings.TrimSpace(get(key))
		if alt := strings.ReplaceAll(key, ".", "_"); alt != key && strings.TrimSpace(get(alt)) != "" {
			// nordpass_token instead of nordpass.token would otherwise be
			// ignored without a word: Fluent Bit accepts any property.
			return nil, 0, &core.ConfigError{Key: alt, Msg: fmt.Sprintf("unknown property; write it as %s (properties use the core's dotted names)", key)}
		}
		if v == "" {
			continue
		}
		if slices.Contains(lists, key) {
			var items []any
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					items = append(items, s)
				}
			}
			m[key] = items
			continue
		}
		m[key] = v
	}
	budget := DefaultBudget
	if v := strings.TrimSpace(get(budgetKey)); v != "" {
		n, err := parseSize(v)
		if err != nil || n < minBudget {
			return nil, 0, &core.ConfigError{Key: budgetKey, Msg: fmt.Sprintf("%q is not a size of at least 1K (e.g. 512K, 4M)", v)}
		}
		budget = n
	}
	return m, budget, nil
}

// parseSize reads a byte size as Fluent Bit writes them: 4096, 512K, 4M, 1G
// (binary multiples, an optional trailing B).
func parseSize(s string) (int, error) {
	u := strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B")
	mult := 1
	switch {
	case strings.HasSuffix(u, "K"):
		mult, u = 1<<10, strings.TrimSuffix(u, "K")
	case strings.HasSuffix(u, "M"):
		mult, u = 1<<20, strings.TrimSuffix(u, "M")
	case strings.HasSuffix(u, "G"):
		mult, u = 1<<30, strings.TrimSuffix(u, "G")
	}
	n, err := strconv.Atoi(strings.TrimSpace(u))
	if err != nil || n < 0 || n > (1<<31-1)/mult {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}
