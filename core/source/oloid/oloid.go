// Package oloid reads OLOID's List Activity Logs API
// (POST {base_url}/filterActivity).
//
// What OLOID documents, and this source follows: a Bearer access token;
// start and end in milliseconds since the epoch; limit; an opaque nextToken
// for the next page; every activity has an id, which is the event's ID.
// Authentication is POST {base_url}/login with the API client's id
// (UserName), tenant (TenantName) and client secret (Password), which
// returns a Cognito AccessToken valid for ExpiresIn seconds (3600). The
// token is renewed shortly before it expires, and once more when the API
// answers 401; if a fresh token is refused too, the stream stops with an
// AuthError.
//
// What OLOID does not document, and how this source copes:
//   - The base URL: there is no public default, so base_url is required.
//   - Whether start and end are inclusive: each window [from, to) is asked
//     for as start = from − 1 ms, end = to, and anything outside [from, to)
//     is dropped here, so no reading of the bounds loses or repeats a
//     record. Where limit caps the whole query, a single millisecond's
//     neighbours could fill its answer: one whose answer is full and
//     proves a bound inclusive is asked again with that bound on itself.
//   - The order of activities: not relied on. The core de-duplicates
//     re-read overlaps by id, whatever the order.
//   - Whether nextToken is a position or names the last activity served (a
//     key, which an API serving activities of one millisecond in a new
//     order at each request leaves past some of them): taken for a key
//     (SourceInfo.KeyCursor). After a page in time order, either way, the
//     core asks the rest of the window from the millisecond the page ended
//     on instead of following nextToken, and that millisecond's activities
//     come whole; nextToken goes on only through a page of one millisecond
//     or one out of time order.
//   - How long a nextToken stays valid: it is stored in the checkpoint with
//     its window and used only with that window. If the API refuses it
//     (HTTP 400 while continuing a window, e.g. after a long outage), the
//     window is read again from its first page, once, with a warning: its
//     events may then be delivered twice (at-least-once), never lost.
//   - The page's shape ("the actual response structure may vary"): the
//     activities and the nextToken are each taken from data, or else from
//     the top level. "activities": null is a page without activities (the
//     page carries no count it could hide records from). Only an absent,
//     null or empty nextToken ends the window; one that is not a string (a
//     number, an object) is an error, retried and reported, never the end.
//   - Whether a page can repeat records of the previous one (offset-based
//     cursors do when records are inserted while paging): a record whose id
//     was on the previous page of the same window is dropped.
//   - An activity without an id (OLOID documents one): its id is a hash
//     of its content ("sha256:…"). Two identical activities are two
//     events, so such an id on the previous page is not taken for a
//     repeat, and the core numbers the copies ("<hash>-2", …) as it does
//     NordPass's (SourceInfo.ContentIDs; an id of OLOID's own is numbered
//     only if the API served its activity twice past the previous-page
//     check). A hashed activity an offset cursor repeats is then delivered
//     twice: at least once, never lost.
//   - The login response's shape: OLOID's help pages show
//     {"cognitoToken":{"AccessToken","ExpiresIn",…},"user":{…}}, another
//     article cognitoToken.AuthenticationResult.AccessToken. The
//     AccessToken and ExpiresIn are taken from either, and from the top
//     level, "AuthenticationResult" (Cognito's own shape) or "data" (the
//     shape of /filterActivity), whatever the keys' case. ExpiresIn is
//     read as seconds whether an integer, a fraction or a number in a
//     string; absent or unreadable, the token is taken to last an hour.
//   - The login path's case: OLOID's articles say /login and /Login. The
//     source tries /login, and /Login when the API answers that it has no
//     such resource (404, or API Gateway's 403 "Missing Authentication
//     Token"), and keeps the one that worked.
//   - Rate limits: none are documented; the default budget is 600 requests
//     per minute per API host and client (rate_limit overrides it), and 429
//     with Retry-After is honoured.
//   - Maximum window: none is documented, so windows are not limited
//     (max_window can limit them).
//   - Whether limit ("Maximum number of results to return") sizes a page or
//     caps the whole query: a window's first page that is full and carries
//     no nextToken may be all a capped query returns, so the window is
//     split and its halves read instead (SourceInfo.Cap). Under the page
//     reading that costs a few requests for a window holding exactly limit
//     activities; under the cap reading, reading the page as the window's
//     end lost every activity past it.
package oloid

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/source/internal/jsonpage"
	"github.com/auditpull/auditpull/core/source/internal/reauth"
	"github.com/auditpull/auditpull/core/source/internal/streamkey"
	"github.com/auditpull/auditpull/core/source/internal/tokenpage"
	"github.com/auditpull/auditpull/internal/jsonscan"
)

