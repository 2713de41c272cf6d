package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// QualtricsPrefix is where the Qualtrics API is conventionally mounted on a
// Server: the API base URL is then http://HOST/qualtrics/API/v3 and the
// OAuth token endpoint http://HOST/qualtrics/oauth2/token, as on
// https://{datacenter}.qualtrics.com.
const QualtricsPrefix = "/qualtrics"

// The Qualtrics endpoints, relative to the mount point.
const (
	QualtricsAPIPath   = "/API/v3"
	QualtricsLogsPath  = "/API/v3/logs"
	QualtricsTypesPath = "/API/v3/logs/activitytypes"
	QualtricsTokenPath = "/oauth2/token"
)

// Defaults of the simulated Qualtrics API. The List Events page documents
// none of these numbers; they are the simulator's choices.
const (
	qualtricsTokenLifetime  = time.Hour
	qualtricsDefaultPage    = 100
	qualtricsMaxPage        = 500
	qualtricsDefaultSpan    = 7 * 24 * time.Hour
	qualtricsDefaultBrand   = "acmecorp"
	qualtricsDefaultDC      = "IAD1"
	qualtricsMsgMissingAuth = "Missing authentication: send an X-API-TOKEN header or an OAuth bearer token"
	qualtricsMsgBadToken    = "Invalid API token"
	qualtricsMsgBadBearer   = "Invalid access token"
	qualtricsMsgExpired     = "Access token expired"
	qualtricsMsgPermission  = "You do not have permission to access the activity logs (requires the Use Activity Logs permission)"
	qualtricsMsgSkipToken   = "Invalid skipToken"
)

// QualtricsDefaultActivityTypes are the activity types a simulated brand
// has unless configured otherwise. Qualtrics lists a brand's types at
// /logs/activitytypes; these names are the simulator's own.
var QualtricsDefaultActivityTypes = []string{
	"login", "user_account_change", "permission_change", "api_token_change",
	"survey_access", "response_export", "data_deletion",
}

// QualtricsConfig describes a simulated Qualtrics brand. Zero values mean
// the default.
//
// Where the documentation is silent the simulator chooses: nextPage is a
// full URL back to the same host (NextPageAsToken makes it the bare
// skipToken), null once no events remain (NextPageOnFullPage: after any
// page that is not full); skipToken is an offset into the result, bound to the query it
// was issued for, so records inserted before it shift later pages;
// pageSize is 1–500 (default 100); order defaults to dsc; the
// organizationId filter matches the brand, userId the event's user, and
// directoryId, groupId and contactId are accepted but do not narrow the
// result (simulated events carry none).
type QualtricsConfig struct {
	Seed int64
	// Count events are generated into [From, To) (default: the 7 days
	// before Clock.Now()), at millisecond resolution.
	Count    int
	From, To time.Time
	// ActivityTypes are the brand's types (default
	// QualtricsDefaultActivityTypes); EventTypes those that generated events
	// are drawn from (default: all of them).
	ActivityTypes, EventTypes []string
	// Users is the number of brand users (default 30).
	Users int
	// Bursts: runs of events sharing one millisecond per 10,000 events
	// (default 3, negative for none).
	Bursts float64
	Clock  Clock
	// RateLimit requests per RateWindow per client IP (or per IP and
	// credential, Readings.RateLimitScope) on the API (default unlimited);
	// RateClock times it.
	RateLimit  int
	RateWindow time.Duration
	RateClock  Clock
	// TokenLifetime is the OAuth access tokens' expires_in (default 1 hour).
	TokenLifetime time.Duration
	// NextPageAsToken returns nextPage as the bare skipToken.
	NextPageAsToken bool
	// NextPageOnFullPage gives every full page a nextPage, so the last
	// page may be empty; by default nextPage is null as soon as no events
	// remain.
	NextPageOnFullPage bool
	// Timestamps is how an event's timestamp is written (default: in UTC
	// with Z, as the document shows).
	Timestamps QualtricsTimestamps
	// Brand is the brand (organization) id; Datacenter the value of each
	// event's "datacenter".
	Brand, Datacenter string

	// Readings as for every vendor; the credential is the X-API-TOKEN
	// header, or the bearer token when there is none.
	Readings
}

