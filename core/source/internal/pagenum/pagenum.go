// Package pagenum holds what the two NordPass APIs share about reading a
// time window in numbered pages over a newest-first result, where only the
// most recent records of a query are reachable. The rules come from the
// NordPass Activity Logs document; where it is silent (the bounds'
// inclusiveness, whether metadata.total is capped, what a page straddling
// the cap returns, how far behind the API's clock may be, the page size
// served, the timestamps' unit), every choice here is safe under each
// reading, and test/sim has a switch for each. An answer no reading makes
// sense of (no usable metadata.total, a page that cannot be counted, data
// null where records should be) is an error the core retries and reports,
// never the window's last page.
package pagenum

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/source/internal/jsonpage"
)

// The Enterprise API's documented limits, which the MSP API is assumed to
// share: at most 90 days between the bounds, pages of 1–100, and only the
// 10,000 most recent records of a query.
const (
	MaxSpan    = 90 * 24 * time.Hour
	Cap        = 10000
	MaxPerPage = 100
)

// Rate is the Enterprise API's documented budget: 2000 requests per 5
// minutes per IP.
var Rate = core.Rate{Requests: 2000, Period: 5 * time.Minute}

// CheckLimits checks page_size and max_window against the limits; api
// names the API in the messages.
func CheckLimits(cfg *core.Config, api string) error {
	if ps := cfg.PageSize; ps > MaxPerPage {
		return &core.ConfigError{Key: "page_size", Msg: fmt.Sprintf("%d is out of range; %s accepts 1 to %d", ps, api, MaxPerPage)}
	}
	if mw := cfg.MaxWindow.D(); mw > MaxSpan {
		return &core.ConfigError{Key: "max_window", Msg: fmt.Sprintf("%s exceeds %s's limit of 90 days", mw, api)}
	}
	return nil
}

// Bounds returns the Unix-second bounds to send for the window [q.From,
// q.To): one second before From, and To itself. Whether the API reads
// timestamp_from and timestamp_to as inclusive or exclusive, every record
// of [From, To) is then inside; the core drops what lies outside the
// window. (Sending [From, To−1s], as before, lost the last second of every
// window from an API with an exclusive timestamp_to.)
func Bounds(q core.Query) (from, to int64) { return q.From.Unix() - 1, q.To.Unix() }

// MaxWindow is the longest window the planner may ask for when the API
// allows span between the bounds: Bounds widens a window by one second,
// and an API counting both bounds inclusively counts one more.
func MaxWindow(span time.Duration) time.Duration { return span - 2*time.Second }

// Reachable is how many records of one query can be read in whole pages of
// perPage when the API returns only its capN most recent: no page may reach
// past the cap. The seed says requesting logs 9,980–10,050 "will not return
// results"; a strict API refuses such a page, so with pages of 30 a query
// reaches 9,990 records, and larger windows are split.
func Reachable(capN, perPage int) int { return capN / perPage * perPage }

// Page reads a page cursor ("" is page 1).
func Page(cursor, where string) (int, error) {
	if cursor == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(cursor)
	if err != nil || n < 1 {
		return 0, &core.CheckpointError{Where: where, Err: fmt.Errorf("invalid page cursor %q", cursor)}
	}
	return n, nil
}

// Next returns the cursor of the page after page, or "" when the query has
// no more pages within reach: never past total_pages, and never a page that
// would reach past the cap. perPage is the size the API numbers its pages
// in (see Turn).
func Next(page, total, perPage, capN int) string {
	totalPages := (total + perPage - 1) / perPage
	if page < totalPages && (page+1)*perPage <= capN {
		return strconv.Itoa(page + 1)
	}
	return ""
}

