package nordpass

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/source/internal/jsonpage"
	"github.com/tidwall/gjson"
)

// The decoder that jsonscan.Scanner replaced, built on gjson: kept as the
// oracle FuzzDecodePage compares the single-pass decoder with.

func gjsonDecodePage(b []byte) (jsonpage.Data, error) {
	if !gjson.ValidBytes(b) {
		return jsonpage.Data{}, fmt.Errorf("unparsable response: %s", core.Snippet(b))
	}
	root := gjson.ParseBytes(b)
	data := root.Get("data")
	if data.Type == gjson.Null && data.Exists() {
		d := jsonpage.Data{Found: jsonpage.Null, Total: -1}
		if n, ok := count(root.Get("metadata.total")); ok {
			d.Total = n
		}
		if n, ok := count(root.Get("metadata.per_page")); ok && n > 0 {
			d.PerPage = n
		}
		if d.Total < 0 {
			return jsonpage.Data{}, fmt.Errorf("response has no metadata.total that is a count: %s", core.Snippet(b))
		}
		return d, nil
	}
	if !data.IsArray() {
		return jsonpage.Data{}, fmt.Errorf("response has no data array: %s", core.Snippet(b))
	}
	events := make([]core.Event, 0, 100)
	var err error
	data.ForEach(func(_, v gjson.Result) bool {
		var e core.Event
		if e, err = gjsonDecodeEvent(v, b[v.Index:v.Index+len(v.Raw):v.Index+len(v.Raw)]); err != nil {
			return false
		}
		events = append(events, e)
		return true
	})
	d := jsonpage.Data{Events: events, Found: jsonpage.Array, Total: -1}
	if n, ok := count(root.Get("metadata.total")); ok {
		d.Total = n
	}
	if n, ok := count(root.Get("metadata.per_page")); ok && n > 0 {
		d.PerPage = n
	}
	if err == nil && d.Total < 0 {
		// A page without a total is refused since it could pass for the
		// last page and end a window early.
		err = fmt.Errorf("response has no metadata.total that is a count: %s", core.Snippet(b))
	}
	return d, err
}

// count reads a metadata count: an integer, or a string of digits.
func count(r gjson.Result) (int, bool) {
	var n int64
	switch r.Type {
	case gjson.Number:
		if i, err := strconv.ParseInt(r.Raw, 10, 64); err == nil {
			n = i
		} else if r.Num >= -(1<<63) && r.Num < 1<<63 {
			n = int64(r.Num)
		} else {
			return 0, false
		}
	case gjson.String:
		i, err := strconv.ParseInt(r.Str, 10, 64)
		if err != nil {
			return 0, false
		}
		n = i
	default:
		return 0, false
	}
	if n < 0 || n > math.MaxInt32 {
		return 0, false
	}
	return int(n), true
}

// gjsonDecodeEvent takes the fields the core needs in one pass over the object
// and hashes the record's canonical fields into its id: NordPass events
// carry no id, and two genuine events can be identical, so this id is not
// unique — the core counts copies per id instead of keeping a set.
func gjsonDecodeEvent(v gjson.Result, raw []byte) (core.Event, error) {
	if !v.IsObject() {
		return core.Event{}, fmt.Errorf("event is not an object: %s", core.Snippet(raw))
	}
	var typ, action, org, uuid, email, initiator, metadata string
	var ts int64
	v.ForEach(func(k, f gjson.Result) bool {
		switch k.Str {
		case "type":
			typ = f.Str
		case "action":
			action = f.Str
		case "timestamp":
			ts = f.Int()
		case "organization_uuid":
			org = f.Str
		case "user":
			f.ForEach(func(uk, uf gjson.Result) bool {
				switch uk.Str {
				case "uuid":
					uuid = uf.Str
				case "email":
					email = uf.Str
				}
				return true
			})
		case "initiator":
			initiator = f.Raw
		case "metadata":
			metadata = f.Raw
		}
		return true
	})
	var t time.Time
	switch {
	case ts <= 0:
		return core.Event{}, fmt.Errorf("event without timestamp: %s", core.Snippet(raw))
	case ts < 1e11:
		t = time.Unix(ts, 0).UTC()
	case ts < 1e14:
		t = time.UnixMilli(ts).UTC()
	default:
		return core.Event{}, fmt.Errorf("event with timestamp %d, neither Unix seconds nor milliseconds: %s", ts, core.Snippet(raw))
	}
	var buf [512]byte
	key := buf[:0]
	for _, f := range []string{typ, action, org, uuid, email, compact(initiator), compact(metadata)} {
		key = append(append(key, f...), 0)
	}
	key = strconv.AppendInt(key, ts, 10)
	sum := sha256.Sum256(key)
	return core.Event{
		ID:     hex.EncodeToString(sum[:16]),
		Time:   t,
		Type:   typ,
		Action: action,
		User:   core.Fields("user_uuid", uuid, "user_email", email),
		Raw:    raw,
	}, nil
}

// compact is the id's canonical form: JSON without insignificant whitespace.
func compact(s string) string {
	var buf bytes.Buffer
	if json.Compact(&buf, []byte(s)) != nil {
		return s
	}
	return buf.String()
}