// QualtricsTimestamps is how an event's timestamp is written.
type QualtricsTimestamps int

const (
	// QualtricsTimestampsZ writes 2020-11-13T19:13:40.793Z, as the List
	// Events example does.
	QualtricsTimestampsZ QualtricsTimestamps = iota
	// QualtricsTimestampsBasicOffset writes the time two hours east of UTC
	// with an ISO-8601 basic offset: 2020-11-13T21:13:40.793+0200.
	QualtricsTimestampsBasicOffset
)

// Qualtrics simulates the Qualtrics activity log endpoints (List Events,
// List Activity Types) and the OAuth client-credentials token endpoint. The
// API sits behind the embedded Gateway; the token endpoint has its own
// fault injector (TokenFaults).
type Qualtrics struct {
	*Gateway

	cfg     QualtricsConfig
	clock   Clock
	types   []string
	stores  map[string]*Store
	all     *Store // every event, for Truth
	gen     *qualtricsGen
	api     http.Handler
	token   http.Handler
	tfaults Faults

	mu      sync.Mutex
	apiToks map[string]qualtricsCred
	clients map[string]*qualtricsClient
	bearers map[string]*qualtricsBearer
	logins  int
	live    *rand.Rand
	hook    pageHook
}

type qualtricsCred struct{ restricted bool }

type qualtricsClient struct {
	secret   string
	scopes   []string
	disabled bool
}

type qualtricsBearer struct {
	client  string
	exp     time.Time
	expired bool
}

// NewQualtrics builds the brand described by cfg and its history.
func NewQualtrics(cfg QualtricsConfig) *Qualtrics {
	gatewayDefaults(&cfg.Clock, &cfg.RateClock, &cfg.RateLimit, &cfg.RateWindow, 0, time.Minute)
	cfg.Clock = cfg.Readings.apiClock(cfg.Clock)
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = qualtricsTokenLifetime
	}
	if len(cfg.ActivityTypes) == 0 {
		cfg.ActivityTypes = QualtricsDefaultActivityTypes
	}
	if len(cfg.EventTypes) == 0 {
		cfg.EventTypes = cfg.ActivityTypes
	}
	if cfg.Users <= 0 {
		cfg.Users = 30
	}
	if cfg.Brand == "" {
		cfg.Brand = qualtricsDefaultBrand
	}
	if cfg.Datacenter == "" {
		cfg.Datacenter = qualtricsDefaultDC
	}
	historyDefaults(&cfg.From, &cfg.To, cfg.Clock, 7*24*time.Hour)
	q := &Qualtrics{
		Gateway: cfg.Readings.gateway(cfg.Clock, cfg.RateLimit, cfg.RateWindow, cfg.RateClock, "X-API-TOKEN", "Authorization"),
		cfg:     cfg,
		clock:   cfg.Clock,
		types:   slices.Clone(cfg.ActivityTypes),
		stores:  map[string]*Store{},
		all:     NewStore(cfg.Clock),
		apiToks: map[string]qualtricsCred{},
		clients: map[string]*qualtricsClient{},
		bearers: map[string]*qualtricsBearer{},
		live:    rand.New(rand.NewPCG(uint64(cfg.Seed), 23)),
	}
	for _, t := range q.types {
		q.stores[t] = cfg.Readings.newStore(cfg.Clock, cfg.Seed)
	}
	q.gen = newQualtricsGen(cfg)
	byType := map[string][]rec{}
	all := q.gen.history(cfg)
	for _, x := range all {
		typ, _, _ := strings.Cut(x.user, "|") // filed as "type|userId"
		byType[typ] = append(byType[typ], x)
	}
	for t, rs := range byType {
		q.stores[t].load(rs)
	}
	q.all.load(slices.Clone(all))
	q.tfaults.omitRetryAfter = cfg.OmitRetryAfter
	q.api = q.Wrap(http.HandlerFunc(q.serveAPI))
	q.token = q.tfaults.Wrap(http.HandlerFunc(q.serveToken))
	return q
}