// Name is the source's registered name.
const Name = "oloid"

// Defaults.
const (
	DefaultLookback = 7 * 24 * time.Hour
	// DefaultLimit is the page size (the request's limit) unless page_size
	// says otherwise.
	DefaultLimit = 100
	loginPath    = "/login"
	activityPath = "/filterActivity"
)

// DefaultRate is the request budget: OLOID documents none, so it is a
// conservative 600 requests per minute (overridable with rate_limit).
var DefaultRate = core.Rate{Requests: 600, Period: time.Minute}

// Settings is the `oloid` config section. The three credentials are those
// of an API client created in the OLOID portal's API-token settings.
type Settings struct {
	BaseURL      string      `config:"base_url" required:"true" doc:"Your tenant's API URL (OLOID publishes no default); /login and /filterActivity are relative to it." example:"https://api.example.oloid.com"`
	ClientID     string      `config:"client_id" required:"true" doc:"Client id of an API client created in the OLOID portal (sent as UserName)." example:"${OLOID_CLIENT_ID}"`
	Tenant       string      `config:"tenant" required:"true" doc:"The OLOID tenant name (sent as TenantName)." example:"${OLOID_TENANT}"`
	ClientSecret core.Secret `config:"client_secret" required:"true" doc:"The API client's secret, from the environment or file:/path (sent as Password)." example:"${OLOID_CLIENT_SECRET}"`
}

// parsed is a checked configuration.
type parsed struct {
	*Settings
	base string // no trailing slash or endpoint path
	host string // its host and path, for the rate budget and stream names
}

// check checks the `oloid` section and normalises the base URL.
func check(_ *core.Config, s *Settings) (*parsed, error) {
	if s.BaseURL == "" {
		return nil, &core.ConfigError{Key: "oloid.base_url", Msg: "required: the OLOID API URL of your tenant (OLOID publishes no default), e.g. https://api.example.oloid.com"}
	}
	base := strings.TrimRight(s.BaseURL, "/")
	for _, p := range []string{activityPath, loginPath} {
		base = strings.TrimSuffix(base, p)
	}
	u, err := core.CheckTokenURL("oloid.base_url", base)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(s.ClientID) == "" {
		return nil, &core.ConfigError{Key: "oloid.client_id", Msg: "required: the API client id from OLOID's API-token settings (sent as UserName)"}
	}
	if strings.TrimSpace(s.Tenant) == "" {
		return nil, &core.ConfigError{Key: "oloid.tenant", Msg: "required: the OLOID tenant name (sent as TenantName)"}
	}
	if !s.ClientSecret.IsSet() {
		return nil, &core.ConfigError{Key: "oloid.client_secret", Msg: "required: the API client's secret (inline, env:NAME or file:/path; sent as Password)"}
	}
	return &parsed{Settings: s, base: base, host: streamkey.Host(u)}, nil
}

func init() {
	core.RegisterTyped(Name, "OLOID List Activity Logs API: the credentials of an API client created in the OLOID portal.", check, open)
}

// Source implements core.Source.
type Source struct {
	http    *core.Requester
	url     string
	limit   int
	auth    *session
	renewal reauth.Renewal
	pages   tokenpage.Reader
	info    core.SourceInfo
}

