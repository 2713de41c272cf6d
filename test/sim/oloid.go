package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OLOIDPrefix is where the OLOID API is conventionally mounted on a Server:
// its base URL is then http://HOST/oloid.
const OLOIDPrefix = "/oloid"

// The OLOID endpoints, relative to the base URL. OLOID's articles spell
// the login path both ways; OLOIDConfig.LoginPath picks the one served.
const (
	OLOIDLoginPath            = "/login"
	OLOIDLoginPathCapitalized = "/Login"
	OLOIDActivityPath         = "/filterActivity"
)

// OLOIDLoginShape is the shape of a successful login's answer. OLOID's help
// pages document the first, another OLOID article the second; the third is
// the simulator's original answer and the fourth the barest a client may
// meet.
type OLOIDLoginShape int

const (
	// OLOIDLoginCognito is the documented answer:
	// {"cognitoToken":{"IdToken","AccessToken","RefreshToken","ExpiresIn"},
	// "user":{"OloID","TenantID","TenantName"}}.
	OLOIDLoginCognito OLOIDLoginShape = iota
	// OLOIDLoginAuthenticationResult nests the tokens as Cognito's
	// InitiateAuth does: {"cognitoToken":{"AuthenticationResult":
	// {"AccessToken","ExpiresIn","IdToken","RefreshToken","TokenType"},
	// "ChallengeParameters":{}},"user":{…}}.
	OLOIDLoginAuthenticationResult
	// OLOIDLoginData wraps the tokens like /filterActivity wraps its
	// answer: {"data":{"AccessToken","ExpiresIn","IdToken","RefreshToken",
	// "TokenType"},"message":"Login successful"}.
	OLOIDLoginData
	// OLOIDLoginFlat puts the tokens at the top level:
	// {"AccessToken","ExpiresIn","IdToken","RefreshToken","TokenType"}.
	OLOIDLoginFlat
)

// OLOIDNoMore is how a page says there is no next page.
type OLOIDNoMore int

const (
	// OLOIDNoMoreNull writes "nextToken":null.
	OLOIDNoMoreNull OLOIDNoMore = iota
	// OLOIDNoMoreEmpty writes "nextToken":"" (which, sent back, starts
	// the range over).
	OLOIDNoMoreEmpty
	// OLOIDNoMoreAbsent leaves nextToken out.
	OLOIDNoMoreAbsent
)

// OLOIDShape is where a /filterActivity answer puts its activities and
// its nextToken.
type OLOIDShape int

const (
	// OLOIDShapeData is the documented answer: {"data":{"activities":[…],
	// "nextToken":…},"message":…}.
	OLOIDShapeData OLOIDShape = iota
	// OLOIDShapeTop puts both at the top level: {"activities":[…],
	// "nextToken":…,"message":…}.
	OLOIDShapeTop
	// OLOIDShapeMixed keeps the activities in data and puts the
	// nextToken beside it: {"data":{"activities":[…]},"nextToken":…,
	// "message":…}.
	OLOIDShapeMixed
)

// Defaults of the simulated OLOID API. The List Activity Logs page documents
// none of these numbers; they are the simulator's choices.
const (
	oloidTokenLifetime = time.Hour // Cognito's AccessToken lifetime (ExpiresIn 3600)
	oloidDefaultLimit  = 50
	oloidMaxLimit      = 1000
	oloidMaxBody       = 1 << 16
)

// The OLOID error messages. Login failures are Cognito's wording; the
// data endpoint's 401s are API Gateway's (a Cognito authorizer).
const (
	oloidMsgBadLogin     = "Incorrect username or password."
	oloidMsgDisabled     = "User is disabled."
	oloidMsgLoginFields  = "UserName, TenantName and Password are required"
	oloidMsgUnauthorized = "Unauthorized"
	oloidMsgExpired      = "The incoming token has expired"
	oloidMsgContentType  = "Content-Type must be application/json"
	oloidMsgBody         = "Invalid request body"
	oloidMsgStart        = "start must be a number (milliseconds since epoch)"
	oloidMsgEnd          = "end must be a number (milliseconds since epoch)"
	oloidMsgRange        = "start must not be later than end"
	oloidMsgLimit        = "limit must be an integer between 1 and 1000"
	oloidMsgNextToken    = "Invalid nextToken"
	// What AWS API Gateway answers for a resource it does not have, such
	// as the login path in the other case.
	oloidMsgNoResource = "Missing Authentication Token"
)