// AddAPIToken registers an API token (X-API-TOKEN) of a user allowed to
// read activity logs.
func (q *Qualtrics) AddAPIToken(tok string) {
	q.mu.Lock()
	q.apiToks[tok] = qualtricsCred{}
	q.mu.Unlock()
}

// AddRestrictedAPIToken registers an API token of a user without the
// activity logs permission: it authenticates, and is refused with 403.
func (q *Qualtrics) AddRestrictedAPIToken(tok string) {
	q.mu.Lock()
	q.apiToks[tok] = qualtricsCred{restricted: true}
	q.mu.Unlock()
}

// RevokeAPIToken forgets tok, as regenerating it in Qualtrics does.
func (q *Qualtrics) RevokeAPIToken(tok string) {
	q.mu.Lock()
	delete(q.apiToks, tok)
	q.mu.Unlock()
}

// AddClient registers an OAuth client granted scopes (none: any scope).
func (q *Qualtrics) AddClient(id, secret string, scopes ...string) {
	q.mu.Lock()
	q.clients[id] = &qualtricsClient{secret: secret, scopes: scopes}
	q.mu.Unlock()
}

// DisableClient deletes an OAuth client: it gets no more tokens, and the
// tokens it holds are refused.
func (q *Qualtrics) DisableClient(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if c := q.clients[id]; c != nil {
		c.disabled = true
	}
	for tok, b := range q.bearers {
		if b.client == id {
			delete(q.bearers, tok)
		}
	}
}

// ExpireSessions makes every OAuth access token issued so far expire.
func (q *Qualtrics) ExpireSessions() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, b := range q.bearers {
		b.expired = true
	}
}

// Logins returns how many OAuth access tokens were issued.
func (q *Qualtrics) Logins() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.logins
}

// TokenFaults returns the fault injector of the OAuth token endpoint.
func (q *Qualtrics) TokenFaults() *Faults { return &q.tfaults }

// OnServe sets a hook called with the count of /logs pages served so far
// for each intact page, just before it is written (see NordPass.OnServe).
// nil removes it.
func (q *Qualtrics) OnServe(f func(page int)) { q.hook.set(f) }

// ActivityTypes returns the brand's activity types.
func (q *Qualtrics) ActivityTypes() []string { return slices.Clone(q.types) }

// UserIDs returns the brand's user ids; AddEvent's userIdx indexes it.
func (q *Qualtrics) UserIDs() []string { return slices.Clone(q.gen.users) }

// Brand returns the brand id (the organizationId filter's value).
func (q *Qualtrics) Brand() string { return q.cfg.Brand }

// AddEvent inserts an event of activity type typ by user userIdx at ts
// (truncated to the millisecond), visible from visibleAt (zero or earlier:
// from ts). It panics if typ is not one of the brand's types.
func (q *Qualtrics) AddEvent(typ string, ts, visibleAt time.Time, userIdx int) Record {
	if q.stores[typ] == nil {
		panic("sim: unknown Qualtrics activity type " + typ)
	}
	q.mu.Lock()
	x, _ := q.gen.render(q.live, nil, ts.Truncate(time.Millisecond).UnixNano(), typ, userIdx)
	q.mu.Unlock()
	r := x.record().visibleFrom(visibleAt)
	q.stores[typ].Add(r)
	q.all.Add(r)
	return r
}

// AddRandom inserts an event at ts of a random generated type, visible at
// once.
func (q *Qualtrics) AddRandom(ts time.Time) Record {
	q.mu.Lock()
	typ := q.cfg.EventTypes[q.live.IntN(len(q.cfg.EventTypes))]
	user := q.live.IntN(len(q.gen.users))
	q.mu.Unlock()
	return q.AddEvent(typ, ts, time.Time{}, user)
}

// Truth returns the raw JSON of every event of every type with timestamp
// in [from, to) that is visible now.
func (q *Qualtrics) Truth(from, to time.Time) [][]byte { return q.all.Truth(from, to) }

