package fbrecord

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/auditpull/auditpull/core"
)

// decoded is one record as an independent msgpack decoder reads it.
type decoded struct {
	sec, nsec uint32
	body      map[string]any
}

// decodeRecords reads back-to-back [EventTime, map] records with
// vmihailenco/msgpack and fails on anything else.
func decodeRecords(t *testing.T, b []byte) []decoded {
	t.Helper()
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	dec.UseLooseInterfaceDecoding(true)
	var out []decoded
	for {
		n, err := dec.DecodeArrayLen()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil || n != 2 {
			t.Fatalf("record %d: want a 2-element array, got len %d, err %v", len(out), n, err)
		}
		id, l, err := dec.DecodeExtHeader()
		if err != nil || id != 0 || l != 8 {
			t.Fatalf("record %d: want EventTime (ext 0, 8 bytes), got ext %d len %d err %v", len(out), id, l, err)
		}
		var ts [8]byte
		if _, err := io.ReadFull(dec.Buffered(), ts[:]); err != nil {
			t.Fatal(err)
		}
		m, err := dec.DecodeMap()
		if err != nil {
			t.Fatalf("record %d: body: %v", len(out), err)
		}
		out = append(out, decoded{binary.BigEndian.Uint32(ts[:4]), binary.BigEndian.Uint32(ts[4:]), m})
	}
}

func batch(events ...core.Event) *core.Batch {
	return &core.Batch{Events: events, Source: "nordpass", Stream: "nordpass-eu"}
}

func TestRecordsAreBackToBackEventTimeAndMap(t *testing.T) {
	at := time.Date(2026, 1, 31, 12, 0, 5, 123456789, time.UTC)
	raw := `{"type":"item","action":"shared","timestamp":1769860805,` +
		`"user":{"uuid":"u-1","email":"a@example.com"},"initiator":null,"metadata":[],` +
		`"n":{"neg":-5,"neg8":-100,"neg16":-30000,"neg32":-2000000000,"neg64":-9000000000000000000,` +
		`"u8":200,"u16":60000,"u32":4000000000,"u64":18446744073709551615,"f":0.1,"exp":1e300},` +
		`"ok":true,"no":false,"text":"` + strings.Repeat("é", 200) + `","long":"` + strings.Repeat("x", 70000) + `",` +
		`"esc":"line\nbreak \"quoted\" \u2603","list":[1,"two",[3],{"four":4}]}`
	b := batch(
		core.Event{ID: "id-1", Time: at, Raw: json.RawMessage(raw)},
		core.Event{ID: "id-2", Time: at.Add(time.Second), Raw: json.RawMessage(`{"type":"x","metadata":{}}`)},
	)
	recs := decodeRecords(t, Append(nil, b, core.NopLogger{}))
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	if recs[0].sec != uint32(at.Unix()) || recs[0].nsec != 123456789 {
		t.Errorf("EventTime %d.%09d, want %d.123456789", recs[0].sec, recs[0].nsec, at.Unix())
	}

	// The map holds the vendor's fields, with their JSON types, plus ours.
	var want map[string]any
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	want["source"], want["stream"], want["event_id"] = "nordpass", "nordpass-eu", "id-1"
	if got, w := canonical(t, recs[0].body), canonical(t, want); got != w {
		t.Errorf("record body\n got %.400s\nwant %.400s", got, w)
	}
	n := recs[0].body["n"].(map[string]any)
	for k, v := range map[string]any{"neg64": int64(-9000000000000000000), "u64": uint64(math.MaxUint64), "f": 0.1} {
		if n[k] != v {
			t.Errorf("n.%s = %v (%T), want %v (%T)", k, n[k], n[k], v, v)
		}
	}
	if recs[1].body["event_id"] != "id-2" {
		t.Errorf("second record: %v", recs[1].body)
	}
}

func TestVendorFieldsWinOverAddedOnes(t *testing.T) {
	b := batch(core.Event{ID: "ours", Time: time.Unix(1, 0), Raw: json.RawMessage(`{"event_id":"theirs","source":"vendor"}`)})
	recs := decodeRecords(t, Append(nil, b, core.NopLogger{}))
	if got := recs[0].body; got["event_id"] != "theirs" || got["source"] != "vendor" || got["stream"] != "nordpass-eu" || len(got) != 3 {
		t.Errorf("body %v: the vendor's own fields must be kept as sent", got)
	}
}

