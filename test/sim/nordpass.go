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

// NordPassPath is the data endpoint of the NordPass Enterprise Activity Logs
// API, relative to the base URL.
const NordPassPath = "/activities/query"

// Documented limits of the NordPass Activity Logs API.
const (
	nordPassDefaultPerPage = 30
	nordPassMaxPerPage     = 100
	nordPassMaxUsers       = 500
	nordPassDefaultCap     = 10000
	nordPassDefaultSpan    = 90 * 24 * time.Hour
	nordPassDefaultLimit   = 2000
	nordPassDefaultWindow  = 5 * time.Minute
	nordPassMaxBody        = 1 << 20
	day                    = 24 * 60 * 60 // seconds
)

// TokenState is what NordPass thinks of an Authorization token.
type TokenState int

const (
	// TokenValid is accepted.
	TokenValid TokenState = iota + 1
	// TokenInvalid is refused with 403 "[authorization error] invalid token",
	// like a token NordPass never issued.
	TokenInvalid
	// TokenExpired is refused with 403 "[authorization error] token
	// introspection failed" (expired or revoked).
	TokenExpired
	// TokenOrgInactive is refused with 403 "[bad request] organization UUID
	// exchange failed" (the organization is no longer active).
	TokenOrgInactive
)

// The documented error messages.
const (
	msgUnauthorized   = "Unauthorized"
	msgInvalidToken   = "[authorization error] invalid token"
	msgExpiredToken   = "[authorization error] token introspection failed"
	msgOrgInactive    = "[bad request] organization UUID exchange failed"
	msgInvalidPayload = "Invalid request payload"
	msgMethod         = "Method Not Allowed"
)

// The documented reasons for 400 Invalid request payload. The seed lists
// them without saying whether the API names the reason; the simulator does,
// in a "reason" field, so tests can tell them apart.
const (
	reasonBody          = "the request body is not a JSON object"
	reasonContentType   = "the Content-Type is not application/json"
	reasonTimeFormat    = "timestamp_from and/or timestamp_to in wrong format"
	reasonFromAfterTo   = "timestamp_from is later than timestamp_to"
	reasonToInFuture    = "timestamp_to is in the future"
	reasonUUIDFormat    = "user_uuids value(s) is in the wrong format"
	reasonUUIDEmpty     = "user_uuids array contains an empty value"
	reasonUUIDUnknown   = "user_uuids array contains non existing user_uuid value"
	reasonUUIDTooMany   = "user_uuids filter contains more than 500 values"
	reasonPerPageFormat = "per_page value is in the wrong format"
	reasonPerPageRange  = "per_page value is not between 1 to 100"
	reasonPageFormat    = "page value is in the wrong format"
	reasonPageTooSmall  = "page value is not 1 or higher integer"
	reasonSpanTemplate  = "the period between timestamp_from and timestamp_to is more than %s"
	reasonCapTemplate   = "A request for logs exceeds the most recent %s logs"
)

// NordPassConfig describes a simulated NordPass organization. Zero values
// mean the documented default.
type NordPassConfig struct {
	// Seed makes the history, the users and the organization reproducible.
	Seed int64
	// Count is the number of events generated into [From, To).
	Count int
	// From and To bound the generated history; by default the 7 days
	// before Clock.Now().
	From, To time.Time
	// Users is the number of organization members (default 50).
	Users int
	// SameSecondBursts is how many bursts of 2–30 events sharing one
	// timestamp occur per 10,000 events (default 3, negative for none; at
	// least one when Count >= 100). Bursts stress paging ties.
	SameSecondBursts float64
	// DuplicatePairs is how many pairs of byte-identical events (same user,
	// action and second) occur per 10,000 events (default 2, negative for
	// none; at least one when Count >= 100). They are genuine events that a
	// content-hash de-duplication must not collapse.
	DuplicatePairs float64
	// Clock decides visibility and what "the future" is (default RealClock).
	Clock Clock
	// RateLimit requests per RateWindow per client IP (default 2000 per 5
	// minutes; negative for unlimited).
	RateLimit  int
	RateWindow time.Duration
	// RateClock times the rate limiter (default RealClock, not Clock: a
	// client obeying Retry-After waits in real time, and a frozen fake clock
	// would otherwise throttle it forever).
	RateClock Clock
	// Cap is how many of the most recent matching records are reachable
	// (default 10,000).
	Cap int
	// MaxSpan is the longest allowed timestamp_to − timestamp_from (default
	// 90 days).
	MaxSpan time.Duration
	// Org is the organization UUID (default: derived from Seed).
	Org string
}

