// Package fbrecord encodes a core.Batch as Fluent Bit records: msgpack
// [EventTime, map] arrays, straight from each event's raw JSON.
package fbrecord

import (
	"encoding/binary"
	"errors"
	"strconv"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/internal/jsonscan"
)

// Fields added to every record, beside the vendor's own.
const (
	fieldSource  = "source"
	fieldStream  = "stream"
	fieldEventID = "event_id"
)

// Append appends the batch's events as Fluent Bit records: one msgpack
// array [EventTime, map] per event, back to back. They are never wrapped in
// an outer array: Fluent Bit's input accepts that, but the chunk then holds one
// malformed record that outputs reject.
func Append(dst []byte, b *core.Batch, log core.Logger) []byte {
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
	dst = msgp.AppendArrayHeader(dst, 2)
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
		dst = msgp.AppendString(dst[:head+maxHeader], "raw")
		dst = msgp.AppendStringFromBytes(dst, ev.Raw)
		n, taken = 1, 0
	}
	for i, kv := range [...][2]string{{fieldSource, source}, {fieldStream, stream}, {fieldEventID, ev.ID}} {
		if taken&(1<<i) == 0 {
			dst = msgp.AppendString(dst, kv[0])
			dst = msgp.AppendString(dst, kv[1])
			n++
		}
	}
	var hdr [maxHeader]byte
	return finishHeader(dst, head, msgp.AppendMapHeader(hdr[:0], uint32(n)))
}

// appendEventTime is Fluent Bit's EventTime: msgpack ext type 0 (fixext 8)
// with big endian uint32 seconds and uint32 nanoseconds. msgp writes only
// its own time extensions.
func appendEventTime(dst []byte, t time.Time) []byte {
	dst = append(dst, 0xd7, 0x00)
	dst = binary.BigEndian.AppendUint32(dst, uint32(t.Unix()))
	return binary.BigEndian.AppendUint32(dst, uint32(t.Nanosecond()))
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
// holds and which of the added fields it already has (bit i for source,
// stream, event_id). One pass over the event, which also checks it is
// JSON; strings are unescaped only when they hold escapes.
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
			dst = msgp.AppendString(dst, k)
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
		return msgp.AppendString(dst, v), err
	case 't', 'f':
		return msgp.AppendBool(dst, c == 't'), s.Skip()
	case 'n':
		return msgp.AppendNil(dst), s.Skip()
	case '{', '[':
		head, n := len(dst), uint32(0)
		dst = reserveHeader(dst)
		var hdr [maxHeader]byte
		if c == '{' {
			err = s.Object(func(k string) (err error) {
				dst = msgp.AppendString(dst, k)
				dst, err = transcodeValue(dst, s)
				n++
				return err
			})
			return finishHeader(dst, head, msgp.AppendMapHeader(hdr[:0], n)), err
		}
		err = s.Array(func() (err error) {
			dst, err = transcodeValue(dst, s)
			n++
			return err
		})
		return finishHeader(dst, head, msgp.AppendArrayHeader(hdr[:0], n)), err
	}
	num, err := s.RawStr()
	if err != nil {
		return dst, err
	}
	return appendNumber(dst, num)
}

// appendNumber keeps integers integers (as Fluent Bit's own JSON parser
// does) and everything else a float64. Non-negative integers take msgpack's
// unsigned forms, the shortest for them.
func appendNumber(dst []byte, s string) ([]byte, error) {
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return msgp.AppendUint64(dst, u), nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return msgp.AppendInt64(dst, i), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, err
	}
	return msgp.AppendFloat64(dst, f), nil
}
