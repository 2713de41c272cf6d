package hostrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Tail reads a file another process is appending to, a line at a time.
type Tail struct {
	Path    string
	off     int64
	partial []byte
	buf     []byte
}

// Lines calls fn with every complete line (without its newline) appended
// since the last call; a line still being written waits for the next call.
// The slice passed to fn is only valid during the call. A file that does
// not exist yet holds no lines.
func (t *Tail) Lines(fn func(line []byte)) error {
	f, err := os.Open(t.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return err
	}
	if t.buf == nil {
		t.buf = make([]byte, 1<<20)
	}
	for {
		n, err := f.Read(t.buf)
		t.off += int64(n)
		data := t.buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				t.partial = append(t.partial, data...)
				break
			}
			if len(t.partial) > 0 {
				t.partial = append(t.partial, data[:i]...)
				fn(t.partial)
				t.partial = t.partial[:0]
			} else {
				fn(data[:i])
			}
			data = data[i+1:]
		}
		if err == io.EOF || n == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Rest is what follows the last complete line: after the writer was
// killed, a torn last line.
func (t *Tail) Rest() []byte { return t.partial }

// Event returns the vendor's event carried by one output line of host h,
// in canonical form (see Canonical):
//   - Benthos (auditpull) writes the event's raw JSON as the line; the peer
//     writes the event as Benthos re-encodes it;
//   - Telegraf's JSON serializer puts the raw event in fields.message;
//   - the Fluent Bit harness writes {"record": {...}}: the event's fields
//     plus source, stream and event_id, which the plugin adds.
func Event(h Host, line []byte) (string, error) {
	switch h {
	case Benthos, BenthosFileCache, Peer:
		return Canonical(line)
	case Telegraf:
		var m struct {
			Fields struct {
				Message *string `json:"message"`
			} `json:"fields"`
		}
		if err := json.Unmarshal(line, &m); err != nil {
			return "", err
		}
		if m.Fields.Message == nil {
			return "", fmt.Errorf("no fields.message in %.200s", line)
		}
		return Canonical([]byte(*m.Fields.Message))
	case FluentBit:
		var m struct {
			Record map[string]any `json:"record"`
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return "", err
		}
		if m.Record == nil {
			return "", fmt.Errorf("no record in %.200s", line)
		}
		delete(m.Record, "source")
		delete(m.Record, "stream")
		delete(m.Record, "event_id")
		return marshal(m.Record)
	}
	return "", fmt.Errorf("unknown host %q", h)
}

// Canonical renders a JSON document canonically: object keys sorted,
// integers as integers, other numbers in Go's shortest float form. Two
// renderings of the same event (raw bytes, re-encoded by a host, converted
// from msgpack) compare equal.
func Canonical(raw []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	if dec.More() {
		return "", errors.New("trailing data after the JSON value")
	}
	return marshal(v)
}

func marshal(v any) (string, error) {
	b, err := json.Marshal(normalize(v))
	return string(b), err
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return x
		}
		f, err := x.Float64()
		if err != nil {
			return x
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
	}
	return v
}