// TypeTruth is Truth for one activity type.
func (q *Qualtrics) TypeTruth(typ string, from, to time.Time) [][]byte {
	s := q.stores[typ]
	if s == nil {
		return nil
	}
	return s.Truth(from, to)
}

// ServeHTTP serves the API under /API/v3 and the token endpoint.
func (q *Qualtrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case QualtricsTokenPath:
		q.token.ServeHTTP(w, r)
	case QualtricsLogsPath, QualtricsTypesPath:
		q.api.ServeHTTP(w, r)
	default:
		writeQualtricsError(w, http.StatusNotFound, "QVAL_404", "Not Found")
	}
}

func (q *Qualtrics) serveToken(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthErr(http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		oauthErr(http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "unreadable form body")
		return
	}
	id, secret, ok := r.BasicAuth()
	q.mu.Lock()
	defer q.mu.Unlock()
	c := q.clients[id]
	if !ok || c == nil || c.disabled || c.secret != secret {
		w.Header().Set("WWW-Authenticate", `Basic realm="qualtrics"`)
		oauthErr(http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	scope := r.PostForm.Get("scope")
	for _, s := range strings.Fields(scope) {
		if len(c.scopes) > 0 && !slices.Contains(c.scopes, s) {
			oauthErr(http.StatusBadRequest, "invalid_scope", "scope "+s+" is not granted to this client")
			return
		}
	}
	if scope == "" {
		scope = strings.Join(c.scopes, " ")
	}
	var b [24]byte
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], q.live.Uint64())
	}
	tok := "qat-" + base64.RawURLEncoding.EncodeToString(b[:])
	q.bearers[tok] = &qualtricsBearer{client: id, exp: q.clock.Now().Add(q.cfg.TokenLifetime)}
	q.logins++
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer",
		"expires_in": int64(q.cfg.TokenLifetime / time.Second), "scope": scope,
	})
}

// authorize returns the status and message refusing r, or 0.
func (q *Qualtrics) authorize(r *http.Request) (int, string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if tok := r.Header.Get("X-API-TOKEN"); tok != "" {
		c, ok := q.apiToks[tok]
		switch {
		case !ok:
			return http.StatusUnauthorized, qualtricsMsgBadToken
		case c.restricted:
			return http.StatusForbidden, qualtricsMsgPermission
		}
		return 0, ""
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || bearer == "" {
		return http.StatusUnauthorized, qualtricsMsgMissingAuth
	}
	b := q.bearers[bearer]
	switch {
	case b == nil:
		return http.StatusUnauthorized, qualtricsMsgBadBearer
	case b.expired || !q.clock.Now().Before(b.exp):
		return http.StatusUnauthorized, qualtricsMsgExpired
	}
	return 0, ""
}

func (q *Qualtrics) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeQualtricsError(w, http.StatusMethodNotAllowed, "QVAL_405", "Method Not Allowed")
		return
	}
	if status, msg := q.authorize(r); status != 0 {
		code := "AUTH_401"
		if status == http.StatusForbidden {
			code = "AUTH_403"
		}
		writeQualtricsError(w, status, code, msg)
		return
	}
	if r.URL.Path == QualtricsTypesPath {
		q.serveTypes(w, r)
		return
	}
	q.serveLogs(w, r)
}

func (q *Qualtrics) serveTypes(w http.ResponseWriter, r *http.Request) {
	buf := []byte(`{"result":{"elements":[`)
	for i, t := range q.types {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"activityType":`...)
		buf = append(buf, jsonString(t)...)
		buf = append(buf, `,"description":`...)
		buf = append(buf, jsonString(strings.ReplaceAll(t, "_", " ")+" events")...)
		buf = append(buf, '}')
	}
	buf = append(buf, `],"nextPage":null},"meta":{"httpStatus":"200 - OK","requestId":"`...)
	buf = append(buf, q.requestID()...)
	buf = append(buf, `"}}`...)
	writeRaw(w, buf)
	if !damaged(r.Context()) {
		q.markServed()
	}
}