// OLOIDConfig describes a simulated OLOID tenant. Zero values mean the
// default.
//
// Where the documentation is silent the simulator has to choose, and these
// choices are settings so that clients can be tested against each reading:
// whether start and end are inclusive (default: both inclusive), the order
// of activities (default: newest first, as "the most recent activity logs"
// suggests), the login's path and answer, how the last page ends and where
// a page puts its activities and nextToken.
// nextToken is a keyset cursor (the last activity served, as DynamoDB's
// LastEvaluatedKey), valid only with the start and end it was issued for.
type OLOIDConfig struct {
	// Seed makes the history reproducible.
	Seed int64
	// Count events are generated into [From, To) (default: the 7 days
	// before Clock.Now()), at millisecond resolution.
	Count    int
	From, To time.Time
	// Users is the number of people in the tenant (default 40).
	Users int
	// Bursts is the number of runs of events sharing one millisecond
	// (default 3 per 10,000 events, negative for none).
	Bursts float64
	// Clock decides visibility, token expiry and "now".
	Clock Clock
	// RateLimit requests per RateWindow per client IP (or per IP and bearer
	// token, Readings.RateLimitScope) on /filterActivity (default
	// unlimited: OLOID documents no limit); RateClock times it.
	RateLimit  int
	RateWindow time.Duration
	RateClock  Clock
	// TokenLifetime is the AccessToken's ExpiresIn (default 1 hour).
	TokenLifetime time.Duration
	// Ascending serves oldest first instead of newest first.
	Ascending bool
	// StartExclusive and EndExclusive make the bounds exclusive.
	StartExclusive, EndExclusive bool
	// LoginShape is the login answer's shape (default the documented
	// cognitoToken one).
	LoginShape OLOIDLoginShape
	// LoginPath is the login path served: OLOIDLoginPath (default) or
	// OLOIDLoginPathCapitalized. The other spelling is answered as API
	// Gateway answers an unknown resource: 403 "Missing Authentication
	// Token".
	LoginPath string
	// NextTokenOnlyWhenMore gives a page a nextToken only when more
	// activities follow it. By default a full page always carries one, so
	// the last page may be empty.
	NextTokenOnlyWhenMore bool
	// NoMoreToken is how the last page's nextToken is written (default
	// null).
	NoMoreToken OLOIDNoMore
	// Shape is where a page puts its activities and nextToken (default
	// the documented data{activities, nextToken}).
	Shape OLOIDShape
	// LimitCapsQuery reads limit ("Maximum number of results to return")
	// as a cap on the whole query: the first limit activities in the
	// served order, and never a nextToken. By default it is a page's size.
	LimitCapsQuery bool

	// Readings as for every vendor; the credential is the Authorization
	// header.
	Readings
}

// OLOID simulates OLOID's login and List Activity Logs endpoints. The data
// endpoint sits behind the embedded Gateway; login has its own fault
// injector (LoginFaults).
type OLOID struct {
	*Gateway

	cfg     OLOIDConfig
	clock   Clock
	store   *Store
	gen     *oloidGen
	data    http.Handler
	login   http.Handler
	lfaults Faults

	mu      sync.Mutex
	clients map[oloidClient]oloidClientState
	tokens  map[string]oloidToken
	logins  int
	epoch   uint32 // nextTokens of an older epoch are refused
	live    *rand.Rand
	hook    pageHook
}

type oloidClient struct{ user, tenant string }

type oloidClientState struct {
	secret   string
	disabled bool
	user     oloidUser // what a login says about the client
}

// oloidUser is the "user" of a login answer. The ids are derived from the
// client and tenant, so they stay the same across logins, as real ones do.
type oloidUser struct {
	OloID      string
	TenantID   string
	TenantName string
}

