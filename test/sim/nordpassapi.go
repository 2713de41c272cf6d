package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// npEndpoint is the query endpoint both NordPass APIs serve. The MSP
// Activity Log follows the Enterprise API's rules for the time range,
// paging, the record cap and the response, so those live here once; what
// sets the two apart comes from the npVariant given to init.
type npEndpoint struct {
	gw      *Gateway // the embedding type's, which exports it
	variant npVariant
	events  npEvents
	clock   Clock
	store   *Store
	path    string
	cap     int
	maxSpan int64 // seconds
	handler http.Handler

	spanReason, capReason string

	// mu also guards the embedding type's own state (tokens, keys), so that
	// one lock covers everything a request reads.
	mu      sync.Mutex
	onServe func(page int)
	live    *rand.Rand // draws for AddRandom
}

// npVariant is what the Enterprise and MSP APIs do differently.
type npVariant interface {
	// authorize returns the status and message refusing r, or 0.
	authorize(r *http.Request) (status int, msg string)
	// defaultRange is the range asked for when neither bound is given, and
	// rangeFrom its start when only timestamp_to is; now and the bounds are
	// Unix seconds.
	defaultRange(now int64) (from, to int64)
	rangeFrom(to int64) int64
	// filter validates the API's own filter fields into q, or returns the
	// reason they are invalid.
	filter(fields map[string]json.RawMessage, q *npQuery) string
}

// npEvents draws an event of the generated mix at ts (Unix seconds) and
// renders it at the end of dst.
type npEvents interface {
	event(rnd *rand.Rand, dst []byte, ts int64) (rec, []byte)
}

// npQuery is a validated query. At most one of users and keep is set, by
// the variant: the Store narrows by user natively, while the MSP filters
// need a predicate over the string a record is filed under.
type npQuery struct {
	from, to      int64 // Unix seconds, both inclusive
	perPage, page int64
	users         map[string]bool
	keep          func(filed string) bool
}

// init sets e up to serve path for v behind gw. capN and maxSpan must
// already carry their defaults (nordPassLimits).
func (e *npEndpoint) init(v npVariant, gw *Gateway, events npEvents, path string, live *rand.Rand,
	clock Clock, capN int, maxSpan time.Duration) {
	e.gw = gw
	e.variant, e.events = v, events
	e.clock = clock
	e.store = NewStore(clock)
	e.path = path
	e.cap = capN
	e.maxSpan = int64(maxSpan / time.Second)
	e.spanReason = fmt.Sprintf(reasonSpanTemplate, spanText(maxSpan))
	e.capReason = fmt.Sprintf(reasonCapTemplate, thousands(capN))
	e.live = live
	e.handler = gw.Wrap(http.HandlerFunc(e.query))
}

// OnServe sets a hook called with the page number for each successful data
// response, once the page is rendered and before it is written: whatever
// the hook changes (such as events added with AddEvent) is in place before
// the client can have read the page, let alone asked for the next. (Called
// after the write, the hook raced the client: a body larger than the
// server's write buffer reaches it before the handler returns.) Pages a
// fault damages do not count. nil removes the hook.
func (e *npEndpoint) OnServe(f func(page int)) {
	e.mu.Lock()
	e.onServe = f
	e.mu.Unlock()
}

// AddRandom inserts an event at ts (truncated to the second) drawn from the
// same mix as the generated history, visible at once. Successive calls
// draw from a generator seeded by the config's Seed.
func (e *npEndpoint) AddRandom(ts time.Time) Record {
	e.mu.Lock()
	x, _ := e.events.event(e.live, nil, ts.Unix())
	e.mu.Unlock()
	r := x.record()
	e.store.Add(r)
	return r
}

// Truth returns the raw JSON of every record with Time in [from, to) that is
// visible now, in any order: what a complete read of that range delivers.
func (e *npEndpoint) Truth(from, to time.Time) [][]byte { return e.store.Truth(from, to) }

// All returns every record, visible or not, oldest first.
func (e *npEndpoint) All() []Record { return e.store.All() }