// open builds the source.
func open(_ context.Context, env core.SourceEnv, p *parsed) ([]core.Source, error) {
	host := p.host
	req, err := env.Requester(DefaultRate, core.LimiterKey(host, p.ClientID+"\x00"+p.Tenant))
	if err != nil {
		return nil, err
	}
	auth := newSession(req, p.base, env.Clock, p.ClientID, p.Tenant, p.ClientSecret)
	limit := env.PageSize(DefaultLimit)
	return []core.Source{&Source{
		http:  req,
		url:   p.base + activityPath,
		limit: limit,
		auth:  auth,
		renewal: reauth.Renewal{Log: env.Logger, Note: "OLOID refused the access token; logging in again", Drop: auth.Drop,
			Hint: func(string) string {
				return "a freshly issued access token was refused too; check that the API client may read activity logs and that oloid.base_url is the tenant's API"
			}},
		pages: tokenpage.Reader{Log: env.Logger, Refused: "OLOID refused the stored nextToken", ContentID: isContentID},
		info: core.SourceInfo{
			Source:          Name,
			Stream:          Name + "-" + streamkey.Safe(host) + "-" + streamkey.Safe(p.Tenant),
			DefaultLookback: DefaultLookback,
			Precision:       time.Millisecond,
			KeyCursor:       true, // nextToken is opaque: it may name the last activity
			Cap:             limit,
			// Activities without an id get a content hash, shared by
			// genuine copies; OLOID's own ids are unique.
			ContentIDs: true,
		},
	}}, nil
}

// Info describes the API's rules to the planner.
func (s *Source) Info() core.SourceInfo { return s.info }

const opQuery = "oloid filterActivity"

// Fetch reads one page of the window [q.From, q.To) (see tokenpage.Reader).
func (s *Source) Fetch(ctx context.Context, q core.Query) (core.Page, error) {
	return s.pages.Fetch(ctx, q, func(ctx context.Context, cursor string) (core.Page, error) {
		return reauth.Once(s.renewal, func() (core.Page, string, error) {
			tok, err := s.auth.Token(ctx)
			if err != nil {
				return core.Page{}, "", err
			}
			page, err := s.query(ctx, q, cursor, tok)
			return page, tok, err
		})
	})
}

type request struct {
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	Limit     int    `json:"limit"`
	NextToken string `json:"nextToken,omitempty"`
}

// burstLimit is the limit asked for a one-millisecond piece. Where limit
// caps the whole query, the core splits a window down to single
// milliseconds, and one holding more than page_size activities is read
// whole only with a larger limit. OLOID documents no maximum: a first page
// refused at this limit (400) is asked again at page_size's.
const burstLimit = 1000

func (s *Source) query(ctx context.Context, q core.Query, cursor, tok string) (core.Page, error) {
	limit := s.limit
	if q.To.Sub(q.From) <= time.Millisecond {
		limit = max(limit, burstLimit)
	}
	// One millisecond early and up to the window's end: tokenpage.Reader
	// drops records outside [From, To), so the bounds' undocumented
	// inclusiveness cannot lose a record.
	start, end := q.From.UnixMilli()-1, q.To.UnixMilli()
	page, err := s.ask(ctx, start, end, cursor, tok, limit)
	var re *core.RequestError
	if limit != s.limit && cursor == "" && errors.As(err, &re) && re.Status == http.StatusBadRequest {
		limit = s.limit
		page, err = s.ask(ctx, start, end, cursor, tok, limit)
	}
	capped := func() bool { return err == nil && cursor == "" && page.Next == "" && len(page.Events) >= limit }
	for capped() && q.To.Sub(q.From) == time.Millisecond {
		// Where limit caps the whole query, the milliseconds either side
		// take room in the answer of this one: asked alone, it may fit.
		// A record of the millisecond before proves start inclusive, one
		// of the millisecond after proves end inclusive; only a proven
		// bound is moved onto the millisecond itself (twice at most: an
		// answer cut by the cap may prove the second bound only once the
		// first is moved).
		from := q.From.UnixMilli()
		nstart, nend := start, end
		for _, e := range page.Events {
			switch ms := e.Time.UnixMilli(); {
			case ms < from:
				nstart = from
			case ms > from:
				nend = from
			}
		}
		if nstart == start && nend == end {
			break
		}
		narrow, nerr := s.ask(ctx, nstart, nend, "", tok, limit)
		if nerr != nil && !(errors.As(nerr, &re) && re.Status == http.StatusBadRequest) {
			// Asked again, not given up: the wide answer would lose
			// what its neighbours took the room of.
			return core.Page{}, nerr
		}
		if nerr != nil || narrow.Next != "" {
			// Bounds the API refuses (start equal to end), or an answer
			// that goes on (not the capped reading after all): the
			// first answer stands, reported as capped.
			break
		}
		page, start, end = narrow, nstart, nend
	}
	if capped() {
		// A full first page without a nextToken may be all a capped query
		// returns: at the cap, the core splits the window. Counted before
		// the records outside the window are dropped.
		page.Total = s.limit
	}
	return page, err
}