func newOLOIDUser(clientID, tenant string) oloidUser {
	id := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return newUUID(rand.New(rand.NewPCG(binary.BigEndian.Uint64(sum[:]), binary.BigEndian.Uint64(sum[8:]))))
	}
	return oloidUser{OloID: id("oloid-user\x00" + tenant + "\x00" + clientID), TenantID: id("oloid-tenant\x00" + tenant), TenantName: tenant}
}

type oloidToken struct {
	exp     time.Time
	expired bool // expired by ExpireSessions
	revoked bool // its client was disabled
}

// NewOLOID builds the tenant described by cfg and its history.
func NewOLOID(cfg OLOIDConfig) *OLOID {
	gatewayDefaults(&cfg.Clock, &cfg.RateClock, &cfg.RateLimit, &cfg.RateWindow, 0, time.Minute)
	cfg.Clock = cfg.Readings.apiClock(cfg.Clock)
	switch cfg.LoginPath {
	case "":
		cfg.LoginPath = OLOIDLoginPath
	case OLOIDLoginPath, OLOIDLoginPathCapitalized:
	default:
		panic("sim: OLOIDConfig.LoginPath must be OLOIDLoginPath or OLOIDLoginPathCapitalized, not " + strconv.Quote(cfg.LoginPath))
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = oloidTokenLifetime
	}
	if cfg.Users <= 0 {
		cfg.Users = 40
	}
	historyDefaults(&cfg.From, &cfg.To, cfg.Clock, 7*24*time.Hour)
	o := &OLOID{
		Gateway: cfg.Readings.gateway(cfg.Clock, cfg.RateLimit, cfg.RateWindow, cfg.RateClock, "Authorization"),
		cfg:     cfg,
		clock:   cfg.Clock,
		store:   cfg.Readings.newStore(cfg.Clock, cfg.Seed),
		gen:     newOLOIDGen(cfg),
		clients: map[oloidClient]oloidClientState{},
		tokens:  map[string]oloidToken{},
		live:    rand.New(rand.NewPCG(uint64(cfg.Seed), 13)),
	}
	o.store.load(o.gen.history(cfg))
	o.lfaults.omitRetryAfter = cfg.OmitRetryAfter
	o.data = o.Wrap(http.HandlerFunc(o.filterActivity))
	o.login = o.lfaults.Wrap(http.HandlerFunc(o.serveLogin))
	return o
}

// AddClient registers API credentials: the client id (sent as UserName),
// the tenant (TenantName) and the client secret (Password).
func (o *OLOID) AddClient(clientID, tenant, secret string) {
	o.mu.Lock()
	o.clients[oloidClient{clientID, tenant}] = oloidClientState{secret: secret, user: newOLOIDUser(clientID, tenant)}
	o.mu.Unlock()
}

// DisableClient revokes a client for good: its logins fail with "User is
// disabled." and the tokens it holds are refused.
func (o *OLOID) DisableClient(clientID, tenant string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := oloidClient{clientID, tenant}
	st := o.clients[k]
	st.disabled = true
	o.clients[k] = st
	for tok, ts := range o.tokens {
		ts.revoked = true
		o.tokens[tok] = ts
	}
}

// ExpireSessions makes every access token issued so far expire now, as if
// an hour had passed: a client must log in again.
func (o *OLOID) ExpireSessions() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for tok, ts := range o.tokens {
		ts.expired = true
		o.tokens[tok] = ts
	}
}

// InvalidateCursors makes every nextToken issued so far invalid (400
// Invalid nextToken), as a backend redeploy or a cursor TTL would.
func (o *OLOID) InvalidateCursors() {
	o.mu.Lock()
	o.epoch++
	o.mu.Unlock()
}

// Logins returns the number of successful logins.
func (o *OLOID) Logins() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.logins
}

// LoginPath returns the login path served (OLOIDConfig.LoginPath).
func (o *OLOID) LoginPath() string { return o.cfg.LoginPath }

// LoginFaults returns the fault injector of the login endpoint.
func (o *OLOID) LoginFaults() *Faults { return &o.lfaults }

