package sim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// NordPassMSPPrefix is where the NordPass MSP API is conventionally mounted
// on a Server: its base URL is then http://HOST/nordpass-msp.
const NordPassMSPPrefix = "/nordpass-msp"

// NordPassMSPDefaultPath is the simulated MSP Activity Log endpoint. The
// real path is not public (it is in the MSP Admin Panel's integration
// guide); this one is the simulator's own, and NordPassMSPConfig.Path
// replaces it.
const NordPassMSPDefaultPath = "/api/v1/msp/activity-log/query"

// NordPassMSPCategories are the six categories of the MSP Activity Log as
// the API names them (the simulator's spelling of the guide's "MSP Access",
// "MSP User Management", "Organization Management", "Integrations",
// "Billing" and "Settings").
var NordPassMSPCategories = []string{
	"msp_access", "msp_user_management", "organization_management", "integrations", "billing", "settings",
}

// The JWT refusals. The MSP API's own messages are not public; these follow
// the Enterprise API's "[authorization error] …" style.
const (
	mspMsgMalformed = "[authorization error] malformed token"
	mspMsgSignature = "[authorization error] invalid token signature"
	mspMsgExpired   = "[authorization error] token expired"
	mspMsgIssuer    = "[authorization error] invalid token issuer"
	mspMsgAudience  = "[authorization error] invalid token audience"
	mspMsgKeyID     = "[authorization error] unknown key id"
	mspMsgLifetime  = "[authorization error] token lifetime is longer than allowed"
	mspMsgFuture    = "[authorization error] token issued in the future"
	mspMsgNoExpiry  = "[authorization error] token has no expiry"
)

// The MSP filter reasons, in the style of the Enterprise API's.
const (
	reasonEmailFormat    = "member_emails value(s) is in the wrong format"
	reasonOrgFormat      = "organization_uuids value(s) is in the wrong format"
	reasonOrgUnknown     = "organization_uuids array contains non existing organization_uuid value"
	reasonCategoryFormat = "categories value(s) is not one of msp_access, msp_user_management, organization_management, integrations, billing, settings"
)

// NordPassMSPConfig describes a simulated MSP. Zero values mean the
// default.
//
// Requests and responses have the Enterprise API's shape (see NordPass):
// Unix-second bounds (inclusive unless NordPassReadings say otherwise), at
// most MaxSpan apart, pages of 1–100 numbered over a newest-first result,
// only the Cap most recent records reachable, metadata.total counting
// every match unless NordPassReadings say otherwise. The filters are
// member_emails (matching the entry's user or initiator), organization_uuids
// and categories. Tokens are JWTs sent as "Authorization: Bearer <jwt>",
// verified with PublicKey: the algorithm must suit the key (ES256/384/512,
// RS256/384/512, EdDSA), exp is required and must be in the future by
// Clock, iat must not be in the future, exp − iat must not exceed
// MaxTokenLifetime, iss must be Issuer, aud must contain Audience and kid
// must be KeyID when those are set.
type NordPassMSPConfig struct {
	Seed     int64
	Count    int
	From, To time.Time
	// Members is the number of MSP staff (default 12); Organizations the
	// number of managed organizations (default 8).
	Members, Organizations int
	// SameSecondBursts and DuplicatePairs as in NordPassConfig.
	SameSecondBursts, DuplicatePairs float64
	Clock                            Clock
	RateLimit                        int
	RateWindow                       time.Duration
	RateClock                        Clock
	Cap                              int
	MaxSpan                          time.Duration
	// Path is the endpoint (default NordPassMSPDefaultPath).
	Path string
	// PublicKey verifies tokens (an *ecdsa.PublicKey, *rsa.PublicKey or
	// ed25519.PublicKey). Without one every token is refused.
	PublicKey crypto.PublicKey
	// Issuer is the iss tokens must carry (default "nordpass-msp-sim").
	Issuer string
	// Audience and KeyID, when set, must be the token's aud and kid.
	Audience, KeyID string
	// MaxTokenLifetime bounds exp − iat (default 1 hour).
	MaxTokenLifetime time.Duration

	// Readings and NordPassReadings as in NordPassConfig. Under
	// RateLimitPerCredential the credential is the Authorization header
	// (the JWT), so every newly signed token gets a fresh budget.
	Readings
	NordPassReadings
}

// NordPassMSP simulates the NordPass MSP Activity Log API.
type NordPassMSP struct {
	*Gateway
	npEndpoint

	cfg NordPassMSPConfig
	gen *mspGen

	// guarded by mu
	key  crypto.PublicKey
	seen map[string]bool // tokens accepted so far; true once expired
}