// qualtricsQuery is a validated List Events request.
type qualtricsQuery struct {
	typ      string
	from, to time.Time
	desc     bool
	pageSize int
	offset   int
	user     string
	brand    string
	params   url.Values // without skipToken, for nextPage
}

func (q *Qualtrics) serveLogs(w http.ResponseWriter, r *http.Request) {
	qq, code, msg := q.parse(r.URL.Query())
	if msg != "" {
		writeQualtricsError(w, http.StatusBadRequest, code, msg)
		return
	}
	store := q.stores[qq.typ]
	var keep func(string) bool
	if qq.user != "" || qq.brand != "" {
		keep = func(filed string) bool {
			return (qq.user == "" || strings.HasSuffix(filed, "|"+qq.user)) && (qq.brand == "" || qq.brand == q.cfg.Brand)
		}
	}
	buf := append(make([]byte, 0, 64<<10), `{"result":{"elements":[`...)
	n := 0
	emit := elements(&buf, &n)
	var total int
	if keep != nil {
		total = store.filtered(qq.from, qq.to, qq.desc, keep, qq.offset, qq.pageSize, emit)
	} else {
		// The indexed query: a page costs its own records, not a walk of
		// the window up to its offset.
		total = store.Query(Query{From: qq.from, To: qq.to, Ascending: !qq.desc, Offset: qq.offset, Limit: qq.pageSize}, emit)
	}
	buf = append(buf, `],"nextPage":`...)
	next := qq.offset + n
	more := n > 0 && next < total
	if q.cfg.NextPageOnFullPage {
		more = n == qq.pageSize
	}
	if more {
		tok := encodeSkipToken(next, qq.params)
		if q.cfg.NextPageAsToken {
			buf = append(buf, jsonString(tok)...)
		} else {
			buf = append(buf, jsonString(nextPageURL(r, qq.params, tok))...)
		}
	} else {
		buf = append(buf, "null"...)
	}
	buf = append(buf, `},"meta":{"httpStatus":"200 - OK","requestId":"`...)
	buf = append(buf, q.requestID()...)
	buf = append(buf, `"}}`...)
	if !damaged(r.Context()) {
		q.markServed()
	}
	q.hook.fire(r.Context())
	writeRaw(w, buf)
}

// parse validates List Events parameters. It returns an error code and
// message for a bad request.
func (q *Qualtrics) parse(v url.Values) (qualtricsQuery, string, string) {
	qq := qualtricsQuery{desc: true, pageSize: qualtricsDefaultPage, params: url.Values{}}
	for k, vs := range v {
		if k != "skipToken" {
			qq.params[k] = vs
		}
	}
	qq.typ = v.Get("activityType")
	switch {
	case qq.typ == "":
		return qq, "QVAL_1", "Missing required query parameter: activityType"
	case q.stores[qq.typ] == nil:
		return qq, "QVAL_2", "Invalid activityType: " + qq.typ + " (see GET /logs/activitytypes)"
	}
	parse := func(name string) (time.Time, bool, string) {
		s := v.Get(name)
		if s == "" {
			return time.Time{}, false, ""
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, false, "Invalid " + name + ": must be an ISO-8601 date-time such as 2020-11-13T19:13:40.793Z"
		}
		return t, true, ""
	}
	from, hasFrom, msg := parse("startDate")
	if msg != "" {
		return qq, "QVAL_3", msg
	}
	to, hasTo, msg := parse("endDate")
	if msg != "" {
		return qq, "QVAL_3", msg
	}
	switch {
	case !hasFrom && !hasTo:
		to = q.clock.Now()
		from = to.Add(-qualtricsDefaultSpan)
	case !hasFrom:
		from = to.Add(-qualtricsDefaultSpan)
	case !hasTo:
		to = from.Add(qualtricsDefaultSpan)
	}
	if !from.Before(to) {
		return qq, "QVAL_4", "startDate must be before endDate"
	}
	qq.from, qq.to = from, to
	switch o := v.Get("order"); o {
	case "", "dsc":
	case "asc":
		qq.desc = false
	default:
		return qq, "QVAL_5", "Invalid order: must be asc or dsc"
	}
	if s := v.Get("pageSize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > qualtricsMaxPage {
			return qq, "QVAL_6", "Invalid pageSize: must be an integer between 1 and 500"
		}
		qq.pageSize = n
	}
	qq.user, qq.brand = v.Get("userId"), v.Get("organizationId")
	if tok := v.Get("skipToken"); tok != "" {
		off, ok := decodeSkipToken(tok, qq.params)
		if !ok {
			return qq, "QVAL_7", qualtricsMsgSkipToken
		}
		qq.offset = off
	}
	return qq, "", ""
}