// OnServe sets a hook called with the count of data pages served so far
// for each intact page, just before it is written (see NordPass.OnServe).
// nil removes it.
func (o *OLOID) OnServe(f func(page int)) { o.hook.set(f) }

// AddEvent inserts an activity of the given type by user userIdx at ts
// (truncated to the millisecond), visible from visibleAt (zero or earlier:
// from ts).
func (o *OLOID) AddEvent(ts, visibleAt time.Time, activityType string, userIdx int) Record {
	o.mu.Lock()
	x, _ := o.gen.render(o.live, nil, ts.Truncate(time.Millisecond).UnixNano(), o.gen.activity(activityType), userIdx)
	o.mu.Unlock()
	r := x.record().visibleFrom(visibleAt)
	o.store.Add(r)
	return r
}

// AddRandom inserts an activity at ts drawn from the generated mix,
// visible at once.
func (o *OLOID) AddRandom(ts time.Time) Record {
	o.mu.Lock()
	x, _ := o.gen.event(o.live, nil, ts.Truncate(time.Millisecond).UnixNano())
	o.mu.Unlock()
	r := x.record()
	o.store.Add(r)
	return r
}

// Truth returns the raw JSON of every activity with timestamp in [from, to)
// that is visible now.
func (o *OLOID) Truth(from, to time.Time) [][]byte { return o.store.Truth(from, to) }

// All returns every activity, visible or not, oldest first.
func (o *OLOID) All() []Record { return o.store.All() }

// ServeHTTP serves POST LoginPath() and POST /filterActivity.
func (o *OLOID) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == o.cfg.LoginPath:
		o.login.ServeHTTP(w, r)
	case strings.EqualFold(p, OLOIDLoginPath):
		writeMessage(w, http.StatusForbidden, oloidMsgNoResource)
	case p == OLOIDActivityPath:
		o.data.ServeHTTP(w, r)
	default:
		writeMessage(w, http.StatusNotFound, "Not Found")
	}
}

func (o *OLOID) serveLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeMessage(w, http.StatusMethodNotAllowed, msgMethod)
		return
	}
	if !isJSON(r) {
		writeMessage(w, http.StatusBadRequest, oloidMsgContentType)
		return
	}
	var body struct {
		UserName, TenantName, Password string
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, oloidMaxBody))
	if err != nil || json.Unmarshal(raw, &body) != nil || body.UserName == "" || body.TenantName == "" || body.Password == "" {
		writeMessage(w, http.StatusBadRequest, oloidMsgLoginFields)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	st, ok := o.clients[oloidClient{body.UserName, body.TenantName}]
	switch {
	case !ok || st.secret != body.Password:
		writeMessage(w, http.StatusUnauthorized, oloidMsgBadLogin)
		return
	case st.disabled:
		writeMessage(w, http.StatusUnauthorized, oloidMsgDisabled)
		return
	}
	tok := o.newToken("at")
	lifetime := o.cfg.TokenLifetime
	o.tokens[tok] = oloidToken{exp: o.clock.Now().Add(lifetime)}
	o.logins++
	tokens := map[string]any{
		"AccessToken":  tok,
		"ExpiresIn":    int64(lifetime / time.Second),
		"IdToken":      o.newToken("id"),
		"RefreshToken": o.newToken("rt"),
	}
	var answer map[string]any
	switch o.cfg.LoginShape {
	case OLOIDLoginAuthenticationResult:
		tokens["TokenType"] = "Bearer"
		answer = map[string]any{
			"cognitoToken": map[string]any{"AuthenticationResult": tokens, "ChallengeParameters": map[string]any{}},
			"user":         st.user,
		}
	case OLOIDLoginData:
		tokens["TokenType"] = "Bearer"
		answer = map[string]any{"data": tokens, "message": "Login successful"}
	case OLOIDLoginFlat:
		tokens["TokenType"] = "Bearer"
		answer = tokens
	default:
		answer = map[string]any{"cognitoToken": tokens, "user": st.user}
	}
	writeJSON(w, http.StatusOK, answer)
}

