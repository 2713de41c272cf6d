// Package nordpassmsp reads the NordPass MSP Activity Log API: what MSP
// Owners and Admins do in the MSP Admin Panel (MSP access, MSP user
// management, organization management, integrations, billing, settings).
//
// What NordPass documents publicly, and this source follows: the log is read
// over a REST API after generating and downloading a private key in the MSP
// Admin Panel (Integrations > Integrate with NordPass for MSP); entries can
// be filtered by MSP member email, organization, date range (at most 90
// days) and the six categories; the default view is the last 30 days.
//
// ASSUMPTIONS to confirm against the integration guide in the MSP Admin
// Panel (the API reference is not public). Each is a setting where it can
// differ, so a mismatch is a configuration change, not a code change:
//   - Endpoint: base_url and path are required; nothing is guessed.
//   - Authentication: every request carries a JWT signed with the
//     downloaded private key, as "Authorization: Bearer <jwt>"
//     (auth_scheme: none sends the bare JWT, as the Enterprise API takes its
//     token). The algorithm follows the key: ES256/ES384/ES512 for P-256/
//     P-384/P-521 EC keys, RS256 for RSA keys, EdDSA for Ed25519 keys (PEM:
//     PKCS#8, SEC 1 or PKCS#1). Claims: iss = jwt.issuer, sub = jwt.subject
//     (default: the issuer), aud = jwt.audience (default: base_url; "none"
//     omits it), kid header = jwt.key_id, iat = now, exp = iat +
//     jwt.lifetime (default 5 minutes), and a random jti. A token is reused
//     until shortly before it expires, then a fresh one is signed; one
//     refused with 401/403 is replaced once, then the stream stops with an
//     AuthError that says which part to check.
//   - Request and response: the Enterprise Activity Logs API's shape
//     (POST, JSON body with timestamp_from/timestamp_to in Unix seconds,
//     asked one second wider, per_page 1–100 and page; response data[] and
//     metadata.total; pages numbered over a newest-first result; only the
//     10,000 most recent records per query; 2000 requests per 5 minutes).
//     What the shared reader (package pagenum) does where those rules are
//     silent holds here too: pages are counted in the metadata.per_page
//     the API says it serves, record timestamps too large to be seconds
//     are read as milliseconds, and data null is an empty page only where
//     metadata.total puts no records.
//     The filters are sent as member_emails, organization_uuids and
//     categories; categories as msp_access, msp_user_management,
//     organization_management, integrations, billing and settings.
//   - Event ids: entries have no documented id; the id is a hash of the
//     whole entry, and the core counts copies of equal hashes so that two
//     genuine identical entries are both delivered.
package nordpassmsp

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/source/internal/jsonpage"
	"github.com/auditpull/auditpull/core/source/internal/pagenum"
	"github.com/auditpull/auditpull/core/source/internal/reauth"
	"github.com/auditpull/auditpull/core/source/internal/streamkey"
	"github.com/auditpull/auditpull/internal/jsonscan"
	"github.com/golang-jwt/jwt/v5"
)

// Name is the source's registered name.
const Name = "nordpass_msp"

// Limits: the MSP Activity Log's documented 30-day default; the rest are
// the Enterprise API's (see pagenum), which the MSP API is assumed to share,
// and its documented 90 days are theirs.
const (
	DefaultLookback = 30 * 24 * time.Hour
	// DefaultLifetime is how long a signed token is valid.
	DefaultLifetime = 5 * time.Minute
	MinLifetime     = 30 * time.Second
	MaxLifetime     = time.Hour
)

// Categories are the six log categories as sent to the API; the guide's
// names ("MSP Access", "Organization Management", …) are accepted too.
var Categories = []string{
	"msp_access", "msp_user_management", "organization_management", "integrations", "billing", "settings",
}

