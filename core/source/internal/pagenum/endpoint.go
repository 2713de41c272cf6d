package pagenum

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/source/internal/jsonpage"
	"github.com/auditpull/auditpull/internal/jsonscan"
)

// Endpoint is an API that answers a POSTed JSON query with one numbered
// page of {"data": [...], "metadata": {"total": n, "per_page": n}}, as both
// NordPass APIs do.
type Endpoint struct {
	HTTP *core.Requester
	URL  string
	// Op names the request in errors and logs.
	Op string
	// Source is the registered name, which names a bad stored cursor.
	Source string
	// PerPage is the page size asked for; Cap the API's documented cap
	// (not Reachable: the pages may be counted in another size, see Turn).
	PerPage, Cap int
	// Decode reads a 200 answer's body (see DecodeData).
	Decode func(body []byte) (jsonpage.Data, error)
	// Classify maps any other answer to a classified error; to is the
	// request's timestamp_to (see BadRequest).
	Classify func(r *core.Response, to int64) error
}

// Request is what one page's JSON body is built from.
type Request struct {
	From, To int64 // see Bounds
	Page     int
	PerPage  int // the page size to ask for
}

// Fetch reads the page q.Cursor names, asking for the window one second
// wider (see Bounds). body builds the JSON request; authorize sets the
// credential on every attempt, since a retried attempt may need a renewed
// one.
//
// A second read in more than one page, whose first page shows the API's
// timestamp_to inclusive, is asked again without the next second (see
// narrows); the cursors of its later pages say so.
func (e *Endpoint) Fetch(ctx context.Context, q core.Query, body func(Request) any, authorize func(ctx context.Context, req *http.Request) error) (core.Page, error) {
	cursor, narrowed := strings.CutSuffix(q.Cursor, toInclusiveMark)
	page, err := Page(cursor, e.Source+" page")
	if err != nil {
		return core.Page{}, err
	}
	r := Request{Page: page, PerPage: e.PerPage}
	r.From, r.To = Bounds(q)
	oneSecond := q.To.Sub(q.From) <= time.Second
	if oneSecond {
		// The core reads a run of one timestamp that a page boundary split
		// again by itself, whole where it fits a page.
		r.PerPage = max(r.PerPage, MaxPerPage)
	}
	if narrowed {
		r.To = q.From.Unix()
	}
	out, err := e.fetch(ctx, r, body, authorize)
	if err == nil && page == 1 && !narrowed && oneSecond && narrows(out, q.To) {
		narrowed, r.To = true, q.From.Unix()
		out, err = e.fetch(ctx, r, body, authorize)
	}
	if narrowed && out.Next != "" {
		out.Next += toInclusiveMark
	}
	return out, err
}

// toInclusiveMark ends the cursor of a page of a query asked without its
// last second (see narrows). A release that reads page numbers only
// refuses such a cursor, as a bad checkpoint, rather than page through the
// wider query by numbers counted in the narrower one.
const toInclusiveMark = ";to-inclusive"

// narrows reports whether a one-second query ending at to, whose first
// page is p, is to be asked again without the second after it. Under an inclusive
// timestamp_to, Bounds' query for the second T takes in T+1 too (T−1,
// which an inclusive timestamp_from adds, is older: the cap cuts it first,
// and the core stops paging once it is reached). Newest first, T+1's
// records come before T's: read only to be dropped, and where the two pass
// the cap together, it cuts T's oldest off (9,000 records at T and 1,500
// at T+1 lost 500 of T's). Asked up to T alone, T is read whole if it fits
// the cap. A query answered in one page has nothing to gain.
//
// That is only right where timestamp_to is inclusive: under an exclusive
// one it would leave T out. The page tells: a record of the second to
// names is in the answer only if the API counts that second in. A record
// at its very start is not proof where records carry milliseconds and the
// API compares them with timestamp_to×1000, which takes in that instant
// and not the rest of the second, so asking up to T would miss T's records
// after T.000. It counts only when no record on the page has a fraction of
// a second.
func narrows(p core.Page, to time.Time) bool {
	if p.Next == "" {
		return false
	}
	whole := !slices.ContainsFunc(p.Events, func(e core.Event) bool { return e.Time.Nanosecond() != 0 })
	return slices.ContainsFunc(p.Events, func(e core.Event) bool {
		return e.Time.After(to) && e.Time.Before(to.Add(time.Second)) || e.Time.Equal(to) && whole
	})
}

// fetch asks for one page.
func (e *Endpoint) fetch(ctx context.Context, r Request, body func(Request) any, authorize func(ctx context.Context, req *http.Request) error) (core.Page, error) {
	payload, _ := json.Marshal(body(r))
	var out core.Page
	err := e.HTTP.Do(ctx, e.Op, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		if err := authorize(ctx, req); err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}, func(resp *core.Response) error {
		if resp.Status != http.StatusOK {
			return e.Classify(resp, r.To)
		}
		d, err := e.Decode(resp.Body)
		if err == nil {
			out, err = Turn(r.Page, r.PerPage, e.Cap, d)
		}
		if err != nil {
			return &core.TransientError{Op: e.Op, Err: err}
		}
		return nil
	})
	return out, err
}

// DecodeData reads a page in one pass (see jsonpage.DataPage); noun names
// an element of data in errors. A page without a usable metadata.total is
// an error (see ErrNoTotal).
func DecodeData(b []byte, noun string, decode func(s *jsonscan.Scanner) (core.Event, error)) (jsonpage.Data, error) {
	d, err := jsonpage.DataPage(b, noun, decode)
	if err == nil && d.Total < 0 {
		return jsonpage.Data{}, ErrNoTotal(b)
	}
	return d, err
}
