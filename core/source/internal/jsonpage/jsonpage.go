// Package jsonpage decodes the response shape every source shares: one
// JSON document holding an array of events. The document is validated
// once (a truncated or broken body is an error the core retries, never a
// short page), and each event's raw JSON is kept as a slice of the body,
// so events are passed on verbatim and a page's events share one buffer.
package jsonpage

import (
	"fmt"

	"github.com/auditpull/auditpull/core"
	"github.com/tidwall/gjson"
)

// Parse validates b and returns its root.
func Parse(b []byte) (gjson.Result, error) {
	if !gjson.ValidBytes(b) {
		return gjson.Result{}, fmt.Errorf("unparsable response: %s", core.Snippet(b))
	}
	return gjson.ParseBytes(b), nil
}

// Members returns the named members of obj, in the order of names (a
// missing one does not Exist), in a single pass. Looking members up one by
// one with Get would scan past the large event array once per lookup.
func Members(obj gjson.Result, names ...string) []gjson.Result {
	out := make([]gjson.Result, len(names))
	left := len(names)
	obj.ForEach(func(k, v gjson.Result) bool {
		for i, n := range names {
			if k.Str == n && !out[i].Exists() {
				out[i] = v
				left--
			}
		}
		return left > 0
	})
	return out
}

// Events decodes each element of arr (a result from Parse(b)) with decode,
// which receives the element and its raw bytes.
func Events(b []byte, arr gjson.Result, decode func(v gjson.Result, raw []byte) (core.Event, error)) ([]core.Event, error) {
	events := make([]core.Event, 0, 100)
	var err error
	arr.ForEach(func(_, v gjson.Result) bool {
		var e core.Event
		if e, err = decode(v, Raw(b, v)); err != nil {
			return false
		}
		events = append(events, e)
		return true
	})
	return events, err
}

// Raw returns v's bytes as a slice of b when they are there verbatim (the
// usual case), else a copy of v.Raw.
func Raw(b []byte, v gjson.Result) []byte {
	if end := v.Index + len(v.Raw); v.Index > 0 && end <= len(b) && string(b[v.Index:end]) == v.Raw {
		return b[v.Index:end:end]
	}
	return []byte(v.Raw)
}