// Settings is the `nordpass_msp` config section.
type Settings struct {
	BaseURL       string      `config:"base_url" required:"true" doc:"The MSP Activity Log API's base URL, from the integration guide in the MSP Admin Panel (the API is not public)." example:"https://msp-api.example"`
	Path          string      `config:"path" required:"true" doc:"The endpoint's path under base_url, from the same guide." example:"/msp/activity-log/query"`
	PrivateKey    core.Secret `config:"private_key" required:"true" format:"pem" doc:"The PEM private key downloaded from the MSP Admin Panel (Integrations > Integrate with NordPass for MSP), inline, env:NAME or file:/path. It signs the JWT sent with each request." example:"file:/run/secrets/nordpass_msp.pem"`
	JWT           JWTSettings `config:"jwt" doc:"Claims of the JWT signed with private_key (issuer or key_id is required)."`
	AuthScheme    string      `config:"auth_scheme" default:"bearer" enum:"bearer,none" doc:"How the token is sent: bearer (Authorization: Bearer <jwt>) or none (the bare JWT)."`
	MemberEmails  []string    `config:"member_emails" doc:"Only the actions of these MSP members."`
	Organizations []string    `config:"organizations" doc:"Only these organizations (UUIDs)."`
	Categories    []string    `config:"categories" doc:"Only these categories: msp_access, msp_user_management, organization_management, integrations, billing, settings."`
}

// JWTSettings is the `nordpass_msp.jwt` section.
type JWTSettings struct {
	Issuer   string        `config:"issuer" doc:"The iss claim." example:"msp-1234"`
	Subject  string        `config:"subject" doc:"The sub claim. Default: the issuer."`
	Audience string        `config:"audience" doc:"The aud claim. Default: base_url; none omits it."`
	KeyID    string        `config:"key_id" doc:"The kid header."`
	Lifetime core.Duration `config:"lifetime" default:"5m" doc:"How long one token is valid (30s to 1h)."`
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// parsed is a checked configuration.
type parsed struct {
	*Settings
	base       string
	host       string // base's host and path, for the rate budget and stream names
	key        crypto.Signer
	method     jwt.SigningMethod
	lifetime   time.Duration
	audience   string // "" omits aud
	subject    string
	bare       bool
	categories []string
}

// check checks the `nordpass_msp` section (and page_size).
func check(cfg *core.Config, s *Settings) (*parsed, error) {
	p := &parsed{Settings: s}
	if s.BaseURL == "" {
		return nil, &core.ConfigError{Key: "nordpass_msp.base_url", Msg: "required: the MSP API's URL from the integration guide in the MSP Admin Panel (it is not public)"}
	}
	p.base = strings.TrimRight(s.BaseURL, "/")
	u, err := core.CheckTokenURL("nordpass_msp.base_url", p.base)
	if err != nil {
		return nil, err
	}
	p.host = streamkey.Host(u)
	switch {
	case s.Path == "":
		return nil, &core.ConfigError{Key: "nordpass_msp.path", Msg: "required: the Activity Log endpoint's path from the integration guide in the MSP Admin Panel (it is not public), e.g. /…/activities"}
	case !strings.HasPrefix(s.Path, "/") || strings.ContainsAny(s.Path, "?# \t"):
		return nil, &core.ConfigError{Key: "nordpass_msp.path", Msg: fmt.Sprintf("%q is not a URL path (it must start with /)", s.Path)}
	}
	if !s.PrivateKey.IsSet() {
		return nil, &core.ConfigError{Key: "nordpass_msp.private_key", Msg: "required: the private key downloaded from the MSP Admin Panel (Integrations > Generate Private Key), as PEM inline, env:NAME or file:/path"}
	}
	key, method, err := parseKey([]byte(s.PrivateKey.Reveal()))
	if err != nil {
		return nil, &core.ConfigError{Key: "nordpass_msp.private_key", Msg: err.Error()}
	}
	p.key, p.method = key, method

	j := s.JWT
	if j.Issuer == "" && j.KeyID == "" {
		return nil, &core.ConfigError{Key: "nordpass_msp.jwt.issuer", Msg: "required (or nordpass_msp.jwt.key_id): the identifier the API looks the key up by, as the integration guide names it"}
	}
	p.subject = j.Subject
	if p.subject == "" {
		p.subject = j.Issuer
	}
	switch j.Audience {
	case "":
		p.audience = p.base
	case "none":
	default:
		p.audience = j.Audience
	}
	p.lifetime = j.Lifetime.D()
	switch {
	case p.lifetime == 0:
		p.lifetime = DefaultLifetime
	case p.lifetime < MinLifetime || p.lifetime > MaxLifetime:
		return nil, &core.ConfigError{Key: "nordpass_msp.jwt.lifetime", Msg: fmt.Sprintf("%s is out of range; use %s to %s (short-lived tokens are the point)", p.lifetime, MinLifetime, MaxLifetime)}
	}
	switch strings.ToLower(s.AuthScheme) {
	case "", "bearer":
	case "none":
		p.bare = true
	default:
		return nil, &core.ConfigError{Key: "nordpass_msp.auth_scheme", Msg: fmt.Sprintf("unknown scheme %q; one of \"bearer\" (Authorization: Bearer <jwt>), \"none\" (the bare JWT)", s.AuthScheme)}
	}

	for i, e := range s.MemberEmails {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			return nil, &core.ConfigError{Key: fmt.Sprintf("nordpass_msp.member_emails.%d", i), Msg: fmt.Sprintf("%q is not an email address", e)}
		}
	}
	for i, o := range s.Organizations {
		if !uuidRE.MatchString(o) {
			return nil, &core.ConfigError{Key: fmt.Sprintf("nordpass_msp.organizations.%d", i), Msg: fmt.Sprintf("%q is not an organization UUID", o)}
		}
	}
	for i, c := range s.Categories {
		n := strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(c)))
		if !slices.Contains(Categories, n) {
			return nil, &core.ConfigError{Key: fmt.Sprintf("nordpass_msp.categories.%d", i), Msg: fmt.Sprintf("unknown category %q; one of MSP Access, MSP User Management, Organization Management, Integrations, Billing, Settings (or %s)", c, strings.Join(Categories, ", "))}
		}
		if !slices.Contains(p.categories, n) {
			p.categories = append(p.categories, n)
		}
	}
	if err := pagenum.CheckLimits(cfg, "the MSP Activity Log API"); err != nil {
		return nil, err
	}
	return p, nil
}

