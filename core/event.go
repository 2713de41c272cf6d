package core

import (
	"encoding/json"
	"time"
)

// Event is one audit record. With format raw (the default) Raw is passed to
// the host untouched, so a SIEM sees exactly what the vendor sent; with ocsf
// or ecs the poller replaces it by the normalised record, which keeps the
// vendor's record whole inside it (core/normalize).
type Event struct {
	// ID is the vendor's id where it has one, otherwise a stable hash of the
	// record's canonical content (NordPass); such ids are not unique, which
	// is why the poller counts copies per id.
	ID     string
	Time   time.Time
	Type   string
	Action string
	// User identifies the actor in the vendor's own terms (user_uuid,
	// user_email…); adapters may surface it as fields. A slice, not a map:
	// one small allocation per event instead of a hash table.
	User []Field
	Raw  json.RawMessage
	// AlsoIn, when positive, is one more than another partition whose
	// query may return this record too, where the vendor's filter may
	// match it by either of two of its fields (NordPass: its user and its
	// initiator in different groups of user_uuids). The poller delivers
	// each copy from the first partition that returns it.
	AlsoIn int
}

// Field is one named value.
type Field struct{ Name, Value string }

// Fields builds a User list from name/value pairs, leaving out empty values.
func Fields(pairs ...string) []Field {
	n := 0
	for i := 1; i < len(pairs); i += 2 {
		if pairs[i] != "" {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]Field, 0, n)
	for i := 1; i < len(pairs); i += 2 {
		if pairs[i] != "" {
			out = append(out, Field{Name: pairs[i-1], Value: pairs[i]})
		}
	}
	return out
}