// NordPass simulates the NordPass Enterprise Activity Logs API. It serves
// POST /activities/query relative to wherever it is mounted, and embeds the
// Gateway that counts, throttles and breaks its requests.
type NordPass struct {
	*Gateway

	clock   Clock
	store   *Store
	cap     int
	maxSpan int64 // seconds
	gen     *npGen
	handler http.Handler

	spanReason, capReason string

	mu      sync.Mutex
	tokens  map[string]TokenState
	onServe func(page int)
	live    *rand.Rand // draws for AddRandom
}

// NewNordPass builds the organization described by cfg and its history.
func NewNordPass(cfg NordPassConfig) *NordPass {
	nordPassLimits(&cfg.Clock, &cfg.RateClock, &cfg.RateLimit, &cfg.RateWindow, &cfg.Cap, &cfg.MaxSpan)
	if cfg.Users <= 0 {
		cfg.Users = 50
	}
	if cfg.To.IsZero() {
		cfg.To = cfg.Clock.Now()
	}
	if cfg.From.IsZero() {
		cfg.From = cfg.To.Add(-7 * 24 * time.Hour)
	}
	np := &NordPass{
		Gateway:    NewGateway(cfg.RateLimit, cfg.RateWindow, cfg.RateClock),
		clock:      cfg.Clock,
		store:      NewStore(cfg.Clock),
		cap:        cfg.Cap,
		maxSpan:    int64(cfg.MaxSpan / time.Second),
		tokens:     map[string]TokenState{},
		live:       rand.New(rand.NewPCG(uint64(cfg.Seed), 3)),
		spanReason: fmt.Sprintf(reasonSpanTemplate, spanText(cfg.MaxSpan)),
		capReason:  fmt.Sprintf(reasonCapTemplate, thousands(cfg.Cap)),
	}
	np.gen = newNPGen(cfg)
	np.store.load(np.gen.history(cfg))
	np.handler = np.Wrap(http.HandlerFunc(np.query))
	return np
}

// AddToken registers token with state.
func (np *NordPass) AddToken(token string, state TokenState) {
	np.mu.Lock()
	np.tokens[token] = state
	np.mu.Unlock()
}

// SetTokenState changes the state of token, for example to expire it in the
// middle of a test. It registers the token if it is unknown.
func (np *NordPass) SetTokenState(token string, state TokenState) { np.AddToken(token, state) }

// OnServe sets a hook called with the page number after each successful
// data response is written, before the handler returns: the client cannot
// have finished reading the page, so whatever the hook changes (such as
// events added with AddEvent) is in place before its next request. Pages
// damaged by a fault do not count. nil removes the hook.
func (np *NordPass) OnServe(f func(page int)) {
	np.mu.Lock()
	np.onServe = f
	np.mu.Unlock()
}

// Org returns the organization UUID.
func (np *NordPass) Org() string { return np.gen.org }

// UserUUIDs returns the members' UUIDs; AddEvent's userIdx indexes it.
func (np *NordPass) UserUUIDs() []string {
	out := make([]string, len(np.gen.users))
	for i, u := range np.gen.users {
		out[i] = u.uuid
	}
	return out
}

// AddEvent inserts an event of user userIdx at ts (truncated to the
// second), visible from visibleAt (zero or earlier: from ts). Its initiator is null and
// its metadata []. Use it for late events and for events that arrive while
// a client pages through a window.
func (np *NordPass) AddEvent(ts, visibleAt time.Time, typ, action string, userIdx int) Record {
	u := np.gen.users[userIdx]
	r := Record{Time: time.Unix(ts.Unix(), 0).UTC(), VisibleAt: visibleAt.UTC(), UserUUID: u.uuid}
	if r.VisibleAt.Before(r.Time) {
		r.VisibleAt = r.Time // as the Store counts it
	}
	r.JSON = np.gen.renderPlain(nil, r.Time.Unix(), typ, action, userIdx)
	np.store.Add(r)
	return r
}