// parseKey reads a PEM private key (PKCS#8, SEC 1 or PKCS#1; or bare
// base64 DER) and picks the JWT algorithm its type calls for. Errors never
// quote the key.
func parseKey(b []byte) (crypto.Signer, jwt.SigningMethod, error) {
	var der []byte
	block, _ := pem.Decode(b)
	switch {
	case block != nil && strings.Contains(block.Type, "ENCRYPTED"):
		return nil, nil, errors.New("the key is encrypted; give the unencrypted key (e.g. openssl pkcs8 -in key.pem -nocrypt -topk8)")
	case block != nil:
		der = block.Bytes
	default:
		d, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
		if err != nil {
			return nil, nil, errors.New("not a PEM private key (expected -----BEGIN PRIVATE KEY-----)")
		}
		der = d
	}
	var key any
	var err error
	if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
		if key, err = x509.ParseECPrivateKey(der); err != nil {
			if key, err = x509.ParsePKCS1PrivateKey(der); err != nil {
				return nil, nil, errors.New("not a private key in PKCS#8, SEC 1 (EC) or PKCS#1 (RSA) form")
			}
		}
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return k, jwt.SigningMethodES256, nil
		case elliptic.P384():
			return k, jwt.SigningMethodES384, nil
		case elliptic.P521():
			return k, jwt.SigningMethodES512, nil
		}
		return nil, nil, fmt.Errorf("EC key on curve %s: only P-256 (ES256), P-384 and P-521 are usable in JWTs", k.Curve.Params().Name)
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, nil, fmt.Errorf("RSA key of %d bits: at least 2048 are required", k.N.BitLen())
		}
		return k, jwt.SigningMethodRS256, nil
	case ed25519.PrivateKey:
		return k, jwt.SigningMethodEdDSA, nil
	}
	return nil, nil, fmt.Errorf("unsupported key type %T (use an EC, RSA or Ed25519 key)", key)
}

func init() {
	core.RegisterTyped(Name, "NordPass MSP Activity Log API (default initial_lookback 30 days, windows of at most 90 days). The API is not public: take the URL, path and claims from the integration guide in the MSP Admin Panel.", check, open)
}

// Source implements core.Source.
type Source struct {
	api     pagenum.Endpoint
	renewal reauth.Renewal
	signer  *signer
	bare    bool
	filters filters
	info    core.SourceInfo
}

type filters struct {
	MemberEmails      []string `json:"member_emails,omitempty"`
	OrganizationUUIDs []string `json:"organization_uuids,omitempty"`
	Categories        []string `json:"categories,omitempty"`
}

