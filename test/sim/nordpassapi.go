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
	gw       *Gateway // the embedding type's, which exports it
	variant  npVariant
	events   npEvents
	clock    Clock // the API's, as the store's
	store    *Store
	path     string
	cap      int
	maxSpan  int64 // seconds
	readings NordPassReadings
	handler  http.Handler

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

// NordPassReadings are the choices the NordPass documents leave open about
// the query endpoint, which the Enterprise and MSP APIs share. The zero
// value is the simulator's first reading: both bounds inclusive, an exact
// total, a page straddling the cap cut at the cap, an empty page past the
// last, pages of the size asked, timestamps in seconds.
type NordPassReadings struct {
	// FromExclusive and ToExclusive make timestamp_from and timestamp_to
	// exclusive: the records of that second are left out.
	FromExclusive, ToExclusive bool
	// Total is what metadata.total reports.
	Total NordPassTotal
	// StraddlingPage is what a page holding the cap's last record and
	// records past it serves (per_page 30, page 334: records 9991–10020).
	// Pages that start at or past the cap are refused in every reading,
	// as documented.
	StraddlingPage NordPassStraddle
	// RefusePastLastPage answers a page past total_pages with 400 ("page
	// value exceeds the total number of available pages") instead of an
	// empty page. Page 1 is answered even when nothing matches.
	RefusePastLastPage bool
	// ServedPerPage, when positive, is the most records a page holds
	// whatever per_page asks: pages are numbered in the size served, and
	// metadata.per_page (and total_pages) say that size.
	ServedPerPage int
	// MillisecondTimestamps writes each record's timestamp in milliseconds;
	// timestamp_from and timestamp_to stay in seconds.
	MillisecondTimestamps bool
	// UserFilter is what user_uuids matches a record by (NordPass; the MSP
	// API has no such filter): its user (default), its user or initiator,
	// or whoever acted.
	UserFilter UserMatch
}

// tsUnit is what a record's Unix second is multiplied by when rendered.
func (r NordPassReadings) tsUnit() int64 {
	if r.MillisecondTimestamps {
		return 1000
	}
	return 1
}

// NordPassTotal is what metadata.total counts.
type NordPassTotal int

const (
	// NordPassTotalExact counts every match, beyond the cap too.
	NordPassTotalExact NordPassTotal = iota
	// NordPassTotalCapped counts at most Cap matches (and total_pages
	// follows), so a client cannot tell 10,000 matches from a million.
	NordPassTotalCapped
	// NordPassTotalOmitted leaves total and total_pages out of the
	// metadata: an answer shape a client must refuse, not guess at.
	NordPassTotalOmitted
)

// NordPassStraddle is how a page that straddles the cap is served.
type NordPassStraddle int

const (
	// NordPassStraddleTruncated serves the page's records within the cap.
	NordPassStraddleTruncated NordPassStraddle = iota
	// NordPassStraddleFull serves the whole page, records past the cap
	// included.
	NordPassStraddleFull
	// NordPassStraddleRefused answers 400 Invalid request payload with the
	// cap reason, as "requesting logs 9980-10050 will not return results"
	// may mean.
	NordPassStraddleRefused
)

// reasonPastLastPage refuses a page past total_pages under
// RefusePastLastPage, in the words of the seed's "cannot exceed the total
// number of available pages".
const reasonPastLastPage = "page value exceeds the total number of available pages"

// npQuery is a validated query. At most one of users and keep is set, by
// the variant: the Store narrows by user natively, while the MSP filters
// need a predicate over the string a record is filed under.
type npQuery struct {
	from, to      int64 // Unix seconds, both inclusive
	perPage, page int64
	users         map[string]bool
	keep          func(filed string) bool
}

// init sets e up to serve path for v behind gw from store, whose clock is
// the API's. capN and maxSpan must already carry their defaults
// (nordPassLimits).
func (e *npEndpoint) init(v npVariant, gw *Gateway, events npEvents, path string, live *rand.Rand,
	store *Store, capN int, maxSpan time.Duration, readings NordPassReadings) {
	e.gw = gw
	e.variant, e.events = v, events
	e.clock = store.clock
	e.store = store
	e.readings = readings
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
	buf, reason := e.page((*bp)[:0], q)
	defer func() {
		if cap(buf) <= 1<<20 {
			*bp = buf
			bufPool.Put(bp)
		}
	}()
	if reason != "" {
		writeInvalid(w, reason)
		return
	}
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
//   - the span rule is to − from > MaxSpan, in seconds, whatever the
//     bounds' inclusivity.
//
// The choices that matter to a client are NordPassReadings.
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
	if n := int64(e.readings.ServedPerPage); n > 0 && q.perPage > n {
		q.perPage = n
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
	// the request itself asks for logs past the cap), and so, in one
	// reading, is a page that straddles it. Both are counted in pages, as
	// page × per_page may overflow.
	startsPast := q.page-1 >= (int64(e.cap)+q.perPage-1)/q.perPage
	endsPast := q.page > int64(e.cap)/q.perPage
	if startsPast || endsPast && e.readings.StraddlingPage == NordPassStraddleRefused {
		return q, e.capReason
	}
	return q, ""
}

// page appends the response body for q to buf, or returns the reason the
// page is refused. metadata.total is the true number of matching records,
// beyond the cap too, unless NordPassReadings.Total says otherwise (the
// seed does not say; an exact total is what lets a client size its window
// splits), and total_pages follows from it. A page past total_pages but within the cap
// is 200 with empty data unless RefusePastLastPage: the seed says page
// "cannot exceed" the total, not what happens when it does.
func (e *npEndpoint) page(buf []byte, q npQuery) ([]byte, string) {
	offset := (q.page - 1) * q.perPage
	limit := q.perPage
	if e.readings.StraddlingPage != NordPassStraddleFull {
		limit = min(limit, int64(e.cap)-offset)
	}
	buf = append(buf, `{"data":[`...)
	n := 0
	emit := elements(&buf, &n)
	from, to := q.from, q.to+1
	if e.readings.FromExclusive {
		from++
	}
	if e.readings.ToExclusive {
		to--
	}
	var total int64
	if q.keep != nil {
		total = int64(e.store.filtered(time.Unix(from, 0), time.Unix(to, 0), true, q.keep, int(offset), int(limit), emit))
	} else {
		total = int64(e.store.Query(Query{From: time.Unix(from, 0), To: time.Unix(to, 0), Users: q.users, Match: e.readings.UserFilter, Offset: int(offset), Limit: int(limit)}, emit))
	}
	if e.readings.Total == NordPassTotalCapped {
		total = min(total, int64(e.cap))
	}
	pages := (total + q.perPage - 1) / q.perPage
	if e.readings.RefusePastLastPage && q.page > max(pages, 1) {
		return buf, reasonPastLastPage
	}
	buf = append(buf, `],"metadata":{`...)
	if e.readings.Total != NordPassTotalOmitted {
		buf = append(buf, `"total":`...)
		buf = strconv.AppendInt(buf, total, 10)
		buf = append(buf, ',')
	}
	buf = append(buf, `"per_page":`...)
	buf = strconv.AppendInt(buf, q.perPage, 10)
	buf = append(buf, `,"current_page":`...)
	buf = strconv.AppendInt(buf, q.page, 10)
	if e.readings.Total != NordPassTotalOmitted {
		buf = append(buf, `,"total_pages":`...)
		buf = strconv.AppendInt(buf, pages, 10)
	}
	return append(buf, `}}`...), ""
}
