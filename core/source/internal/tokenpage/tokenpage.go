// Package tokenpage reads a time window in pages chained by an opaque
// token the vendor issues (OLOID's nextToken, Qualtrics' nextPage), where
// the vendor documents neither how long a token stays valid, nor whether
// its time bounds are inclusive, nor whether a token is an offset that
// repeats records inserted while paging. What it does about each keeps
// every record of the window and delivers none twice, except as said at
// Reader.Fetch.
package tokenpage

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/auditpull/auditpull/core"
)

// Reader reads the pages of one stream; it is used only by the poller's
// goroutine of that stream.
type Reader struct {
	Log core.Logger
	// Refused is the start of the warning logged when the vendor refuses a
	// stored token: "OLOID refused the stored nextToken".
	Refused string
	// Attrs are logged with it, before the window and the vendor's reason.
	Attrs []any
	// ContentID tells an id that hashes a record's content (nil: none
	// does). Two genuine records can be identical and share such an id,
	// so a repeat of the previous page's is not a repeat: the core counts
	// the copies (SourceInfo.ContentIDs).
	ContentID func(id string) bool

	prev      map[string]struct{} // ids on the previous page of the window
	restarted [2]int64            // window whose refused token was dropped
}

// Fetch reads the page of q with fetch, which sends one request continuing
// from cursor ("": the window's first page).
//
// A token stored in the checkpoint may have expired by the time it is used
// (after a long outage). When the vendor refuses it (HTTP 400 while
// continuing a window), the window is read again from its first page, once
// per window so that a broken API cannot loop, with a warning: its events
// may then be delivered twice, never lost.
//
// Records outside [q.From, q.To) are dropped, so the request may ask for
// wider bounds than the window; and so is a record whose id was on the
// previous page of the window, unless the id is a content hash.
func (r *Reader) Fetch(ctx context.Context, q core.Query, fetch func(ctx context.Context, cursor string) (core.Page, error)) (core.Page, error) {
	if q.Cursor == "" {
		r.prev = nil
	}
	page, err := fetch(ctx, q.Cursor)
	var re *core.RequestError
	if err != nil && q.Cursor != "" && errors.As(err, &re) && re.Status == http.StatusBadRequest && r.restarted != windowOf(q) {
		r.Log.Warn(r.Refused+"; reading the window again from its first page, so some of its events may be delivered twice",
			slices.Concat(r.Attrs, []any{"from", q.From.Format(time.RFC3339Nano), "to", q.To.Format(time.RFC3339Nano), "reason", re.Reason})...)
		r.restarted = windowOf(q)
		r.prev = nil
		page, err = fetch(ctx, "")
	}
	if err != nil {
		return core.Page{}, err
	}
	page.Events = r.keep(page.Events, q)
	return page, nil
}

func windowOf(q core.Query) [2]int64 { return [2]int64{q.From.UnixNano(), q.To.UnixNano()} }

// keep drops records outside the window and records already on the
// previous page of this window, then remembers this page's ids.
func (r *Reader) keep(evs []core.Event, q core.Query) []core.Event {
	ids := make(map[string]struct{}, len(evs))
	out := evs[:0]
	for _, e := range evs {
		_, repeat := r.prev[e.ID]
		if repeat && r.ContentID != nil && r.ContentID(e.ID) {
			repeat = false
		}
		ids[e.ID] = struct{}{}
		if repeat || e.Time.Before(q.From) || !e.Time.Before(q.To) {
			continue
		}
		out = append(out, e)
	}
	r.prev = ids
	return out
}
