// Package jsonpage decodes the response shape every source shares: one
// JSON document holding an array of events. The document is validated
// once (a truncated or broken body is an error the core retries, never a
// short page), and each event's raw JSON is kept as a slice of the body,
// so events are passed on verbatim and a page's events share one buffer.
package jsonpage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unsafe"

	"github.com/auditpull/auditpull/core"
	"github.com/tidwall/gjson"
)

// Parse validates b and returns its root. The results read b in place
// (gjson.ParseBytes would copy the whole body into a string first): a
// response body is never written to once read, and the events keep slices
// of it anyway.
func Parse(b []byte) (gjson.Result, error) {
	if !gjson.ValidBytes(b) {
		return gjson.Result{}, fmt.Errorf("unparsable response: %s", core.Snippet(b))
	}
	return gjson.Parse(unsafe.String(unsafe.SliceData(b), len(b))), nil
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

// Canonical returns raw without insignificant whitespace, so that the
// formatting of a response never changes an id derived from it: raw itself
// when it has none (APIs send compact JSON), else a compacted copy. A space
// inside a string is content, and is no reason to compact.
func Canonical[T ~string | ~[]byte](raw T) T {
	if !spaceOutsideStrings(raw) {
		return raw
	}
	var buf bytes.Buffer
	if json.Compact(&buf, []byte(raw)) != nil {
		return raw
	}
	return T(buf.Bytes())
}

func spaceOutsideStrings[T ~string | ~[]byte](b T) bool {
	// Strings are most of an event: jump from quote to quote (IndexByte
	// is vectorized) and look at the few bytes between strings only.
	for i := 0; i < len(b); {
		q := indexQuote(b, i)
		for j := i; j < q; j++ {
			if c := b[j]; c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				return true
			}
		}
		if q == len(b) {
			return false
		}
		// The closing quote is the first one not escaped: preceded by an
		// even number of backslashes.
		end := q + 1
		for {
			end = indexQuote(b, end)
			n := 0
			for j := end - 1; j > q && b[j] == '\\'; j-- {
				n++
			}
			if end == len(b) || n%2 == 0 {
				break
			}
			end++
		}
		i = end + 1
	}
	return false
}

// indexQuote is the index of the first '"' in b at or after from, or len(b).
func indexQuote[T ~string | ~[]byte](b T, from int) int {
	var k int
	switch v := any(b).(type) {
	case string:
		k = strings.IndexByte(v[from:], '"')
	case []byte:
		k = bytes.IndexByte(v[from:], '"')
	default:
		k = strings.IndexByte(string(b[from:]), '"')
	}
	if k < 0 {
		return len(b)
	}
	return from + k
}
