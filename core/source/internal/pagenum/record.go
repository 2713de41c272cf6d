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
// noun names it in errors. ts, the record's timestamp, must be set: no
// window could hold a record without a time. NordPass records carry no id,
// so the id hashes key, the record's content in a canonical form; it is
// shared by genuinely identical records, whose copies the core counts
// (SourceInfo.ContentIDs).
func Record(s *jsonscan.Scanner, start jsonscan.Mark, noun string, ts int64, key []byte) (core.Event, error) {
	raw := s.Since(start)
	t, err := Time(ts)
	if err != nil {
		return core.Event{}, fmt.Errorf("%s %w: %s", noun, err, core.Snippet(raw))
	}
	sum := sha256.Sum256(key)
	return core.Event{ID: hex.EncodeToString(sum[:16]), Time: t, Raw: raw}, nil
}

// Below maxSeconds a timestamp is Unix seconds (up to the year 5138), and
// below maxMillis milliseconds: in milliseconds, anything under maxSeconds
// is before March 1973, so the two ranges cannot be mistaken for each other
// by any record of an API built in this century.
const (
	maxSeconds = 100_000_000_000
	maxMillis  = 100_000_000_000_000
)

// Time reads a record's timestamp. The document says `"timestamp":
// integer` and names no unit; the filters are read as Unix seconds, and so
// are the records. A record in milliseconds is told by its size and read
// as such: an API that answered a query in seconds with records in
// milliseconds is read correctly, where taking them for seconds would put
// them 50,000 years ahead and drop every one as outside its window, with
// nothing reported. A timestamp that is neither is an error.
func Time(ts int64) (time.Time, error) {
	switch {
	case ts <= 0:
		return time.Time{}, fmt.Errorf("without timestamp")
	case ts < maxSeconds:
		return time.Unix(ts, 0).UTC(), nil
	case ts < maxMillis:
		return time.UnixMilli(ts).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("with timestamp %d, neither Unix seconds nor milliseconds", ts)
}