// ServeHTTP serves the data endpoint; any other path is 404.
func (e *npEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != e.path {
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	e.handler.ServeHTTP(w, r)
}

// query answers one request that got past the gateway. Checks run in the
// order a request meets them in reality: authentication at the edge, then
// the payload, then the data.
func (e *npEndpoint) query(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeMessage(w, http.StatusMethodNotAllowed, msgMethod)
		return
	}
	if status, msg := e.variant.authorize(r); status != 0 {
		writeMessage(w, status, msg)
		return
	}
	if !isJSON(r) {
		writeInvalid(w, reasonContentType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, nordPassMaxBody))
	if err != nil {
		writeInvalid(w, reasonBody)
		return
	}
	q, reason := e.parse(body)
	if reason != "" {
		writeInvalid(w, reason)
		return
	}
	bp := bufPool.Get().(*[]byte)
	buf := e.page((*bp)[:0], q)
	if !damaged(r.Context()) {
		e.gw.markServed()
		e.mu.Lock()
		hook := e.onServe
		e.mu.Unlock()
		if hook != nil {
			hook(int(q.page))
		}
	}
	writeRaw(w, buf)
	if cap(buf) <= 1<<20 {
		*bp = buf
		bufPool.Put(bp)
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// parse validates a request body against the documented rules and returns
// the query or the reason it is invalid.
//
// Where the seed is silent the simulator chooses, and the choices are:
//   - null counts as absent; an empty filter array means no filter;
//   - only timestamp_from given: timestamp_to is now; otherwise an absent
//     bound is the variant's (rangeFrom, defaultRange);
//   - integers must be JSON integers (no strings, fractions or exponents);
//     negative timestamps are "wrong format";
//   - the span rule is to − from > MaxSpan, in seconds.
func (e *npEndpoint) parse(body []byte) (npQuery, string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return npQuery{}, reasonBody
	}
	q := npQuery{perPage: nordPassDefaultPerPage, page: 1}

	from, hasFrom, ok1 := intField(fields, "timestamp_from")
	to, hasTo, ok2 := intField(fields, "timestamp_to")
	if !ok1 || !ok2 || from < 0 || to < 0 {
		return q, reasonTimeFormat
	}
	now := e.clock.Now().Unix()
	switch {
	case !hasFrom && !hasTo:
		from, to = e.variant.defaultRange(now)
	case !hasTo:
		to = now
	case !hasFrom:
		from = e.variant.rangeFrom(to)
	}
	switch {
	case from > to:
		return q, reasonFromAfterTo
	case to > now:
		return q, reasonToInFuture
	case to-from > e.maxSpan:
		return q, e.spanReason
	}
	q.from, q.to = from, to

	if reason := e.variant.filter(fields, &q); reason != "" {
		return q, reason
	}

	perPage, has, ok := intField(fields, "per_page")
	switch {
	case !ok:
		return q, reasonPerPageFormat
	case has && (perPage < 1 || perPage > nordPassMaxPerPage):
		return q, reasonPerPageRange
	case has:
		q.perPage = perPage
	}
	page, has, ok := intField(fields, "page")
	switch {
	case !ok:
		return q, reasonPageFormat
	case has && page < 1:
		return q, reasonPageTooSmall
	case has:
		q.page = page
	}
	// Only the Cap most recent records are reachable. A page that starts at
	// or beyond the cap is refused (whether or not that many records match:
	// the request itself asks for logs past the cap). A page that straddles
	// the cap is served with the records inside it; the seed's example
	// ("requesting logs 9980-10050 will not return results") could also be
	// read as refusing it, but a client that splits windows never asks.
	if q.page-1 >= (int64(e.cap)+q.perPage-1)/q.perPage {
		return q, e.capReason
	}
	return q, ""
}

// page appends the response body for q to buf. metadata.total is the true
// number of matching records, beyond the cap too (the seed does not say;
// this is what lets a client size its window splits), and total_pages
// follows from it. A page past total_pages but within the cap is 200 with
// empty data: the seed says page "cannot exceed" the total, not what
// happens when it does, and an empty page is the answer a paging client
// copes with best.
func (e *npEndpoint) page(buf []byte, q npQuery) []byte {
	offset := (q.page - 1) * q.perPage
	limit := min(q.perPage, int64(e.cap)-offset)
	buf = append(buf, `{"data":[`...)
	n := 0
	emit := elements(&buf, &n)
	from, to := time.Unix(q.from, 0), time.Unix(q.to+1, 0)
	var total int
	if q.keep != nil {
		total = e.store.filtered(from, to, true, q.keep, int(offset), int(limit), emit)
	} else {
		total = e.store.Query(Query{From: from, To: to, Users: q.users, Offset: int(offset), Limit: int(limit)}, emit)
	}
	buf = append(buf, `],"metadata":{"total":`...)
	buf = strconv.AppendInt(buf, int64(total), 10)
	buf = append(buf, `,"per_page":`...)
	buf = strconv.AppendInt(buf, q.perPage, 10)
	buf = append(buf, `,"current_page":`...)
	buf = strconv.AppendInt(buf, q.page, 10)
	buf = append(buf, `,"total_pages":`...)
	buf = strconv.AppendInt(buf, (int64(total)+q.perPage-1)/q.perPage, 10)
	return append(buf, `}}`...)
}
