package pagenum

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/internal/jsonscan"
)

// Record is the event read from s since start, with its time and id;
// noun names it in errors. ts, Unix seconds, must be set: no window could
// hold a record without a time. NordPass records carry no id, so the id
// hashes key, the record's content in a canonical form; it is shared by
// genuinely identical records, whose copies the core counts
// (SourceInfo.ContentIDs).
func Record(s *jsonscan.Scanner, start jsonscan.Mark, noun string, ts int64, key []byte) (core.Event, error) {
	raw := s.Since(start)
	if ts <= 0 {
		return core.Event{}, fmt.Errorf("%s without timestamp: %s", noun, core.Snippet(raw))
	}
	sum := sha256.Sum256(key)
	return core.Event{ID: hex.EncodeToString(sum[:16]), Time: time.Unix(ts, 0).UTC(), Raw: raw}, nil
}
