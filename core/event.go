package core

import (
	"encoding/json"
	"time"
)

// Event is one audit record as the vendor returned it. Raw is passed to the
// host untouched, so a SIEM sees exactly what the vendor sent.
type Event struct {
	// ID is the vendor's id where it has one, otherwise a stable hash of the
	// record's canonical content (NordPass); such ids are not unique, which
	// is why the poller counts copies per id.
	ID     string
	Time   time.Time
	Type   string
	Action string
	// User identifies the actor in the vendor's own terms (uuid, email…);
	// adapters may surface it as fields.
	User map[string]string
	Raw  json.RawMessage
}