// ask asks for the activities from start to end (milliseconds).
func (s *Source) ask(ctx context.Context, start, end int64, cursor, tok string, limit int) (core.Page, error) {
	payload, _ := json.Marshal(request{Start: start, End: end, Limit: limit, NextToken: cursor})
	var out core.Page
	err := s.http.Do(ctx, opQuery, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}, func(r *core.Response) error {
		if r.Status != http.StatusOK {
			return classify(opQuery, r)
		}
		p, err := decodePage(r.Body)
		if err != nil {
			return &core.TransientError{Op: opQuery, Err: err}
		}
		out = p
		return nil
	})
	return out, err
}

// decodePage reads one response in a single pass; see jsonscan.Scanner.
// OLOID documents {"data":{"activities":[…],"nextToken":…},"message":…}
// and warns that "the actual response structure may vary": the activities
// and the nextToken are each taken from data, or else from the top level,
// so that an answer putting either beside data rather than in it loses no
// page. The first of repeated keys counts, as with a lookup by path.
func decodePage(b []byte) (core.Page, error) {
	var inData, atTop page
	var top []byte
	err := jsonpage.ParsePage(b, func(s *jsonscan.Scanner) error {
		return s.FirstMembers([]string{"data", "activities", "nextToken"}, func(i int) (err error) {
			switch i {
			case 0:
				return s.FirstMembers([]string{"activities", "nextToken"}, func(i int) error {
					return inData.read(s, i == 0, "data.nextToken")
				})
			case 1:
				// Decoded only if data holds no activities, as the events
				// in data are the page.
				top, err = s.Raw()
				return err
			}
			return atTop.read(s, false, "nextToken")
		})
	})
	if err == nil && inData.found != jsonpage.Array && top != nil {
		err = jsonpage.ParsePage(top, func(s *jsonscan.Scanner) error { return atTop.read(s, true, "") })
	}
	if err != nil {
		return core.Page{}, err
	}
	p := core.Page{Total: -1, Next: inData.next}
	if p.Next == "" {
		p.Next = atTop.next
	}
	switch {
	case inData.found == jsonpage.Array:
		p.Events = inData.events
	case atTop.found == jsonpage.Array:
		p.Events = atTop.events
	case inData.found == jsonpage.Null || atTop.found == jsonpage.Null:
		// No activities, rendered as null: an empty page, which ends the
		// window unless a nextToken says more follow.
	default:
		return core.Page{}, fmt.Errorf("response has no data.activities array: %s", core.Snippet(b))
	}
	return p, nil
}

// page collects the activities and the next token of one container.
type page struct {
	found  jsonpage.Found
	events []core.Event
	next   string
}

// read reads the activities array (acts) or the next token, named name in
// errors.
func (p *page) read(s *jsonscan.Scanner, acts bool, name string) (err error) {
	if !acts {
		p.next, err = jsonpage.Token(s, name)
		return err
	}
	p.events, p.found, err = jsonpage.Events(s, "activity", decodeEvent)
	return err
}

