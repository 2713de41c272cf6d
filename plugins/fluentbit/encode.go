package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"

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

	// The map header comes first but its size is known only after the
	// body: reserve the largest header (map32) and move the body back if a
	// smaller one fits, which is cheaper than building the body apart.
	head := len(dst)
	dst = append(dst, 0xdf, 0, 0, 0, 0)
	body := len(dst)
	var n int
	var taken uint8
	var err error
	if dst, n, taken, err = transcodeObject(dst, ev.Raw); err != nil {
		// The core already decoded this JSON, so this is a bug, not data:
		// keep the event, as a string, rather than drop it.
		log.Warn("event is not a JSON object; forwarding it as the field raw", "event_id", ev.ID, "error", err.Error())
		dst = appendString(dst[:body], "raw")
		dst = appendString(dst, string(ev.Raw))
		n, taken = 1, 0
	}
	for i, kv := range [...][2]string{{fieldSource, source}, {fieldStream, stream}, {fieldEventID, ev.ID}} {
		if taken&(1<<i) == 0 {
			dst = appendString(dst, kv[0])
			dst = appendString(dst, kv[1])
			n++
		}
	}
	hdr := appendMapHeader(make([]byte, 0, 5), n)
	if len(hdr) < 5 {
		copy(dst[head+len(hdr):], dst[body:])
		dst = dst[:len(dst)-(5-len(hdr))]
	}
	copy(dst[head:], hdr)
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

// transcodeObject appends the msgpack encoding of the JSON object raw's
// key/value pairs (without the map header), and returns how many pairs it
// holds and which of the fields the plugin adds it already has (bit i for
// source, stream, event_id). gjson walks the event in place: no token
// allocations, strings unescaped only when they hold escapes.
func transcodeObject(dst []byte, raw []byte) (_ []byte, n int, taken uint8, err error) {
	if !gjson.ValidBytes(raw) {
		return dst, 0, 0, errors.New("invalid JSON")
	}
	// raw is not modified while it is walked: no need for ParseBytes' copy.
	obj := gjson.Parse(unsafe.String(unsafe.SliceData(raw), len(raw)))
	if !obj.IsObject() {
		return dst, 0, 0, errors.New("not a JSON object")
	}
	obj.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case fieldSource:
			taken |= 1
		case fieldStream:
			taken |= 2
		case fieldEventID:
			taken |= 4
		}
		dst = appendString(dst, k.Str)
		dst, err = transcodeValue(dst, v)
		n++
		return err == nil
	})
	return dst, n, taken, err
}

// transcodeValue appends v as msgpack.
func transcodeValue(dst []byte, v gjson.Result) ([]byte, error) {
	switch v.Type {
	case gjson.String:
		return appendString(dst, v.Str), nil
	case gjson.Number:
		return appendNumber(dst, json.Number(v.Raw))
	case gjson.True:
		return append(dst, 0xc3), nil
	case gjson.False:
		return append(dst, 0xc2), nil
	case gjson.Null:
		return append(dst, 0xc0), nil
	}
	// An object or array: count, then write header and members; a nested
	// value is rarely large, so a second walk is cheaper than buffering.
	isObj := v.IsObject()
	n := 0
	v.ForEach(func(_, _ gjson.Result) bool { n++; return true })
	if isObj {
		dst = appendMapHeader(dst, n)
	} else {
		dst = appendArrayHeader(dst, n)
	}
	var err error
	v.ForEach(func(k, e gjson.Result) bool {
		if isObj {
			dst = appendString(dst, k.Str)
		}
		dst, err = transcodeValue(dst, e)
		return err == nil
	})
	return dst, err
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