// open builds the source.
func open(_ context.Context, env core.SourceEnv, p *parsed) ([]core.Source, error) {
	host := p.host
	// Assumed per IP like the Enterprise API's limit: every key this
	// process uses against the host shares the budget.
	req, err := env.Requester(pagenum.Rate, core.LimiterKey(host, ""))
	if err != nil {
		return nil, err
	}
	perPage := env.PageSize(pagenum.MaxPerPage)
	f := filters{
		MemberEmails:      sortedUnique(p.MemberEmails),
		OrganizationUUIDs: sortedUnique(lower(p.Organizations)),
		Categories:        sortedUnique(p.categories),
	}
	sg := newSigner(&signer{
		key: p.key, method: p.method, clock: env.Clock, behind: env.APIBehind, lifetime: p.lifetime,
		issuer: p.JWT.Issuer, subject: p.subject, audience: p.audience, keyID: p.JWT.KeyID,
	})
	return []core.Source{&Source{
		api: pagenum.Endpoint{
			HTTP: req, URL: p.base + p.Path, Op: op, Source: Name,
			PerPage: perPage, Cap: pagenum.Cap, Decode: decodePage, Classify: classify,
		},
		// A refused token is replaced once: it may have expired in flight,
		// or the clocks may disagree by a little.
		renewal: reauth.Renewal{Log: env.Logger, Note: "the MSP API refused the token; signing a fresh one", Drop: sg.Drop, Hint: authHint},
		signer:  sg,
		bare:    p.bare,
		filters: f,
		info: core.SourceInfo{
			Source:          Name,
			Stream:          streamKey(host, p.Path, f),
			MaxSpan:         pagenum.MaxWindow(pagenum.MaxSpan),
			DefaultLookback: DefaultLookback,
			Precision:       time.Second,
			Cap:             pagenum.Reachable(pagenum.Cap, perPage),
			PageNumbered:    true,
			ContentIDs:      true,
		},
	}}, nil
}

func lower(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strings.ToLower(x)
	}
	return out
}

func sortedUnique(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

// streamKey names the default checkpoint: host and path, and a hash of the
// filters when there are any, so that two filtered inputs never share one.
func streamKey(host, path string, f filters) string {
	key := Name + "-" + streamkey.Safe(host+path)
	if len(f.MemberEmails)+len(f.OrganizationUUIDs)+len(f.Categories) > 0 {
		b, _ := json.Marshal(f)
		key += streamkey.Digest(b)
	}
	return key
}

// Info describes the API's rules to the planner.
func (s *Source) Info() core.SourceInfo { return s.info }

type request struct {
	From    int64 `json:"timestamp_from"`
	To      int64 `json:"timestamp_to"`
	PerPage int   `json:"per_page"`
	Page    int   `json:"page"`
	filters
}

const op = "nordpass msp activity log"

// Fetch reads one page of the window (see pagenum.Endpoint), with a JWT
// signed for the request.
func (s *Source) Fetch(ctx context.Context, q core.Query) (core.Page, error) {
	return reauth.Once(s.renewal, func() (core.Page, string, error) {
		var used string
		page, err := s.api.Fetch(ctx, q, func(r pagenum.Request) any {
			return request{From: r.From, To: r.To, PerPage: r.PerPage, Page: r.Page, filters: s.filters}
		}, func(ctx context.Context, req *http.Request) error {
			tok, err := s.signer.Token(ctx)
			if err != nil {
				return err
			}
			used = tok
			if s.bare {
				req.Header.Set("Authorization", tok)
			} else {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			return nil
		})
		return page, used, err
	})
}

// authHint says which setting a refusal of a freshly signed token points
// at.
func authHint(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "signature"):
		return "the API does not accept the signature: nordpass_msp.private_key is not the key registered for the MSP (was a new key generated in the MSP Admin Panel?)"
	case strings.Contains(m, "issuer"):
		return "check nordpass_msp.jwt.issuer against the integration guide"
	case strings.Contains(m, "audience"):
		return "check nordpass_msp.jwt.audience against the integration guide"
	case strings.Contains(m, "key id") || strings.Contains(m, "kid"):
		return "check nordpass_msp.jwt.key_id against the integration guide"
	case strings.Contains(m, "expir") || strings.Contains(m, "future") || strings.Contains(m, "lifetime"):
		return "a freshly signed token was refused by its times: check this machine's clock (NTP) and nordpass_msp.jwt.lifetime"
	}
	return "a freshly signed token was refused: check nordpass_msp.private_key, the nordpass_msp.jwt claims and nordpass_msp.auth_scheme against the MSP Admin Panel's integration guide"
}