// A skipToken is the offset of the next page and a digest of the query it
// belongs to (every parameter but skipToken), so that it is refused with
// any other query.
func encodeSkipToken(offset int, params url.Values) string {
	sum := sha256.Sum256([]byte(params.Encode()))
	b := binary.BigEndian.AppendUint64(nil, uint64(offset))
	return base64.RawURLEncoding.EncodeToString(append(b, sum[:12]...))
}

func decodeSkipToken(tok string, params url.Values) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 20 {
		return 0, false
	}
	sum := sha256.Sum256([]byte(params.Encode()))
	if !bytes.Equal(b[8:], sum[:12]) {
		return 0, false
	}
	off := binary.BigEndian.Uint64(b[:8])
	return int(min(off, 1<<31)), true
}

// nextPageURL is the full URL of the next page, on the host and path the
// client used (the path before any mount prefix was stripped).
func nextPageURL(r *http.Request, params url.Values, tok string) string {
	path := r.URL.Path
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		path = u.Path
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	p := url.Values{}
	for k, vs := range params {
		p[k] = vs
	}
	p.Set("skipToken", tok)
	return scheme + "://" + r.Host + path + "?" + p.Encode()
}

func (q *Qualtrics) requestID() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return string(appendUUID(nil, q.live))
}

// writeQualtricsError writes Qualtrics' error shape.
func writeQualtricsError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"meta": map[string]any{
		"httpStatus": strconv.Itoa(status) + " - " + http.StatusText(status),
		"error":      map[string]string{"errorMessage": msg, "errorCode": code},
	}})
}

// qualtricsGen renders events shaped like the List Events example: id,
// timestamp (ISO-8601 with milliseconds), datacenter, source and a
// descriptor whose fields depend on the activity type.
type qualtricsGen struct {
	users  []string
	emails []string
	brand  string
	dc     string
	types  []string
	// An event's timestamp is written in zone with layout.
	zone   *time.Location
	layout string
}

func newQualtricsGen(cfg QualtricsConfig) *qualtricsGen {
	g := &qualtricsGen{brand: cfg.Brand, dc: cfg.Datacenter, types: cfg.EventTypes,
		zone: time.UTC, layout: "2006-01-02T15:04:05.000Z07:00"}
	if cfg.Timestamps == QualtricsTimestampsBasicOffset {
		g.zone, g.layout = time.FixedZone("UTC+2", 2*60*60), "2006-01-02T15:04:05.000-0700"
	}
	rnd := rand.New(rand.NewPCG(uint64(cfg.Seed), 21))
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for i := range cfg.Users {
		id := []byte("UR_")
		for range 15 {
			id = append(id, alnum[rnd.IntN(len(alnum))])
		}
		first, last := personName(i)
		g.users = append(g.users, string(id))
		g.emails = append(g.emails, first+"."+last+"@example.com")
	}
	return g
}

func (g *qualtricsGen) history(cfg QualtricsConfig) []rec {
	rnd := rand.New(rand.NewPCG(uint64(cfg.Seed), 22))
	times := spreadTimes(rnd, cfg.Count, cfg.From, cfg.To, time.Millisecond, perTenK(cfg.Bursts, 3, cfg.Count))
	recs := make([]rec, len(times))
	var arena []byte
	for i, t := range times {
		if cap(arena)-len(arena) < 2048 {
			arena = make([]byte, 0, 1<<20)
		}
		// Logins dominate, as in a real brand.
		typ := g.types[0]
		if len(g.types) > 1 && rnd.IntN(2) == 0 {
			typ = g.types[1+rnd.IntN(len(g.types)-1)]
		}
		f := rnd.Float64()
		recs[i], arena = g.render(rnd, arena, t, typ, int(f*f*float64(len(g.users))))
	}
	return recs
}