// NewNordPassMSP builds the MSP described by cfg and its history.
func NewNordPassMSP(cfg NordPassMSPConfig) *NordPassMSP {
	nordPassLimits(&cfg.Clock, &cfg.RateClock, &cfg.RateLimit, &cfg.RateWindow, &cfg.Cap, &cfg.MaxSpan)
	cfg.Clock = cfg.Readings.apiClock(cfg.Clock)
	if cfg.Members <= 0 {
		cfg.Members = 12
	}
	if cfg.Organizations <= 0 {
		cfg.Organizations = 8
	}
	if cfg.Path == "" {
		cfg.Path = NordPassMSPDefaultPath
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "nordpass-msp-sim"
	}
	if cfg.MaxTokenLifetime <= 0 {
		cfg.MaxTokenLifetime = time.Hour
	}
	historyDefaults(&cfg.From, &cfg.To, cfg.Clock, 30*24*time.Hour)
	m := &NordPassMSP{
		Gateway: cfg.Readings.gateway(cfg.Clock, cfg.RateLimit, cfg.RateWindow, cfg.RateClock, "Authorization"),
		cfg:     cfg,
		gen:     newMSPGen(cfg),
		key:     cfg.PublicKey,
		seen:    map[string]bool{},
	}
	m.init(m, m.Gateway, m.gen, cfg.Path, rand.New(rand.NewPCG(uint64(cfg.Seed), 33)),
		cfg.Readings.newStore(cfg.Clock, cfg.Seed), cfg.Cap, cfg.MaxSpan, cfg.NordPassReadings)
	m.store.load(m.gen.history(cfg))
	return m
}

// SetPublicKey replaces the verification key, as generating a new private
// key in the MSP Admin Panel does; nil refuses every token.
func (m *NordPassMSP) SetPublicKey(k crypto.PublicKey) {
	m.mu.Lock()
	m.key = k
	m.mu.Unlock()
}

// ExpireTokens refuses every token accepted so far as expired, so a client
// must sign a new one.
func (m *NordPassMSP) ExpireTokens() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for tok := range m.seen {
		m.seen[tok] = true
	}
}

// Logins returns how many distinct tokens were accepted.
func (m *NordPassMSP) Logins() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

// Path returns the endpoint path.
func (m *NordPassMSP) Path() string { return m.path }

// Organizations returns the managed organizations' UUIDs.
func (m *NordPassMSP) Organizations() []string { return slices.Clone(m.gen.orgs) }

// MemberEmails returns the MSP staff's emails; AddEvent's member indexes it.
func (m *NordPassMSP) MemberEmails() []string {
	out := make([]string, len(m.gen.members))
	for i, u := range m.gen.members {
		out[i] = u.email
	}
	return out
}

// AddEvent inserts an entry of category with action by member at ts
// (truncated to the second), about organization org (-1: none), visible
// from visibleAt (zero or earlier: from ts).
func (m *NordPassMSP) AddEvent(ts, visibleAt time.Time, category, action string, member, org int) Record {
	m.mu.Lock()
	x, _ := m.gen.render(m.live, nil, ts.Unix(), category, action, member, member, org)
	m.mu.Unlock()
	r := x.record().visibleFrom(visibleAt)
	m.store.Add(r)
	return r
}

// FilteredTruth is Truth restricted as the filters would restrict it (nil
// or empty: no restriction).
func (m *NordPassMSP) FilteredTruth(from, to time.Time, emails, orgs, categories []string) [][]byte {
	f := mspFilter{emails: set(emails), orgs: set(orgs), categories: set(categories)}
	return m.store.truthWhere(from, to, f.keep())
}

func set(xs []string) map[string]bool {
	if len(xs) == 0 {
		return nil
	}
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// authorize refuses with 401 whatever is wrong with the token.
func (m *NordPassMSP) authorize(r *http.Request) (int, string) {
	if msg := m.verify(r); msg != "" {
		return http.StatusUnauthorized, msg
	}
	return 0, ""
}

// verify checks the bearer JWT and returns the message refusing it, or "".
func (m *NordPassMSP) verify(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if h == "" {
		return msgUnauthorized
	}
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || raw == "" {
		return mspMsgMalformed
	}
	m.mu.Lock()
	key, expired := m.key, m.seen[raw]
	m.mu.Unlock()
	if key == nil {
		return mspMsgSignature
	}
	var methods []string
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		methods = []string{map[int]string{256: "ES256", 384: "ES384", 521: "ES512"}[k.Curve.Params().BitSize]}
	case *rsa.PublicKey:
		methods = []string{"RS256", "RS384", "RS512"}
	case ed25519.PublicKey:
		methods = []string{"EdDSA"}
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods), jwt.WithTimeFunc(m.clock.Now), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithIssuer(m.cfg.Issuer),
	}
	if m.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(m.cfg.Audience))
	}
	var claims jwt.RegisteredClaims
	tok, err := jwt.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		if m.cfg.KeyID != "" && t.Header["kid"] != m.cfg.KeyID {
			return nil, errUnknownKID
		}
		return key, nil
	}, opts...)
	switch {
	case errors.Is(err, errUnknownKID):
		return mspMsgKeyID
	case errors.Is(err, jwt.ErrTokenMalformed):
		return mspMsgMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return mspMsgSignature
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		// The claims were decoded before they were validated.
		switch {
		case claims.ExpiresAt == nil:
			return mspMsgNoExpiry
		case claims.Issuer == "":
			return mspMsgIssuer
		case len(claims.Audience) == 0:
			return mspMsgAudience
		}
		return mspMsgMalformed
	case errors.Is(err, jwt.ErrTokenExpired):
		return mspMsgExpired
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
		return mspMsgFuture
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return mspMsgIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return mspMsgAudience
	case err != nil || !tok.Valid:
		return mspMsgMalformed
	}
	if claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > m.cfg.MaxTokenLifetime {
		return mspMsgLifetime
	}
	if expired {
		return mspMsgExpired
	}
	m.mu.Lock()
	if _, ok := m.seen[raw]; !ok {
		m.seen[raw] = false
	}
	m.mu.Unlock()
	return ""
}