func decodeEvent(s *jsonscan.Scanner) (core.Event, error) {
	start := s.Mark()
	var e core.Event
	var ok bool
	var userID, userName string
	err := s.FirstMembers([]string{"timestamp", "id", "activityType", "details"}, func(i int) (err error) {
		switch i {
		case 0:
			e.Time, ok, err = parseTime(s)
		case 1:
			switch c := s.Kind(); {
			case c == '"':
				e.ID, err = s.Str()
			case c == '-' || c >= '0' && c <= '9':
				e.ID, err = s.RawStr()
			default:
				err = s.Skip()
			}
		case 2:
			e.Type, err = s.Text()
		case 3:
			err = jsonpage.Texts(s, []string{"userId", "userName"}, &userID, &userName)
		}
		return err
	})
	if err != nil {
		return core.Event{}, err
	}
	e.Raw = s.Since(start)
	if !ok {
		return core.Event{}, fmt.Errorf("activity without a usable timestamp: %s", core.Snippet(e.Raw))
	}
	if e.ID == "" {
		// Not expected (the API documents an id); a content hash keeps
		// de-duplication working, and the core counts copies of equal hashes.
		sum := sha256.Sum256(s.CompactSince(start))
		e.ID = contentIDPrefix + hex.EncodeToString(sum[:16])
	}
	e.User = core.Fields("user_id", userID, "user_name", userName)
	return e, nil
}

// contentIDPrefix marks the id of an activity without one: a hash of its
// content, shared by identical activities.
const contentIDPrefix = "sha256:"

func isContentID(id string) bool { return strings.HasPrefix(id, contentIDPrefix) }

// parseTime reads milliseconds since the epoch, as a number or a numeric
// string, or an RFC 3339 string ("the actual response structure may vary").
func parseTime(s *jsonscan.Scanner) (time.Time, bool, error) {
	if s.Kind() == '"' {
		v, err := s.Str()
		if err != nil {
			return time.Time{}, false, err
		}
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
			return time.UnixMilli(ms).UTC(), true, nil
		}
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t.UTC(), true, nil
		}
		return time.Time{}, false, nil
	}
	ms, ok, err := s.Int()
	if !ok || ms <= 0 {
		return time.Time{}, false, err
	}
	return time.UnixMilli(ms).UTC(), true, err
}

