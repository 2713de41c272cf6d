package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/auditpull/auditpull/core"
)

// Fields the plugin adds to every record, beside the vendor's own.
const (
	fieldSource  = "source"
	fieldStream  = "stream"
	fieldEventID = "event_id"
)

// appendBatch appends the batch's events as Fluent Bit records: one msgpack
// array [EventTime, map] per event, back to back. They are never wrapped in
// an outer array: Fluent Bit's input accepts that, but the chunk then holds one
// malformed record that outputs reject.
func appendBatch(dst []byte, b *core.Batch, log core.Logger) []byte {
	for i := range b.Events {
		dst = appendRecord(dst, &b.Events[i], b.Source, b.Stream, log)
	}
	return dst
}

// appendRecord appends [EventTime(ext 0), {raw event fields…, source, stream,
// event_id}]. The vendor's fields come first and in the vendor's order; a
// vendor field named like one of ours wins, so the SIEM sees exactly what the
// vendor sent.
func appendRecord(dst []byte, ev *core.Event, source, stream string, log core.Logger) []byte {
	dst = append(dst, 0x92) // fixarray of 2
	dst = appendEventTime(dst, ev.Time)

	body, keys, err := transcodeObject(ev.Raw)
	if err != nil {
		// The core already decoded this JSON, so this is a bug, not data:
		// keep the event, as a string, rather than drop it.
		log.Warn("event is not a JSON object; forwarding it as the field raw", "event_id", ev.ID, "error", err.Error())
		body = appendString(nil, "raw")
		body = appendString(body, string(ev.Raw))
		keys = map[string]bool{"raw": true}
	}
	extra := [...][2]string{{fieldSource, source}, {fieldStream, stream}, {fieldEventID, ev.ID}}
	n := len(keys)
	for _, kv := range extra {
		if !keys[kv[0]] {
			n++
		}
	}
	dst = appendMapHeader(dst, n)
	dst = append(dst, body...)
	for _, kv := range extra {
		if !keys[kv[0]] {
			dst = appendString(dst, kv[0])
			dst = appendString(dst, kv[1])
		}
	}
	return dst
}

// appendEventTime is Fluent Bit's EventTime: msgpack ext type 0 with big
// endian uint32 seconds and uint32 nanoseconds.
func appendEventTime(dst []byte, t time.Time) []byte {
	var b [10]byte
	b[0], b[1] = 0xd7, 0x00 // fixext 8, type 0
	binary.BigEndian.PutUint32(b[2:], uint32(t.Unix()))
	binary.BigEndian.PutUint32(b[6:], uint32(t.Nanosecond()))
	return append(dst, b[:]...)
}

// transcodeObject converts a JSON object into the msgpack encoding of its
// key/value pairs (without the map header) and reports the keys it holds.
func transcodeObject(raw []byte) ([]byte, map[string]bool, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("not a JSON object")
	}
	keys := map[string]bool{}
	var body []byte
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := tok.(string)
		keys[k] = true
		body = appendString(body, k)
		if body, err = transcodeValue(body, dec); err != nil {
			return nil, nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("trailing data after the JSON object")
	}
	return body, keys, nil
}

// transcodeValue appends the next JSON value of dec as msgpack.
func transcodeValue(dst []byte, dec *json.Decoder) ([]byte, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		var body []byte
		n := 0
		for dec.More() {
			if v == '{' {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				body = appendString(body, k)
			}
			if body, err = transcodeValue(body, dec); err != nil {
				return nil, err
			}
			n++
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		if v == '{' {
			dst = appendMapHeader(dst, n)
		} else {
			dst = appendArrayHeader(dst, n)
		}
		return append(dst, body...), nil
	case string:
		return appendString(dst, v), nil
	case json.Number:
		return appendNumber(dst, v)
	case bool:
		if v {
			return append(dst, 0xc3), nil
		}
		return append(dst, 0xc2), nil
	case nil:
		return append(dst, 0xc0), nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// appendNumber keeps integers integers (as Fluent Bit's own JSON parser
// does) and everything else a float64.
func appendNumber(dst []byte, n json.Number) ([]byte, error) {
	s := string(n)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return appendInt(dst, i), nil
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return appendUint(dst, u), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, err
	}
	var b [9]byte
	b[0] = 0xcb
	binary.BigEndian.PutUint64(b[1:], math.Float64bits(f))
	return append(dst, b[:]...), nil
}

func appendInt(dst []byte, i int64) []byte {
	switch {
	case i >= 0:
		return appendUint(dst, uint64(i))
	case i >= -32:
		return append(dst, byte(i))
	case i >= math.MinInt8:
		return append(dst, 0xd0, byte(i))
	case i >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(i))
	case i >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(i))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(i))
}

func appendUint(dst []byte, u uint64) []byte {
	switch {
	case u < 128:
		return append(dst, byte(u))
	case u <= math.MaxUint8:
		return append(dst, 0xcc, byte(u))
	case u <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(u))
	case u <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(u))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xcf), u)
}

func appendString(dst []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		dst = append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
	return append(dst, s...)
}

func appendMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdf), uint32(n))
}

func appendArrayHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(n))
}