// newToken returns an unguessable-looking token; o.mu is held.
func (o *OLOID) newToken(kind string) string {
	var b [24]byte
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], o.live.Uint64())
	}
	return "oloid-" + kind + "-" + base64.RawURLEncoding.EncodeToString(b[:])
}

// authorize returns the message refusing r's bearer token, or "".
func (o *OLOID) authorize(r *http.Request) string {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return oloidMsgUnauthorized
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	st, ok := o.tokens[tok]
	switch {
	case !ok || st.revoked:
		return oloidMsgUnauthorized
	case st.expired || !o.clock.Now().Before(st.exp):
		return oloidMsgExpired
	}
	return ""
}

// oloidQuery is a validated /filterActivity request.
type oloidQuery struct {
	start, end int64 // milliseconds, as sent
	limit      int
	after      *storeKey
}

func (o *OLOID) filterActivity(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeMessage(w, http.StatusMethodNotAllowed, msgMethod)
		return
	}
	if msg := o.authorize(r); msg != "" {
		writeMessage(w, http.StatusUnauthorized, msg)
		return
	}
	if !isJSON(r) {
		writeMessage(w, http.StatusBadRequest, oloidMsgContentType)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, oloidMaxBody))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, oloidMsgBody)
		return
	}
	q, msg := o.parse(raw)
	if msg != "" {
		writeMessage(w, http.StatusBadRequest, msg)
		return
	}
	from, to := time.UnixMilli(q.start), time.UnixMilli(q.end)
	if o.cfg.StartExclusive {
		from = from.Add(time.Millisecond)
	}
	if !o.cfg.EndExclusive {
		to = to.Add(time.Millisecond)
	}
	open := `{"data":{"activities":[`
	if o.cfg.Shape == OLOIDShapeTop {
		open = `{"activities":[`
	}
	buf := append(make([]byte, 0, 32<<10), open...)
	var last storeKey
	n, more := o.store.seek(from, to, !o.cfg.Ascending, q.after, q.limit, nil, func(j []byte, k storeKey) {
		if len(buf) > len(open) {
			buf = append(buf, ',')
		}
		buf = append(buf, j...)
		last = k
	})
	buf = append(buf, ']')
	if o.cfg.Shape == OLOIDShapeMixed {
		buf = append(buf, '}')
	}
	next := n == q.limit
	if o.cfg.NextTokenOnlyWhenMore {
		next = more
	}
	if o.cfg.LimitCapsQuery {
		next = false
	}
	switch {
	case next:
		o.mu.Lock()
		epoch := o.epoch
		o.mu.Unlock()
		buf = append(buf, `,"nextToken":`...)
		buf = append(buf, jsonString(encodeOLOIDCursor(q.start, q.end, last, epoch))...)
	case o.cfg.NoMoreToken == OLOIDNoMoreAbsent:
	case o.cfg.NoMoreToken == OLOIDNoMoreEmpty:
		buf = append(buf, `,"nextToken":""`...)
	default:
		buf = append(buf, `,"nextToken":null`...)
	}
	if o.cfg.Shape == OLOIDShapeData {
		buf = append(buf, '}')
	}
	buf = append(buf, `,"message":"Activity logs retrieved successfully"}`...)
	if !damaged(r.Context()) {
		o.markServed()
	}
	o.hook.fire(r.Context())
	writeRaw(w, buf)
}