// message is the reason an error response gives.
func message(b []byte) string {
	var body struct {
		Message string          `json:"message"` // also "Message"
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil {
		if body.Message != "" {
			return body.Message
		}
		var nested struct{ Message string }
		var plain string
		switch {
		case json.Unmarshal(body.Error, &nested) == nil && nested.Message != "":
			return nested.Message
		case json.Unmarshal(body.Error, &plain) == nil && plain != "":
			return plain
		}
	}
	return core.Snippet(b)
}

// classify maps error responses of the data endpoint to actionable errors.
func classify(op string, r *core.Response) error {
	msg := message(r.Body)
	switch r.Status {
	case http.StatusUnauthorized:
		// Expired or otherwise refused access token: log in again.
		return &core.AuthError{Op: op, Status: r.Status, Reason: msg, Expired: true}
	case http.StatusForbidden:
		return &core.AuthError{Op: op, Status: r.Status, Reason: msg + ": the API client is not allowed to read activity logs; check its permissions in the OLOID portal"}
	case http.StatusNotFound:
		return &core.RequestError{Op: op, Status: r.Status, Reason: msg + ": no such endpoint; check oloid.base_url"}
	}
	return &core.RequestError{Op: op, Status: r.Status, Reason: msg}
}

// session holds the access token, logging in when there is none or it is
// about to expire. It is shared by every request of the source.
type session struct {
	core.TokenCache // renewed a tenth of its lifetime (at most 2 min) early
	http            *core.Requester
	base            string
	path            int // index in loginPaths of the path that answers
	clientID        string
	tenant          string
	secret          core.Secret
}

// DefaultTokenLifetime is assumed when a login response has no ExpiresIn
// (Cognito's access tokens last an hour).
const DefaultTokenLifetime = time.Hour

// loginPaths are the login paths OLOID's articles name, tried in order.
var loginPaths = [...]string{loginPath, "/Login"}

func newSession(req *core.Requester, base string, clock core.Clock, clientID, tenant string, secret core.Secret) *session {
	s := &session{http: req, base: base, clientID: clientID, tenant: tenant, secret: secret}
	s.TokenCache = core.TokenCache{Clock: clock, Fetch: s.login}
	return s
}

const opLogin = "oloid login"

// errNoSuchPath is a login answer saying the path does not exist.
var errNoSuchPath = errors.New("no such login path")

func (s *session) login(ctx context.Context) (string, time.Duration, error) {
	for range loginPaths {
		tok, life, err := s.loginAt(ctx, loginPaths[s.path])
		if !errors.Is(err, errNoSuchPath) {
			return tok, life, err
		}
		s.path = (s.path + 1) % len(loginPaths)
	}
	return "", 0, &core.RequestError{Op: opLogin, Status: http.StatusNotFound,
		Reason: fmt.Sprintf("neither %s nor %s answers: check oloid.base_url", loginPaths[0], loginPaths[1])}
}

// loginNode is any object of a login answer that may hold the tokens;
// encoding/json matches the keys whatever their case.
type loginNode struct {
	AccessToken string
	// ExpiresIn is read by reauth.Lifetime: seconds as a number, whole or
	// not, or in a string.
	ExpiresIn            any
	ChallengeName        string
	AuthenticationResult *loginNode
	CognitoToken         *loginNode
	Data                 *loginNode
}

// find returns the first node with an AccessToken, and the first challenge
// named on the way.
func (n *loginNode) find() (tok *loginNode, challenge string) {
	if n == nil {
		return nil, ""
	}
	if n.AccessToken != "" {
		return n, ""
	}
	challenge = n.ChallengeName
	for _, c := range []*loginNode{n.CognitoToken, n.AuthenticationResult, n.Data} {
		t, ch := c.find()
		if t != nil {
			return t, ""
		}
		if challenge == "" {
			challenge = ch
		}
	}
	return nil, challenge
}

func (s *session) loginAt(ctx context.Context, path string) (string, time.Duration, error) {
	payload, _ := json.Marshal(struct {
		UserName   string
		TenantName string
		Password   string
	}{s.clientID, s.tenant, s.secret.Reveal()})
	var tok string
	life := DefaultTokenLifetime
	err := s.http.Do(ctx, opLogin, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+path, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}, func(r *core.Response) error {
		msg := message(r.Body)
		switch {
		case r.Status == http.StatusOK:
		case r.Status == http.StatusNotFound,
			// API Gateway's answer for a resource it does not have.
			r.Status == http.StatusForbidden && msg == "Missing Authentication Token":
			return errNoSuchPath
		}
		switch r.Status {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
			return &core.AuthError{Op: opLogin, Status: r.Status,
				Reason: msg + ": check oloid.client_id, oloid.tenant and oloid.client_secret (the API client from OLOID's API-token settings)"}
		default:
			return &core.RequestError{Op: opLogin, Status: r.Status, Reason: msg}
		}
		// The body holds tokens: it never goes into an error message.
		var root loginNode
		if err := json.Unmarshal(r.Body, &root); err != nil {
			return &core.TransientError{Op: opLogin, Err: errors.New("unparsable login response")}
		}
		found, challenge := root.find()
		if found == nil {
			reason := "the login response holds no AccessToken"
			if challenge != "" {
				reason += fmt.Sprintf(" but a %s challenge: complete the API client's setup in the OLOID portal", challenge)
			}
			return &core.AuthError{Op: opLogin, Status: r.Status, Reason: reason}
		}
		tok = found.AccessToken
		if exp := reauth.Lifetime(found.ExpiresIn); exp > 0 {
			life = exp
		}
		return nil
	})
	return tok, life, err
}
