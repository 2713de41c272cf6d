package sim

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
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
	// Clock decides visibility and what "the future" is (default RealClock;
	// Readings.ClockSkew moves the API's clock away from it).
	Clock Clock
	// RateLimit requests per RateWindow per client IP, or per IP and
	// token under Readings.RateLimitScope (default 2000 per 5 minutes;
	// negative for unlimited).
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

	// Readings and NordPassReadings choose among the readings of what the
	// document leaves open (doc.go lists them); the zero values are the
	// simulator's defaults.
	Readings
	NordPassReadings
}

// NordPass simulates the NordPass Enterprise Activity Logs API. It serves
// POST /activities/query relative to wherever it is mounted, and embeds the
// Gateway that counts, throttles and breaks its requests.
type NordPass struct {
	*Gateway
	npEndpoint

	gen    *npGen
	tokens map[string]TokenState // guarded by mu
}

// NewNordPass builds the organization described by cfg and its history.
func NewNordPass(cfg NordPassConfig) *NordPass {
	nordPassLimits(&cfg.Clock, &cfg.RateClock, &cfg.RateLimit, &cfg.RateWindow, &cfg.Cap, &cfg.MaxSpan)
	cfg.Clock = cfg.Readings.apiClock(cfg.Clock)
	if cfg.Users <= 0 {
		cfg.Users = 50
	}
	historyDefaults(&cfg.From, &cfg.To, cfg.Clock, 7*24*time.Hour)
	np := &NordPass{
		Gateway: cfg.Readings.gateway(cfg.Clock, cfg.RateLimit, cfg.RateWindow, cfg.RateClock, "Authorization"),
		gen:     newNPGen(cfg),
		tokens:  map[string]TokenState{},
	}
	np.init(np, np.Gateway, np.gen, NordPassPath, rand.New(rand.NewPCG(uint64(cfg.Seed), 3)),
		cfg.Readings.newStore(cfg.Clock, cfg.Seed), cfg.Cap, cfg.MaxSpan, cfg.NordPassReadings)
	np.store.load(np.gen.history(cfg))
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
	return np.AddInitiated(ts, visibleAt, typ, action, userIdx, -1)
}

// AddInitiated is AddEvent for an action member initiatorIdx took on
// member userIdx (none if negative): the record names both.
func (np *NordPass) AddInitiated(ts, visibleAt time.Time, typ, action string, userIdx, initiatorIdx int) Record {
	u := np.gen.users[userIdx]
	r := Record{Time: time.Unix(ts.Unix(), 0).UTC(), UserUUID: u.uuid}.visibleFrom(visibleAt)
	if initiatorIdx >= 0 {
		r.InitiatorUUID = np.gen.users[initiatorIdx].uuid
	}
	r.JSON = np.gen.renderPlain(nil, r.Time.Unix(), typ, action, userIdx, initiatorIdx)
	np.store.Add(r)
	return r
}

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

// defaultRange is the last 7 full UTC days, [midnight − 7 days, midnight − 1s].
func (np *NordPass) defaultRange(now int64) (from, to int64) {
	midnight := now - now%day
	return midnight - 7*day, midnight - 1
}

// rangeFrom makes a lone timestamp_to the 7 days ending with it,
// [to − 7 days + 1s, to].
func (np *NordPass) rangeFrom(to int64) int64 { return max(to-7*day+1, 0) }

// filter validates user_uuids into q.users. Format problems are reported
// before unknown users, whatever their order in the array.
func (np *NordPass) filter(fields map[string]json.RawMessage, q *npQuery) string {
	raw := fields["user_uuids"]
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
	q.users = make(map[string]bool, len(uuids))
	for _, u := range uuids {
		if _, ok := np.gen.userIdx[u]; !ok {
			return reasonUUIDUnknown
		}
		q.users[u] = true
	}
	return ""
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