// parse validates a request body. Absent start and end mean "the most
// recent activities": start 0, end now; null counts as absent.
func (o *OLOID) parse(body []byte) (oloidQuery, string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return oloidQuery{}, oloidMsgBody
	}
	q := oloidQuery{limit: oloidDefaultLimit}
	start, hasStart, ok := intField(fields, "start")
	if !ok || start < 0 {
		return q, oloidMsgStart
	}
	end, hasEnd, ok := intField(fields, "end")
	if !ok || end < 0 {
		return q, oloidMsgEnd
	}
	if !hasEnd {
		end = o.clock.Now().UnixMilli()
	}
	if !hasStart {
		start = 0
	}
	if start > end {
		return q, oloidMsgRange
	}
	q.start, q.end = start, end
	limit, has, ok := intField(fields, "limit")
	if !ok || has && (limit < 1 || limit > oloidMaxLimit) {
		return q, oloidMsgLimit
	}
	if has {
		q.limit = int(limit)
	}
	if raw, ok := fields["nextToken"]; ok && string(raw) != "null" {
		var tok string
		if json.Unmarshal(raw, &tok) != nil {
			return q, oloidMsgNextToken
		}
		if tok != "" {
			o.mu.Lock()
			epoch := o.epoch
			o.mu.Unlock()
			k, ok := decodeOLOIDCursor(tok, start, end, epoch)
			if !ok {
				return q, oloidMsgNextToken
			}
			q.after = &k
		}
	}
	return q, ""
}

// A nextToken carries the request's start and end, the key of the last
// activity served and the epoch, with a checksum so that a token used
// with another time range, after InvalidateCursors, or altered, is
// refused.
func encodeOLOIDCursor(start, end int64, k storeKey, epoch uint32) string {
	b := make([]byte, 36, 44)
	binary.BigEndian.PutUint64(b[0:], uint64(start))
	binary.BigEndian.PutUint64(b[8:], uint64(end))
	binary.BigEndian.PutUint64(b[16:], uint64(k.T))
	binary.BigEndian.PutUint64(b[24:], k.ID)
	binary.BigEndian.PutUint32(b[32:], epoch)
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(append(b, sum[:8]...))
}

func decodeOLOIDCursor(tok string, start, end int64, epoch uint32) (storeKey, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 44 {
		return storeKey{}, false
	}
	sum := sha256.Sum256(b[:36])
	if !bytes.Equal(sum[:8], b[36:]) ||
		int64(binary.BigEndian.Uint64(b[0:])) != start || int64(binary.BigEndian.Uint64(b[8:])) != end ||
		binary.BigEndian.Uint32(b[32:]) != epoch {
		return storeKey{}, false
	}
	return storeKey{T: int64(binary.BigEndian.Uint64(b[16:])), ID: binary.BigEndian.Uint64(b[24:])}, true
}

// oloidActivity is one entry of the generated mix. The activity types and
// details follow the List Activity Logs example (LOGIN, ACCESS_GRANTED with
// userId, userName, ipAddress, endpointId, endpointName); the rest are the
// simulator's own.
type oloidActivity struct {
	typ      string
	weight   int
	ip       bool // details carry ipAddress
	endpoint bool // details carry endpointId and endpointName
	extra    string
}

var oloidActivities = []oloidActivity{
	{typ: "ACCESS_GRANTED", weight: 420, endpoint: true},
	{typ: "LOGIN", weight: 250, ip: true},
	{typ: "LOGOUT", weight: 120, ip: true},
	{typ: "ACCESS_DENIED", weight: 60, endpoint: true, extra: "reason"},
	{typ: "LOGIN_FAILED", weight: 50, ip: true, extra: "reason"},
	{typ: "CREDENTIAL_ENROLLED", weight: 40, extra: "credentialType"},
	{typ: "USER_UPDATED", weight: 30, ip: true},
	{typ: "USER_CREATED", weight: 15, ip: true},
	{typ: "DEVICE_REGISTERED", weight: 10, endpoint: true},
	{typ: "USER_DELETED", weight: 5, ip: true},
}

var (
	oloidEndpoints   = []string{"Main Entrance", "Lobby Turnstile 1", "Lobby Turnstile 2", "Server Room", "Warehouse Door", "Parking Gate", "Floor 3 Kiosk"}
	oloidReasons     = []string{"FACE_NOT_RECOGNIZED", "OUTSIDE_SCHEDULE", "CREDENTIAL_REVOKED", "LIVENESS_CHECK_FAILED"}
	oloidCredentials = []string{"FACE", "BADGE", "PIN", "QR_CODE", "MOBILE_BLE"}
)

type oloidGen struct {
	users []string // user ids
	names []string
	cum   []int
	byTyp map[string]int
}

