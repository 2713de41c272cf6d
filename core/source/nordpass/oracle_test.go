package nordpass

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/tidwall/gjson"
)

// The decoder that jsonscan.Scanner replaced, built on gjson: kept as the
// oracle FuzzDecodePage compares the single-pass decoder with.

func gjsonDecodePage(b []byte) (core.Page, error) {
	if !gjson.ValidBytes(b) {
		return core.Page{}, fmt.Errorf("unparsable response: %s", core.Snippet(b))
	}
	root := gjson.ParseBytes(b)
	data := root.Get("data")
	if !data.IsArray() {
		return core.Page{}, fmt.Errorf("response has no data array: %s", core.Snippet(b))
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
	if err == nil && !root.Get("metadata.total").Exists() {
		// A page without a total is refused since it could pass for the
		// last page and end a window early.
		err = fmt.Errorf("response has no metadata.total: %s", core.Snippet(b))
	}
	return core.Page{Total: int(root.Get("metadata.total").Int()), Events: events}, err
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
	if ts <= 0 {
		return core.Event{}, fmt.Errorf("event without timestamp: %s", core.Snippet(raw))
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
		Time:   time.Unix(ts, 0).UTC(),
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