var errUnknownKID = errors.New("unknown kid")

type mspFilter struct{ emails, orgs, categories map[string]bool }

// keep returns the predicate over a record's filing string
// ("category|org|user email|initiator email"), nil when nothing is
// filtered.
func (f mspFilter) keep() func(string) bool {
	if f.emails == nil && f.orgs == nil && f.categories == nil {
		return nil
	}
	return func(filed string) bool {
		p := strings.SplitN(filed, "|", 4)
		return (f.categories == nil || f.categories[p[0]]) &&
			(f.orgs == nil || f.orgs[p[1]]) &&
			(f.emails == nil || f.emails[p[2]] || f.emails[p[3]])
	}
}

// defaultRange is the Admin Panel's default view: the last 30 days.
func (m *NordPassMSP) defaultRange(now int64) (from, to int64) { return now - 30*day, now }

// rangeFrom makes a lone timestamp_to the 30 days ending with it.
func (m *NordPassMSP) rangeFrom(to int64) int64 { return max(to-30*day, 0) }

// filter validates the MSP filters into q.keep: member_emails (matching the
// entry's user or initiator), organization_uuids and categories, each an
// array of strings (empty or null: no filter).
func (m *NordPassMSP) filter(fields map[string]json.RawMessage, q *npQuery) string {
	emails, ok := stringsField(fields, "member_emails")
	if !ok {
		return reasonEmailFormat
	}
	for _, e := range emails {
		if at := strings.IndexByte(e, '@'); at < 1 || at == len(e)-1 || strings.ContainsAny(e, " \t") {
			return reasonEmailFormat
		}
	}
	orgs, ok := stringsField(fields, "organization_uuids")
	if !ok {
		return reasonOrgFormat
	}
	for _, o := range orgs {
		if !isUUID(o) {
			return reasonOrgFormat
		}
	}
	for _, o := range orgs {
		if !slices.Contains(m.gen.orgs, o) {
			return reasonOrgUnknown
		}
	}
	cats, ok := stringsField(fields, "categories")
	if !ok {
		return reasonCategoryFormat
	}
	for _, c := range cats {
		if !slices.Contains(NordPassMSPCategories, c) {
			return reasonCategoryFormat
		}
	}
	q.keep = mspFilter{emails: set(emails), orgs: set(orgs), categories: set(cats)}.keep()
	return ""
}

// stringsField reads an optional array of strings; ok is false when the
// field is present but not one.
func stringsField(fields map[string]json.RawMessage, name string) ([]string, bool) {
	raw, present := fields[name]
	if !present || string(raw) == "null" {
		return nil, true
	}
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil || slices.Contains(out, "") {
		return nil, false
	}
	return out, true
}

// mspAction is one entry of the generated mix; the actions are the
// simulator's own, after the guide's description of each category.
type mspAction struct {
	category, action string
	weight           int
	org              bool // about a managed organization
	target           bool // about another MSP member (user ≠ initiator)
}