func newOLOIDGen(cfg OLOIDConfig) *oloidGen {
	g := &oloidGen{byTyp: map[string]int{}}
	rnd := rand.New(rand.NewPCG(uint64(cfg.Seed), 11))
	for i := range cfg.Users {
		first, last := personName(i)
		g.users = append(g.users, "user-"+strconv.FormatUint(rnd.Uint64()%1e9, 36))
		g.names = append(g.names, strings.ToUpper(first[:1])+first[1:]+" "+strings.ToUpper(last[:1])+last[1:])
	}
	sum := 0
	for i, a := range oloidActivities {
		sum += a.weight
		g.cum = append(g.cum, sum)
		g.byTyp[a.typ] = i
	}
	return g
}

// UserIDs returns the generated users' ids; AddEvent's userIdx indexes it.
func (o *OLOID) UserIDs() []string { return append([]string(nil), o.gen.users...) }

func (g *oloidGen) history(cfg OLOIDConfig) []rec {
	rnd := rand.New(rand.NewPCG(uint64(cfg.Seed), 12))
	times := spreadTimes(rnd, cfg.Count, cfg.From, cfg.To, time.Millisecond, perTenK(cfg.Bursts, 3, cfg.Count))
	recs := make([]rec, len(times))
	var arena []byte
	for i, t := range times {
		// Render into shared chunks: one allocation per few thousand events.
		if cap(arena)-len(arena) < 1024 {
			arena = make([]byte, 0, 1<<20)
		}
		recs[i], arena = g.event(rnd, arena, t)
	}
	return recs
}

// event draws an activity at t (Unix nanoseconds, whole milliseconds) and
// renders it at the end of dst.
func (g *oloidGen) event(rnd *rand.Rand, dst []byte, t int64) (rec, []byte) {
	a := oloidActivities[pickWeighted(rnd, g.cum)]
	f := rnd.Float64()
	return g.render(rnd, dst, t, a, int(f*f*float64(len(g.users))))
}

// activity returns the mix entry of typ; an unknown type gets plain details.
func (g *oloidGen) activity(typ string) oloidActivity {
	if i, ok := g.byTyp[typ]; ok {
		return oloidActivities[i]
	}
	return oloidActivity{typ: typ}
}

// render appends the activity's JSON to dst. The record's JSON is capped so
// later appends to dst cannot reach into it.
func (g *oloidGen) render(rnd *rand.Rand, dst []byte, t int64, act oloidActivity, user int) (rec, []byte) {
	start := len(dst)
	dst = append(dst, `{"id":"act-`...)
	dst = appendUUID(dst, rnd)
	dst = append(dst, `","timestamp":`...)
	dst = strconv.AppendInt(dst, t/int64(time.Millisecond), 10)
	dst = append(dst, `,"activityType":`...)
	dst = append(dst, jsonString(act.typ)...)
	dst = append(dst, `,"details":{"userId":`...)
	dst = append(dst, jsonString(g.users[user])...)
	dst = append(dst, `,"userName":`...)
	dst = append(dst, jsonString(g.names[user])...)
	if act.ip {
		dst = append(dst, `,"ipAddress":`...)
		dst = append(dst, jsonString(ipv4(rnd))...)
	}
	if act.endpoint {
		e := rnd.IntN(len(oloidEndpoints))
		dst = append(dst, `,"endpointId":"endpoint-`...)
		dst = strconv.AppendInt(dst, int64(e+1), 10)
		dst = append(dst, `","endpointName":`...)
		dst = append(dst, jsonString(oloidEndpoints[e])...)
	}
	switch act.extra {
	case "reason":
		dst = append(dst, `,"reason":`...)
		dst = append(dst, jsonString(oloidReasons[rnd.IntN(len(oloidReasons))])...)
	case "credentialType":
		dst = append(dst, `,"credentialType":`...)
		dst = append(dst, jsonString(oloidCredentials[rnd.IntN(len(oloidCredentials))])...)
	}
	dst = append(dst, `}}`...)
	end := len(dst)
	return rec{t: t, vis: t, user: g.users[user], json: dst[start:end:end]}, dst
}
