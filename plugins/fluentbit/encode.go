package main

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/internal/jsonscan"
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
	var s jsonscan.Scanner
	for i := range b.Events {
		dst = appendRecord(dst, &s, &b.Events[i], b.Source, b.Stream, log)
	}
	return dst
}

// appendRecord appends [EventTime(ext 0), {raw event fields…, source, stream,
// event_id}]. The vendor's fields come first and in the vendor's order; a
// vendor field named like one of ours wins, so the SIEM sees exactly what the
// vendor sent.
func appendRecord(dst []byte, s *jsonscan.Scanner, ev *core.Event, source, stream string, log core.Logger) []byte {
	dst = append(dst, 0x92) // fixarray of 2
	dst = appendEventTime(dst, ev.Time)

	head := len(dst)
	dst = reserveHeader(dst)
	var n int
	var taken uint8
	var err error
	s.Reset(ev.Raw)
	if dst, n, taken, err = transcodeObject(dst, s); err != nil {
		// The core already decoded this JSON, so this is a bug, not data:
		// keep the event, as a string, rather than drop it.
		log.Warn("event is not a JSON object; forwarding it as the field raw", "event_id", ev.ID, "error", err.Error())
		dst = appendString(dst[:head+maxHeader], "raw")
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
	var hdr [maxHeader]byte
	return finishHeader(dst, head, appendMapHeader(hdr[:0], n))
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

// A map or array header comes first but its size is known only after the
// members: reserve the largest header and move the members back if a
// smaller one fits, which is cheaper than encoding them apart.
const maxHeader = 5

func reserveHeader(dst []byte) []byte { return append(dst, 0, 0, 0, 0, 0) }

// finishHeader writes hdr at head, where reserveHeader was called.
func finishHeader(dst []byte, head int, hdr []byte) []byte {
	if len(hdr) < maxHeader {
		copy(dst[head+len(hdr):], dst[head+maxHeader:])
		dst = dst[:len(dst)-(maxHeader-len(hdr))]
	}
	copy(dst[head:], hdr)
	return dst
}

// transcodeObject appends the msgpack encoding of the JSON object s reads
// key/value pairs (without the map header), and returns how many pairs it
// holds and which of the fields the plugin adds it already has (bit i for
// source, stream, event_id). One pass over the event, which also checks
// it is JSON; strings are unescaped only when they hold escapes.
func transcodeObject(dst []byte, s *jsonscan.Scanner) (_ []byte, n int, taken uint8, err error) {
	err = s.Scan(func(s *jsonscan.Scanner) error {
		if s.Kind() != '{' {
			return errors.New("not a JSON object")
		}
		return s.Object(func(k string) (err error) {
			switch k {
			case fieldSource:
				taken |= 1
			case fieldStream:
				taken |= 2
			case fieldEventID:
				taken |= 4
			}
			dst = appendString(dst, k)
			dst, err = transcodeValue(dst, s)
			n++
			return err
		})
	})
	return dst, n, taken, err
}

// transcodeValue appends the value at the scanner as msgpack.
func transcodeValue(dst []byte, s *jsonscan.Scanner) (_ []byte, err error) {
	switch c := s.Kind(); c {
	case '"':
		v, err := s.Str()
		return appendString(dst, v), err
	case 't':
		return append(dst, 0xc3), s.Skip()
	case 'f':
		return append(dst, 0xc2), s.Skip()
	case 'n':
		return append(dst, 0xc0), s.Skip()
	case '{', '[':
		head, n := len(dst), 0
		dst = reserveHeader(dst)
		var hdr [maxHeader]byte
		if c == '{' {
			err = s.Object(func(k string) (err error) {
				dst = appendString(dst, k)
				dst, err = transcodeValue(dst, s)
				n++
				return err
			})
			return finishHeader(dst, head, appendMapHeader(hdr[:0], n)), err
		}
		err = s.Array(func() (err error) {
			dst, err = transcodeValue(dst, s)
			n++
			return err
		})
		return finishHeader(dst, head, appendArrayHeader(hdr[:0], n)), err
	}
	num, err := s.RawStr()
	if err != nil {
		return dst, err
	}
	return appendNumber(dst, num)
}

// appendNumber keeps integers integers (as Fluent Bit's own JSON parser
// does) and everything else a float64.
func appendNumber(dst []byte, s string) ([]byte, error) {
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