var (
	qualtricsProducts = []string{"ControlPanel", "SurveyPlatform", "CX", "EX", "Insight"}
	qualtricsMethods  = []string{"BASIC", "BASIC", "SSO", "SSO", "SSO"}
	qualtricsAgents   = []string{"Chrome", "Firefox", "Safari", "Edge"}
	qualtricsOS       = []string{"OS X", "Windows", "Linux", "iOS"}
	qualtricsSources  = []string{"login5-app.g1-iad.qops.net", "login2-app.g1-iad.qops.net", "api3-app.g1-iad.qops.net"}
)

// render appends an event of type typ at t (Unix nanoseconds) to dst. The
// record is filed under "type|userId" (the userId filter and the per-type
// stores read it).
func (g *qualtricsGen) render(rnd *rand.Rand, dst []byte, t int64, typ string, user int) (rec, []byte) {
	pick := func(xs []string) string { return xs[rnd.IntN(len(xs))] }
	start := len(dst)
	dst = append(dst, `{"id":"`...)
	dst = appendUUID(dst, rnd)
	dst = append(dst, `","timestamp":"`...)
	dst = time.Unix(0, t).In(g.zone).AppendFormat(dst, g.layout)
	dst = append(dst, `","datacenter":`...)
	dst = append(dst, jsonString(g.dc)...)
	dst = append(dst, `,"source":`...)
	dst = append(dst, jsonString(pick(qualtricsSources))...)
	dst = append(dst, `,"descriptor":{"userId":`...)
	dst = append(dst, jsonString(g.users[user])...)
	dst = append(dst, `,"username":`...)
	dst = append(dst, jsonString(g.emails[user])...)
	dst = append(dst, `,"brandId":`...)
	dst = append(dst, jsonString(g.brand)...)
	switch typ {
	case "login":
		ok := rnd.IntN(10) > 0
		dst = append(dst, `,"sessionId":null,"isSuccessful":`...)
		dst = strconv.AppendBool(dst, ok)
		dst = append(dst, `,"failureReason":`...)
		if ok {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, `"INVALID_PASSWORD"`...)
		}
		product := pick(qualtricsProducts)
		dst = append(dst, `,"isProxyLogin":false,"proxyDetails":null,"product":`...)
		dst = append(dst, jsonString(product)...)
		dst = append(dst, `,"url":`...)
		dst = append(dst, jsonString("https://"+g.brand+"."+strings.ToLower(g.dc)+".qualtrics.com/login?path=%2F"+product+"%2F\u0026product="+product)...)
		dst = append(dst, `,"ipAddress":`...)
		dst = append(dst, jsonString(ipv4(rnd))...)
		dst = append(dst, `,"authentication":{"method":`...)
		dst = append(dst, jsonString(pick(qualtricsMethods))...)
		dst = append(dst, `,"methodVersion":null,"secondFactor":null},"platform":{"userAgent":`...)
		dst = append(dst, jsonString(pick(qualtricsAgents))...)
		dst = append(dst, `,"operatingSystem":`...)
		dst = append(dst, jsonString(pick(qualtricsOS))...)
		dst = append(dst, `}`...)
	default:
		other := rnd.IntN(len(g.users))
		dst = append(dst, `,"action":`...)
		dst = append(dst, jsonString(typ)...)
		dst = append(dst, `,"targetUserId":`...)
		dst = append(dst, jsonString(g.users[other])...)
		dst = append(dst, `,"ipAddress":`...)
		dst = append(dst, jsonString(ipv4(rnd))...)
	}
	dst = append(dst, `}}`...)
	end := len(dst)
	return rec{t: t, vis: t, user: typ + "|" + g.users[user], json: dst[start:end:end]}, dst
}
