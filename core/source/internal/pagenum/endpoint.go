package pagenum

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
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
func (e *Endpoint) Fetch(ctx context.Context, q core.Query, body func(Request) any, authorize func(ctx context.Context, req *http.Request) error) (core.Page, error) {
	page, err := Page(q.Cursor, e.Source+" page")
	if err != nil {
		return core.Page{}, err
	}
	from, to := Bounds(q)
	asked := e.PerPage
	if q.To.Sub(q.From) <= time.Second {
		// One second: the core reads a run of one timestamp that a page
		// boundary split again by itself, whole where it fits a page.
		asked = max(asked, MaxPerPage)
	}
	payload, _ := json.Marshal(body(Request{From: from, To: to, Page: page, PerPage: asked}))
	var out core.Page
	err = e.HTTP.Do(ctx, e.Op, func(ctx context.Context) (*http.Request, error) {
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
	}, func(r *core.Response) error {
		if r.Status != http.StatusOK {
			return e.Classify(r, to)
		}
		d, err := e.Decode(r.Body)
		if err == nil {
			out, err = Turn(page, asked, e.Cap, d)
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