var mspActions = []mspAction{
	{"msp_access", "login", 400, false, false},
	{"msp_access", "login_failed", 40, false, false},
	{"msp_access", "password_changed", 10, false, false},
	{"msp_access", "2fa_enabled", 6, false, false},
	{"msp_access", "2fa_disabled", 2, false, false},
	{"msp_access", "account_created", 4, false, false},
	{"msp_user_management", "member_invited", 12, false, true},
	{"msp_user_management", "member_role_changed", 8, false, true},
	{"msp_user_management", "member_suspended", 3, false, true},
	{"msp_user_management", "ownership_transferred", 1, false, true},
	{"organization_management", "organization_accessed", 300, true, false},
	{"organization_management", "organization_created", 8, true, false},
	{"organization_management", "organization_deployed", 6, true, false},
	{"organization_management", "organization_renamed", 4, true, false},
	{"organization_management", "organization_suspended", 2, true, false},
	{"organization_management", "organization_terminated", 1, true, false},
	{"integrations", "integration_synced", 120, true, false},
	{"integrations", "integration_set_up", 5, true, false},
	{"integrations", "integration_edited", 4, true, false},
	{"integrations", "integration_disconnected", 2, true, false},
	{"billing", "billing_details_changed", 4, false, false},
	{"billing", "credit_card_added", 2, false, false},
	{"billing", "credit_card_changed", 2, false, false},
	{"settings", "msp_settings_changed", 5, false, false},
}

type mspGen struct {
	members  []npUser
	orgs     []string
	orgNames []string
	cum      []int
	tsUnit   int64 // a rendered timestamp is the Unix second times tsUnit
}

func newMSPGen(cfg NordPassMSPConfig) *mspGen {
	rnd := rand.New(rand.NewPCG(uint64(cfg.Seed), 31))
	g := &mspGen{tsUnit: cfg.NordPassReadings.tsUnit()}
	for i := range cfg.Members {
		first, last := personName(i)
		g.members = append(g.members, newNPUser(newUUID(rnd), first+"."+last+"@msp-partner.example.net"))
	}
	for i := range cfg.Organizations {
		g.orgs = append(g.orgs, newUUID(rnd))
		g.orgNames = append(g.orgNames, strings.ToUpper(lastNames[i%len(lastNames)][:1])+lastNames[i%len(lastNames)][1:]+" Ltd")
	}
	sum := 0
	for _, a := range mspActions {
		sum += a.weight
		g.cum = append(g.cum, sum)
	}
	return g
}

func (g *mspGen) history(cfg NordPassMSPConfig) []rec {
	rnd := rand.New(rand.NewPCG(uint64(cfg.Seed), 32))
	n := cfg.Count
	times := spreadTimes(rnd, n, cfg.From, cfg.To, time.Second, perTenK(cfg.SameSecondBursts, 3, n))
	dup := map[int]bool{}
	for range perTenK(cfg.DuplicatePairs, 2, n) {
		i := rnd.IntN(n - 1)
		times[i+1] = times[i]
		dup[i+1] = true
	}
	recs := make([]rec, len(times))
	var arena []byte
	for i, t := range times {
		if dup[i] {
			recs[i] = recs[i-1] // a byte-identical genuine event
			continue
		}
		if cap(arena)-len(arena) < 1024 {
			arena = make([]byte, 0, 1<<20)
		}
		recs[i], arena = g.event(rnd, arena, t/int64(time.Second))
	}
	return recs
}

func (g *mspGen) event(rnd *rand.Rand, dst []byte, ts int64) (rec, []byte) {
	a := mspActions[pickWeighted(rnd, g.cum)]
	f := rnd.Float64()
	initiator := int(f * f * float64(len(g.members)))
	user := initiator
	if a.target {
		user = rnd.IntN(len(g.members))
	}
	org := -1
	if a.org {
		org = rnd.IntN(len(g.orgs))
	}
	return g.render(rnd, dst, ts, a.category, a.action, user, initiator, org)
}

// render appends an entry to dst. The record is filed under
// "category|organization|user email|initiator email" for the filters.
func (g *mspGen) render(rnd *rand.Rand, dst []byte, ts int64, category, action string, user, initiator, org int) (rec, []byte) {
	start := len(dst)
	dst = append(dst, `{"type":`...)
	dst = append(dst, jsonString(category)...)
	dst = append(dst, `,"action":`...)
	dst = append(dst, jsonString(action)...)
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, ts*g.tsUnit, 10)
	dst = append(dst, `,"organization_uuid":`...)
	orgID := ""
	if org >= 0 {
		orgID = g.orgs[org]
		dst = append(dst, jsonString(orgID)...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"user":`...)
	dst = append(dst, g.members[user].json...)
	dst = append(dst, `,"initiator":`...)
	dst = append(dst, g.members[initiator].json...)
	dst = append(dst, `,"ip_address":`...)
	dst = append(dst, jsonString(ipv4(rnd))...)
	dst = append(dst, `,"metadata":`...)
	if org >= 0 {
		dst = append(dst, `{"organization_name":`...)
		dst = append(dst, jsonString(g.orgNames[org])...)
		dst = append(dst, '}')
	} else {
		dst = append(dst, "[]"...)
	}
	dst = append(dst, '}')
	end := len(dst)
	filed := category + "|" + orgID + "|" + g.members[user].email + "|" + g.members[initiator].email
	return rec{t: ts * 1e9, vis: ts * 1e9, user: filed, json: dst[start:end:end]}, dst
}