// decodePage reads one response (the Enterprise API's shape) in a single
// pass; see jsonscan.Scanner.
func decodePage(b []byte) (jsonpage.Data, error) { return pagenum.DecodeData(b, "entry", decodeEvent) }

// decodeEvent reads the fields the core needs as it reads the entry. The
// id hashes the whole entry (compacted, so formatting never changes it):
// MSP entries carry fields the Enterprise API's do not (ip_address), and
// the hash must tell apart entries that differ in any of them.
func decodeEvent(s *jsonscan.Scanner) (core.Event, error) {
	start := s.Mark()
	var typ, action, uuid, email, initiator string
	var ts int64
	var seen uint8
	first := func(bit uint8) bool { ok := seen&bit == 0; seen |= bit; return ok }
	err := s.Object(func(k string) (err error) {
		switch {
		case k == "timestamp" && first(1):
			ts, _, err = s.Int()
			return err
		case k == "type" && first(2):
			typ, err = s.Text()
			return err
		case k == "action" && first(4):
			action, err = s.Text()
			return err
		case k == "user" && first(8):
			return s.FirstMembers([]string{"uuid", "email"}, func(i int) (err error) {
				if i == 0 {
					uuid, err = s.OptStr()
				} else {
					email, err = s.OptStr()
				}
				return err
			})
		case k == "initiator" && first(16):
			return s.FirstMembers([]string{"email"}, func(int) (err error) {
				initiator, err = s.OptStr()
				return err
			})
		}
		return s.Skip()
	})
	if err != nil {
		return core.Event{}, err
	}
	e, err := pagenum.Record(s, start, "entry", ts, s.CompactSince(start))
	if err != nil {
		return core.Event{}, err
	}
	e.Type, e.Action, e.User = typ, action, core.Fields("user_uuid", uuid, "user_email", email, "initiator_email", initiator)
	return e, nil
}

// classify maps error responses to actionable errors. Any 401 or 403 may
// be a token that expired on the way, so it is marked renewable; Fetch
// signs a fresh token once before reporting it.
func classify(r *core.Response, to int64) error {
	msg, _ := pagenum.Message(r.Body)
	switch r.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return &core.AuthError{Op: op, Status: r.Status, Reason: msg, Expired: true}
	case http.StatusBadRequest:
		return pagenum.BadRequest(op, r, to)
	case http.StatusNotFound:
		msg += ": no such endpoint; check nordpass_msp.base_url and nordpass_msp.path against the integration guide"
	}
	return &core.RequestError{Op: op, Status: r.Status, Reason: msg}
}

// signer signs the JWTs, reusing one until shortly before it expires.
type signer struct {
	core.TokenCache
	key      crypto.Signer
	method   jwt.SigningMethod
	clock    core.Clock
	behind   func() time.Duration // the API's clock behind this machine's
	lifetime time.Duration
	issuer   string
	subject  string
	audience string
	keyID    string
}

// newSigner reuses each token until a fifth of its lifetime (at most 30 s)
// is left.
func newSigner(s *signer) *signer {
	s.TokenCache = core.TokenCache{
		Clock: s.clock,
		Fetch: s.sign,
		Early: func(life time.Duration) time.Duration { return min(30*time.Second, life/5) },
	}
	return s
}

type claims struct {
	jwt.RegisteredClaims
}

func (s *signer) sign(context.Context) (string, time.Duration, error) {
	// Stamped by the API's clock: an API whose clock is behind refuses a
	// token issued in its future.
	apiNow := s.clock.Now()
	if s.behind != nil {
		apiNow = apiNow.Add(-s.behind())
	}
	iat := apiNow.Truncate(time.Second)
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", 0, err
	}
	c := claims{jwt.RegisteredClaims{
		Issuer:    s.issuer,
		Subject:   s.subject,
		IssuedAt:  jwt.NewNumericDate(iat),
		ExpiresAt: jwt.NewNumericDate(iat.Add(s.lifetime)),
		ID:        hex.EncodeToString(jti[:]),
	}}
	if s.audience != "" {
		c.Audience = jwt.ClaimStrings{s.audience}
	}
	t := jwt.NewWithClaims(s.method, c)
	if s.keyID != "" {
		t.Header["kid"] = s.keyID
	}
	tok, err := t.SignedString(s.key)
	if err != nil {
		return "", 0, fmt.Errorf("signing the token: %w", err)
	}
	// The lifetime counts from iat, which may be up to a second earlier.
	return tok, s.lifetime - apiNow.Sub(iat), nil
}