// AddRandom inserts an event at ts (truncated to the second) drawn from the
// same mix as the generated history, visible at once. Successive calls
// draw from a generator seeded by the config's Seed.
func (np *NordPass) AddRandom(ts time.Time) Record {
	np.mu.Lock()
	x, _ := np.gen.event(np.live, nil, ts.Unix())
	np.mu.Unlock()
	r := x.record()
	np.store.Add(r)
	return r
}

// Truth returns the raw JSON of every record with Time in [from, to) that is
// visible now, in any order: what a complete read of that range delivers.
func (np *NordPass) Truth(from, to time.Time) [][]byte { return np.store.Truth(from, to) }

// All returns every record, visible or not, oldest first.
func (np *NordPass) All() []Record { return np.store.All() }

// ServeHTTP serves the data endpoint; any other path is 404.
func (np *NordPass) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != NordPassPath {
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	np.handler.ServeHTTP(w, r)
}

// query answers one request that got past the gateway. Checks run in the
// order a request meets them in reality: authentication at the edge, then
// the payload, then the data.
func (np *NordPass) query(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeMessage(w, http.StatusMethodNotAllowed, msgMethod)
		return
	}
	if status, msg := np.authorize(r); status != 0 {
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
	req, reason := np.parse(body)
	if reason != "" {
		writeInvalid(w, reason)
		return
	}
	bp := bufPool.Get().(*[]byte)
	buf := np.page((*bp)[:0], req)
	writeRaw(w, buf)
	if cap(buf) <= 1<<20 {
		*bp = buf
		bufPool.Put(bp)
	}
	if damaged(r.Context()) {
		return
	}
	np.markServed()
	np.mu.Lock()
	hook := np.onServe
	np.mu.Unlock()
	if hook != nil {
		hook(int(req.page))
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// authorize returns the status and message refusing r, or 0. The header
// carries the bare token: "Bearer x" is simply a token NordPass never issued.
func (np *NordPass) authorize(r *http.Request) (int, string) {
	tok := r.Header.Get("Authorization")
	if tok == "" {
		return http.StatusUnauthorized, msgUnauthorized
	}
	np.mu.Lock()
	state := np.tokens[tok]
	np.mu.Unlock()
	switch state {
	case TokenValid:
		return 0, ""
	case TokenExpired:
		return http.StatusForbidden, msgExpiredToken
	case TokenOrgInactive:
		return http.StatusForbidden, msgOrgInactive
	default:
		return http.StatusForbidden, msgInvalidToken
	}
}

// npRequest is a validated query.
type npRequest struct {
	from, to      int64 // Unix seconds, both inclusive
	users         map[string]bool
	perPage, page int64
}

// parse validates a request body against the documented rules and returns
// the query or the reason it is invalid.
//
// Where the seed is silent the simulator chooses, and the choices are:
//   - null counts as absent; an empty user_uuids array means no filter;
//   - only timestamp_from given: timestamp_to is now; only timestamp_to
//     given: the 7 days ending with it, [to − 7 days + 1s, to]; neither:
//     the last 7 full UTC days, [midnight − 7 days, midnight − 1s];
//   - integers must be JSON integers (no strings, fractions or exponents);
//     negative timestamps are "wrong format";
//   - the span rule is to − from > MaxSpan, in seconds.
func (np *NordPass) parse(body []byte) (npRequest, string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return npRequest{}, reasonBody
	}
	req := npRequest{perPage: nordPassDefaultPerPage, page: 1}

	from, hasFrom, ok1 := intField(fields, "timestamp_from")
	to, hasTo, ok2 := intField(fields, "timestamp_to")
	if !ok1 || !ok2 || from < 0 || to < 0 {
		return req, reasonTimeFormat
	}
	now := np.clock.Now().Unix()
	switch {
	case !hasFrom && !hasTo:
		midnight := now - now%day
		from, to = midnight-7*day, midnight-1
	case !hasTo:
		to = now
	case !hasFrom:
		from = max(to-7*day+1, 0)
	}
	switch {
	case from > to:
		return req, reasonFromAfterTo
	case to > now:
		return req, reasonToInFuture
	case to-from > np.maxSpan:
		return req, np.spanReason
	}
	req.from, req.to = from, to

	if reason := np.parseUsers(fields["user_uuids"], &req); reason != "" {
		return req, reason
	}

	perPage, has, ok := intField(fields, "per_page")
	switch {
	case !ok:
		return req, reasonPerPageFormat
	case has && (perPage < 1 || perPage > nordPassMaxPerPage):
		return req, reasonPerPageRange
	case has:
		req.perPage = perPage
	}
	page, has, ok := intField(fields, "page")
	switch {
	case !ok:
		return req, reasonPageFormat
	case has && page < 1:
		return req, reasonPageTooSmall
	case has:
		req.page = page
	}
	// Only the Cap most recent records are reachable. A page that starts at
	// or beyond the cap is refused (whether or not that many records match:
	// the request itself asks for logs past the cap). A page that straddles
	// the cap is served with the records inside it; the seed's example
	// ("requesting logs 9980-10050 will not return results") could also be
	// read as refusing it, but a client that splits windows never asks.
	if req.page-1 >= (int64(np.cap)+req.perPage-1)/req.perPage {
		return req, np.capReason
	}
	return req, ""
}

// parseUsers validates user_uuids into req.users. Format problems are
// reported before unknown users, whatever their order in the array.
func (np *NordPass) parseUsers(raw json.RawMessage, req *npRequest) string {
	if raw == nil || string(raw) == "null" {
		return ""
	}
	var vals []json.RawMessage
	if err := json.Unmarshal(raw, &vals); err != nil {
		return reasonUUIDFormat
	}
	if len(vals) > nordPassMaxUsers {
		return reasonUUIDTooMany
	}
	if len(vals) == 0 {
		return ""
	}
	uuids := make([]string, len(vals))
	for i, v := range vals {
		if err := json.Unmarshal(v, &uuids[i]); err != nil || string(v) == "null" {
			return reasonUUIDFormat
		}
		switch {
		case uuids[i] == "":
			return reasonUUIDEmpty
		case !isUUID(uuids[i]):
			return reasonUUIDFormat
		}
	}
	req.users = make(map[string]bool, len(uuids))
	for _, u := range uuids {
		if _, ok := np.gen.userIdx[u]; !ok {
			return reasonUUIDUnknown
		}
		req.users[u] = true
	}
	return ""
}

// page appends the response body for req to buf. metadata.total is the true
// number of matching records, beyond the cap too (the seed does not say;
// this is what lets a client size its window splits), and total_pages
// follows from it. A page past total_pages but within the cap is 200 with
// empty data: the seed says page "cannot exceed" the total, not what
// happens when it does, and an empty page is the answer a paging client
// copes with best.
func (np *NordPass) page(buf []byte, req npRequest) []byte {
	offset := (req.page - 1) * req.perPage
	limit := min(req.perPage, int64(np.cap)-offset)
	buf = append(buf, `{"data":[`...)
	n := 0
	total := np.store.Query(Query{
		From:   time.Unix(req.from, 0),
		To:     time.Unix(req.to+1, 0),
		Users:  req.users,
		Offset: int(offset),
		Limit:  int(limit),
	}, func(j []byte) {
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, j...)
		n++
	})
	buf = append(buf, `],"metadata":{"total":`...)
	buf = strconv.AppendInt(buf, int64(total), 10)
	buf = append(buf, `,"per_page":`...)
	buf = strconv.AppendInt(buf, req.perPage, 10)
	buf = append(buf, `,"current_page":`...)
	buf = strconv.AppendInt(buf, req.page, 10)
	buf = append(buf, `,"total_pages":`...)
	buf = strconv.AppendInt(buf, (int64(total)+req.perPage-1)/req.perPage, 10)
	return append(buf, `}}`...)
}

// intField reads an optional JSON integer. has is false when the field is
// absent or null; ok is false when it is present but not an integer.
func intField(fields map[string]json.RawMessage, name string) (v int64, has, ok bool) {
	raw, present := fields[name]
	if !present || string(raw) == "null" {
		return 0, false, true
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, true, false
	}
	return v, true, true
}

// isUUID reports whether s is a UUID in the canonical 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// writeMessage writes NordPass's error shape, {"message": ...}.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, struct {
		Message string `json:"message"`
	}{msg})
}

// writeInvalid writes a 400 Invalid request payload naming the rule broken.
func writeInvalid(w http.ResponseWriter, reason string) {
	writeJSON(w, http.StatusBadRequest, struct {
		Message string `json:"message"`
		Reason  string `json:"reason"`
	}{msgInvalidPayload, reason})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