func TestEventThatIsNotAnObjectIsKeptAsRaw(t *testing.T) {
	for _, raw := range []string{`[1,2]`, `{"a":`, `{"a":1} trailing`} {
		b := batch(core.Event{ID: "x", Time: time.Unix(1, 0), Raw: json.RawMessage(raw)})
		recs := decodeRecords(t, Append(nil, b, core.NopLogger{}))
		if got := recs[0].body; got["raw"] != raw || got["event_id"] != "x" {
			t.Errorf("%s: body %v", raw, got)
		}
	}
}

func canonical(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(normalize(v))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// normalize makes numbers comparable across JSON and msgpack decoding:
// every number becomes its shortest decimal text.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = normalize(e)
		}
		return s
	case json.Number:
		// By value: "-0" is the integer 0.
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return "#" + strconv.FormatInt(i, 10)
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return "#" + strconv.FormatUint(u, 10)
		}
		f, _ := x.Float64()
		return "#" + strconv.FormatFloat(f, 'g', -1, 64)
	case int64:
		return "#" + strconv.FormatInt(x, 10)
	case uint64:
		return "#" + strconv.FormatUint(x, 10)
	case float64:
		return "#" + strconv.FormatFloat(x, 'g', -1, 64)
	}
	return v
}

// BenchmarkAppend encodes one 100-event NordPass page as records.
func BenchmarkAppend(b *testing.B) {
	evs := make([]core.Event, 100)
	for i := range evs {
		evs[i] = core.Event{ID: "0123456789abcdef0123456789abcdef", Time: time.Unix(1769860805, 0), Raw: json.RawMessage(
			`{"type":"item","action":"shared","timestamp":1769860805,"organization_uuid":"5b1c6f0e-8d2a-4c1e-9a43-3f2d1b7c9e10",` +
				`"user":{"uuid":"9f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","email":"alice.example@example.com"},` +
				`"initiator":{"uuid":"9f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","email":"alice.example@example.com","type":"user"},` +
				`"metadata":{"item_uuid":"c0ffee00-1234-5678-9abc-def012345678","share_type":"folder","ip":"203.0.113.7"}}`)}
	}
	page := batch(evs...)
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = Append(buf[:0], page, core.NopLogger{})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
}

// FuzzRecordMatchesJSON: whatever JSON object an event holds, its record
// carries the same values as a JSON decoder reads (plus the added fields),
// and anything else becomes the field raw; never a panic or a broken record.
// (Invalid UTF-8 is passed on verbatim, where a JSON decoder substitutes
// U+FFFD, so such inputs are only checked for a well-formed record.)
func FuzzRecordMatchesJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":[1,{"b":null}],"c":"\u00e9\n","d":-1.5e3}`, `[1]`, `{"a":`, `{}`, `{"source":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		b := batch(core.Event{ID: "id", Time: time.Unix(1, 0), Raw: json.RawMessage(raw)})
		recs := decodeRecords(t, Append(nil, b, core.NopLogger{}))
		if len(recs) != 1 {
			t.Fatalf("%d records", len(recs))
		}
		var want map[string]any
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		if !json.Valid([]byte(raw)) || !utf8.ValidString(raw) || dec.Decode(&want) != nil || want == nil || hasDuplicateKeys(raw) {
			return // not a plain object: covered by TestEventThatIsNotAnObjectIsKeptAsRaw
		}
		for k, v := range map[string]string{"source": "nordpass", "stream": "nordpass-eu", "event_id": "id"} {
			if _, ok := want[k]; !ok {
				want[k] = v
			}
		}
		if got, w := canonical(t, recs[0].body), canonical(t, want); got != w {
			t.Errorf("record body\n got %s\nwant %s", got, w)
		}
	})
}

// hasDuplicateKeys: a JSON object may repeat a key, and then JSON decoders
// keep the last while a msgpack map holds both.
func hasDuplicateKeys(raw string) bool {
	dup := false
	var walk func(v gjson.Result)
	walk = func(v gjson.Result) {
		if !v.IsObject() && !v.IsArray() {
			return // ForEach calls back with a scalar itself
		}
		seen := map[string]bool{}
		v.ForEach(func(k, e gjson.Result) bool {
			if v.IsObject() {
				if seen[k.Str] {
					dup = true
				}
				seen[k.Str] = true
			}
			walk(e)
			return true
		})
	}
	walk(gjson.Parse(raw))
	return dup
}