// Turn judges the answer d to the request for page, in pages of asked, and
// returns the page for the core with the cursor of the next one.
//
// The API numbers its pages in the size it serves, which the document
// does not promise is the size asked for (per_page 1 to 100 is what may
// be asked; the MSP API's limits are not documented at all). Counted in
// the asked size, pages of a smaller served size would be skipped; so
// pages are counted in metadata.per_page when the answer gives one, and an
// answer that cannot be counted is an error rather than a guess:
//   - a page holding more records than its page size;
//   - a page short of its page size while metadata.total says more
//     records follow it (with no metadata.per_page the served size cannot
//     be told, and setting page_size to what the API serves is the cure);
//   - data null while metadata.total puts records on this page (null for
//     no records is what some backends render, and is read as empty).
//
// The planner splits a window at Reachable(capN, asked) records, what
// pages of the asked size reach, and reports what a window it cannot split
// holds beyond that. Pages of a smaller served size reach fewer: a first
// page holding more than they reach reports its total raised by the
// difference, so that the planner splits the window rather than read it
// short of its oldest records, and counts exactly the unreachable ones
// when it cannot.
func Turn(page, asked, capN int, d jsonpage.Data) (core.Page, error) {
	size := asked
	if d.PerPage > 0 {
		size = d.PerPage
	}
	n := len(d.Events)
	sizeFrom := "asked"
	if d.PerPage > 0 {
		sizeFrom = "of metadata.per_page"
	}
	switch {
	case d.Found == jsonpage.Null && (page-1)*size < d.Total:
		return core.Page{}, fmt.Errorf("page %d has data null, but metadata.total %d puts records on it (pages of %d)", page, d.Total, size)
	case n > size:
		return core.Page{}, fmt.Errorf("page %d holds %d records, more than the page size %d %s", page, n, size, sizeFrom)
	case n < size && page*size < d.Total && page*size <= capN && d.PerPage > 0:
		return core.Page{}, fmt.Errorf("page %d holds %d records, fewer than metadata.per_page %d, though metadata.total %d says more follow it", page, n, size, d.Total)
	case n < size && page*size < d.Total && page*size <= capN:
		return core.Page{}, fmt.Errorf("page %d holds %d records, fewer than the %d asked, though metadata.total %d says more follow it, and the answer has no metadata.per_page to count pages by: if the API serves at most %d records a page, set page_size to %d", page, n, size, d.Total, n, n)
	}
	out := core.Page{Events: d.Events, Total: d.Total, Next: Next(page, d.Total, size, capN)}
	if gap := Reachable(capN, asked) - Reachable(capN, size); page == 1 && gap > 0 && d.Total > Reachable(capN, size) {
		out.Total += gap
	}
	return out, nil
}

// ErrNoTotal is a page without a usable metadata.total (absent, null, or
// not a count): without it neither the pages nor the cap can be judged, so
// it is an answer to retry, never a last page.
func ErrNoTotal(body []byte) error {
	return fmt.Errorf("response has no metadata.total that is a count: %s", core.Snippet(body))
}

// ToInFuture tells the reason NordPass gives for a timestamp_to past its
// own clock. The request is fine: the API's clock is behind this machine's
// by more than settle_delay. It is retried, not fatal: the window is fixed,
// and the API's clock passes its end within the skew.
func ToInFuture(reason string) bool {
	return strings.Contains(strings.ToLower(reason), "timestamp_to is in the future")
}

// Message reads the error body both NordPass APIs answer with:
// {"message": …} and, where the API names the rule broken, {"reason": …}.
// A body of another shape is quoted instead.
func Message(b []byte) (msg, reason string) {
	var body struct {
		Message string `json:"message"`
		Reason  string `json:"reason"`
	}
	_ = json.Unmarshal(b, &body)
	if body.Message == "" {
		body.Message = core.Snippet(b)
	}
	return body.Message, body.Reason
}

// BadRequest classifies a 400 of op for a request whose timestamp_to was
// to: a RequestError (the request or configuration is wrong: retrying will
// not help) unless the API's clock is behind this machine's — it says
// timestamp_to is in the future, or it names no reason and its Date is
// before to — which passes: then a TransientError.
func BadRequest(op string, r *core.Response, to int64) error {
	msg, reason := Message(r.Body)
	if reason != "" {
		msg += " (" + reason + ")"
	}
	if ToInFuture(msg) || reason == "" && dateBefore(r, to) {
		return &core.TransientError{Op: op, Err: fmt.Errorf("%s: the API's clock is behind this machine's; retried once it has passed the window's end", msg)}
	}
	return &core.RequestError{Op: op, Status: r.Status, Reason: msg}
}

// dateBefore reports whether the answer's Date is before to (Unix
// seconds).
func dateBefore(r *core.Response, to int64) bool {
	t, err := http.ParseTime(r.Header.Get("Date"))
	return err == nil && t.Unix() < to
}
