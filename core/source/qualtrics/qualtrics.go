// Package qualtrics reads Qualtrics activity logs with the List Events API
// (GET {base}/logs?activityType=…).
//
// What Qualtrics documents, and this source follows: the base URL is
// https://{datacenter}.qualtrics.com/API/v3; activityType is required, so
// each configured type is its own stream with its own checkpoint (the
// types are listed in activity_types, or "all" discovers them at start
// with GET /logs/activitytypes); startDate is inclusive and endDate
// exclusive, both ISO-8601 with milliseconds in UTC; order=asc; pageSize;
// the optional filters organizationId, userId, directoryId, groupId and
// contactId are passed through; further pages come from nextPage. Requests
// authenticate with an API token (X-API-TOKEN) or with an OAuth
// client-credentials token (POST /oauth2/token with HTTP Basic
// client_id:client_secret), renewed shortly before its expires_in and once
// more when the API answers 401. 429 with Retry-After is honoured.
//
// What Qualtrics does not document, and how this source copes:
//   - nextPage may be a URL or a bare token: a URL, absolute or relative
//     (resolved against the URL of the page it came with), is followed
//     only if it points at the configured scheme and host (credentials
//     never go anywhere else); a URL to another host is reduced to its
//     skipToken, sent to the configured host, and one without a skipToken
//     is an error; a bare token is sent as skipToken. A nextPage is taken
//     for a URL when it starts with a scheme, "/" or "?", or carries
//     "skipToken=".
//   - The form of an event's timestamp (the example shows
//     2020-11-13T19:13:40.793Z): every ISO-8601 date-time that names its
//     time zone is read, as RFC 3339 (Z, ±hh:mm) or with a basic offset
//     (±hhmm, ±hh). One without a zone, a number or anything else is an
//     error naming the event and what came (retried, then reported): read
//     as UTC, a local time would move events across windows by hours.
//   - How a page says it is the last: nextPage null, "" or absent ends the
//     window; a nextPage that is not a string (a number, an object) is an
//     error, retried and reported, never the end. "elements": null is a
//     page without events (the page carries no count it could hide
//     records from).
//   - How long a skipToken stays valid: it is stored in the checkpoint with
//     its window and used only with that window. If the API refuses it
//     (HTTP 400 while continuing a window), the window is read again from
//     its first page, once, with a warning: its events may then be delivered
//     twice (at-least-once), never lost.
//   - Whether skipToken is an offset (records inserted while paging would
//     then repeat the previous page's last records): a record whose id was
//     on the previous page of the same window is dropped.
//   - The shape of GET /logs/activitytypes: the types are taken from
//     result.elements (strings, or objects with activityType, name or id;
//     null is a page without types), following nextPage as List Events
//     does. A listing that has not ended after 100 pages, or whose
//     nextPage leads back to a page already read, stops the start with an
//     error saying to name the types: a listing cut short would leave the
//     types not yet listed unread, unreported.
//   - The OAuth scope: sent only when qualtrics.scope is set; without it
//     Qualtrics grants the client's own scopes.
//   - With "all", the types are listed at each start: a type that appears
//     later is read from the next start on, from initial_lookback (or
//     start_time) like any new stream. When the listing fails for a reason
//     that may pass, a poller opened with core.Options.DeferOpen (Telegraf,
//     Fluent Bit) starts without streams and lists them again from Next.
//   - Rate limits: the default budget is 600 requests per minute per API
//     host and credential, well inside Qualtrics' brand-wide limit so other
//     integrations keep their share (rate_limit overrides it).
package qualtrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
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
const Name = "qualtrics"

// Defaults.
const (
	DefaultLookback = 7 * 24 * time.Hour
	DefaultPageSize = 100
	// AllTypes in activity_types discovers the types at start.
	AllTypes  = "all"
	logsPath  = "/logs"
	typesPath = "/logs/activitytypes"
	apiPath   = "/API/v3"
	tokenPath = "/oauth2/token"
	dateFmt   = "2006-01-02T15:04:05.000Z"
)

// DefaultRate is the request budget (see the package documentation).
var DefaultRate = core.Rate{Requests: 600, Period: time.Minute}

// Settings is the `qualtrics` config section.
type Settings struct {
	Datacenter     string      `config:"datacenter" doc:"Datacenter ID from Account Settings > Qualtrics IDs (iad1, fra1, ...): the API is https://{datacenter}.qualtrics.com/API/v3. Or base_url instead." example:"iad1"`
	BaseURL        string      `config:"base_url" doc:"Overrides the datacenter's URL (a proxy, or the auditpull simulator)."`
	ActivityTypes  []string    `config:"activity_types" doc:"Activity types to read, each its own stream with its own checkpoint, or [all] for every type the brand lists." example:"all"`
	APIToken       core.Secret `config:"api_token" check:"header" doc:"An API token (sent as X-API-TOKEN), from the environment or file:/path; or an OAuth client below." example:"${QUALTRICS_API_TOKEN}"`
	ClientID       string      `config:"client_id" doc:"OAuth client id (client credentials), instead of api_token."`
	ClientSecret   core.Secret `config:"client_secret" doc:"OAuth client secret."`
	Scope          string      `config:"scope" doc:"OAuth scope requested. Default: none (the client's own)."`
	TokenURL       string      `config:"token_url" doc:"OAuth token URL. Default: /oauth2/token on the API's host."`
	OrganizationID string      `config:"organization_id" doc:"List Events filter, passed through."`
	UserID         string      `config:"user_id" doc:"List Events filter, passed through."`
	DirectoryID    string      `config:"directory_id" doc:"List Events filter, passed through."`
	GroupID        string      `config:"group_id" doc:"List Events filter, passed through."`
	ContactID      string      `config:"contact_id" doc:"List Events filter, passed through."`
}

var (
	datacenterRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)
	typeRE       = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)
)

// parsed is a checked configuration.
type parsed struct {
	*Settings
	base     *url.URL // API base, no trailing slash
	tokenURL string
	account  string // datacenter or host, for stream keys
	types    []string
	filters  [][2]string // query name, value
}

func (p *parsed) discover() bool { return len(p.types) == 1 && p.types[0] == AllTypes }

// check checks the `qualtrics` section.
func check(_ *core.Config, s *Settings) (*parsed, error) {
	p := &parsed{Settings: s}
	var base string
	switch dc := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s.Datacenter)), ".qualtrics.com"); {
	case dc != "" && s.BaseURL != "":
		return nil, &core.ConfigError{Key: "qualtrics.base_url", Msg: "give either qualtrics.datacenter or qualtrics.base_url, not both"}
	case dc != "":
		if !datacenterRE.MatchString(dc) {
			return nil, &core.ConfigError{Key: "qualtrics.datacenter", Msg: fmt.Sprintf("%q is not a datacenter ID (e.g. iad1, fra1, ca1; see Account Settings > Qualtrics IDs)", s.Datacenter)}
		}
		base, p.account = "https://"+dc+".qualtrics.com"+apiPath, dc
	case s.BaseURL != "":
		base = strings.TrimSuffix(strings.TrimRight(s.BaseURL, "/"), logsPath)
		u, err := core.CheckTokenURL("qualtrics.base_url", base)
		if err != nil {
			return nil, err
		}
		p.account = streamkey.Safe(u.Host)
	default:
		return nil, &core.ConfigError{Key: "qualtrics.datacenter", Msg: "required (or qualtrics.base_url): the datacenter ID from Account Settings > Qualtrics IDs, e.g. iad1"}
	}
	p.base, _ = url.Parse(base)

	oauth := s.ClientID != "" || s.ClientSecret.IsSet()
	switch {
	case s.APIToken.IsSet() && oauth:
		return nil, &core.ConfigError{Key: "qualtrics.api_token", Msg: "give either qualtrics.api_token or qualtrics.client_id and qualtrics.client_secret (OAuth), not both"}
	case !s.APIToken.IsSet() && !oauth:
		return nil, &core.ConfigError{Key: "qualtrics.api_token", Msg: "required: an API token (Account Settings > Qualtrics IDs), or qualtrics.client_id and qualtrics.client_secret of an OAuth client"}
	case oauth && s.ClientID == "":
		return nil, &core.ConfigError{Key: "qualtrics.client_id", Msg: "required with qualtrics.client_secret: the OAuth client's id"}
	case oauth && !s.ClientSecret.IsSet():
		return nil, &core.ConfigError{Key: "qualtrics.client_secret", Msg: "required with qualtrics.client_id: the OAuth client's secret (inline, env:NAME or file:/path)"}
	case !oauth && s.Scope != "":
		return nil, &core.ConfigError{Key: "qualtrics.scope", Msg: "applies to OAuth only (qualtrics.client_id and qualtrics.client_secret)"}
	case !oauth && s.TokenURL != "":
		return nil, &core.ConfigError{Key: "qualtrics.token_url", Msg: "applies to OAuth only (qualtrics.client_id and qualtrics.client_secret)"}
	}
	if oauth {
		p.tokenURL = strings.TrimSuffix(base, apiPath) + tokenPath
		if s.TokenURL != "" {
			if _, err := core.CheckTokenURL("qualtrics.token_url", s.TokenURL); err != nil {
				return nil, err
			}
			p.tokenURL = s.TokenURL
		}
	}

	if len(s.ActivityTypes) == 0 {
		return nil, &core.ConfigError{Key: "qualtrics.activity_types", Msg: `required: the activity types to read (each is its own stream), or ["all"] to read every type the brand lists`}
	}
	seen := map[string]bool{}
	for i, t := range s.ActivityTypes {
		key := fmt.Sprintf("qualtrics.activity_types.%d", i)
		switch {
		case t == AllTypes && len(s.ActivityTypes) > 1:
			return nil, &core.ConfigError{Key: key, Msg: `"all" reads every type and cannot be combined with others`}
		case !typeRE.MatchString(t):
			return nil, &core.ConfigError{Key: key, Msg: fmt.Sprintf("%q is not an activity type (see GET /logs/activitytypes, or use \"all\")", t)}
		case seen[t]:
			return nil, &core.ConfigError{Key: key, Msg: fmt.Sprintf("%q is listed twice", t)}
		}
		seen[t] = true
		p.types = append(p.types, t)
	}
	for _, f := range []struct{ key, param, v string }{
		{"organization_id", "organizationId", s.OrganizationID}, {"user_id", "userId", s.UserID},
		{"directory_id", "directoryId", s.DirectoryID}, {"group_id", "groupId", s.GroupID},
		{"contact_id", "contactId", s.ContactID},
	} {
		if v := strings.TrimSpace(f.v); v != "" {
			if strings.ContainsAny(v, " \t\r\n") {
				return nil, &core.ConfigError{Key: "qualtrics." + f.key, Msg: fmt.Sprintf("%q is not an id", f.v)}
			}
			p.filters = append(p.filters, [2]string{f.param, v})
		}
	}
	return p, nil
}

func init() {
	core.RegisterTyped(Name, "Qualtrics List Events. Each activity type is its own stream with its own checkpoint.", check, open)
}

// open builds one source per activity type; "all" lists them first.
func open(ctx context.Context, env core.SourceEnv, p *parsed) ([]core.Source, error) {
	cred := p.APIToken.Reveal()
	if p.ClientID != "" {
		cred = "oauth:" + p.ClientID
	}
	req, err := env.Requester(DefaultRate, core.LimiterKey(p.base.Host, cred))
	if err != nil {
		return nil, err
	}
	log := env.Logger
	a := &auth{apiToken: p.APIToken}
	if p.ClientID != "" {
		a.oauth = &oauth{http: req, url: p.tokenURL, clientID: p.ClientID, secret: p.ClientSecret, scope: p.Scope}
		a.oauth.TokenCache = core.TokenCache{Clock: env.Clock, Fetch: a.oauth.request}
	}
	c := &client{http: req, auth: a, base: p.base, log: log, renewal: reauth.Renewal{
		Log: log, Note: "Qualtrics refused the OAuth access token; requesting a new one", Drop: a.drop,
		Hint: func(string) string {
			return "a freshly issued OAuth token was refused too; check the OAuth client's scopes and its user's permissions"
		},
	}}
	types := p.types
	if p.discover() {
		if types, err = c.activityTypes(ctx); err != nil {
			return nil, err
		}
		log.Info("qualtrics activity types discovered", "types", strings.Join(types, ","))
	}
	pageSize := env.PageSize(DefaultPageSize)
	suffix := ""
	if len(p.filters) > 0 {
		var b strings.Builder
		for _, f := range p.filters {
			b.WriteString(f[0] + "=" + f[1] + "&")
		}
		suffix = streamkey.Digest([]byte(b.String()))
	}
	out := make([]core.Source, 0, len(types))
	for _, t := range types {
		out = append(out, &Source{
			client:   c,
			typ:      t,
			pageSize: pageSize,
			filters:  p.filters,
			pages:    tokenpage.Reader{Log: log, Refused: "Qualtrics refused the stored nextPage", Attrs: []any{"activity_type", t}},
			info: core.SourceInfo{
				Source:          Name,
				Stream:          Name + "-" + p.account + "-" + streamkey.Safe(t) + suffix,
				Sub:             streamkey.Safe(t),
				DefaultLookback: DefaultLookback,
				Precision:       time.Millisecond,
			},
		})
	}
	return out, nil
}

// client is what the sources of one configuration share: transport,
// credentials and the API's base URL.
type client struct {
	http    *core.Requester
	auth    *auth
	renewal reauth.Renewal
	base    *url.URL
	log     core.Logger
}

// Source reads one activity type; it implements core.Source.
type Source struct {
	*client
	typ      string
	pageSize int
	filters  [][2]string
	pages    tokenpage.Reader
	info     core.SourceInfo
}

// Info describes the API's rules to the planner.
func (s *Source) Info() core.SourceInfo { return s.info }

// ActivityType is the type this source reads.
func (s *Source) ActivityType() string { return s.typ }

const opLogs = "qualtrics list events"

// Fetch reads one page of the window [q.From, q.To) (see tokenpage.Reader).
func (s *Source) Fetch(ctx context.Context, q core.Query) (core.Page, error) {
	return s.pages.Fetch(ctx, q, func(ctx context.Context, cursor string) (core.Page, error) {
		return s.fetch(ctx, q, cursor)
	})
}

func (s *Source) fetch(ctx context.Context, q core.Query, cursor string) (core.Page, error) {
	u, err := s.pageURL(q, cursor)
	if err != nil {
		return core.Page{}, err
	}
	var out core.Page
	err = s.get(ctx, opLogs, u, func(body []byte) error {
		p, err := s.decodePage(body)
		if err != nil {
			return err
		}
		out = p
		return nil
	})
	return out, err
}

// firstURL is the window's first page.
func (s *Source) firstURL(q core.Query) url.Values {
	v := url.Values{}
	v.Set("activityType", s.typ)
	v.Set("startDate", q.From.UTC().Format(dateFmt))
	v.Set("endDate", q.To.UTC().Format(dateFmt))
	v.Set("order", "asc")
	size := s.pageSize
	if q.To.Sub(q.From) <= time.Millisecond {
		// One millisecond: the core reads a run of one timestamp that a
		// page boundary split again by itself, whole where it fits a page.
		size = max(size, DefaultPageSize)
	}
	v.Set("pageSize", fmt.Sprint(size))
	for _, f := range s.filters {
		v.Set(f[0], f[1])
	}
	return v
}

// pageURL turns the stored cursor (a nextPage value) into the next request.
func (s *Source) pageURL(q core.Query, cursor string) (string, error) {
	endpoint := s.base.String() + logsPath
	v := s.firstURL(q)
	if cursor == "" {
		return endpoint + "?" + v.Encode(), nil
	}
	return s.follow(opLogs, endpoint, v, cursor)
}

// follow turns a nextPage into the URL of the next request to endpoint,
// the URL (without query) of the page it came with; v is the query a bare
// skipToken is sent with. A URL, absolute or relative to endpoint, is
// followed as it is if it points at the configured scheme and host, so
// that credentials never go anywhere else; one pointing elsewhere is
// reduced to its skipToken.
func (c *client) follow(op, endpoint string, v url.Values, next string) (string, error) {
	if !isURL(next) {
		v.Set("skipToken", next)
		return endpoint + "?" + v.Encode(), nil
	}
	base, _ := url.Parse(endpoint)
	ref, err := url.Parse(next)
	if err != nil {
		return "", &core.RequestError{Op: op, Status: http.StatusOK, Reason: "nextPage is not a URL: " + core.Snippet([]byte(next))}
	}
	u := base.ResolveReference(ref)
	if u.Scheme == c.base.Scheme && strings.EqualFold(u.Host, c.base.Host) {
		return u.String(), nil
	}
	tok := u.Query().Get("skipToken")
	if tok == "" {
		return "", &core.RequestError{Op: op, Status: http.StatusOK,
			Reason: fmt.Sprintf("nextPage points to %s://%s, not the configured API host, and carries no skipToken; credentials are not sent there", u.Scheme, u.Host)}
	}
	c.log.Debug("nextPage points to another host; sending its skipToken to the configured host", "host", u.Host)
	v.Set("skipToken", tok)
	return endpoint + "?" + v.Encode(), nil
}

// isURL tells a nextPage that is a URL, absolute or relative
// ("/API/v3/logs?…&skipToken=…", "?skipToken=…"), from a bare skipToken,
// which is opaque but never has a path or a query of its own.
func isURL(next string) bool {
	return strings.HasPrefix(next, "https://") || strings.HasPrefix(next, "http://") ||
		strings.HasPrefix(next, "/") || strings.HasPrefix(next, "?") || strings.Contains(next, "skipToken=")
}

// decodePage reads one List Events response in a single pass; see
// jsonscan.Scanner. The first of repeated keys counts, as with a lookup by
// path. elements null is a page without events.
func (s *Source) decodePage(b []byte) (core.Page, error) {
	page := core.Page{Total: -1}
	var found jsonpage.Found
	err := jsonpage.ParsePage(b, func(sc *jsonscan.Scanner) error {
		return sc.FirstMembers([]string{"result"}, func(int) error {
			return sc.FirstMembers([]string{"elements", "nextPage"}, func(i int) (err error) {
				if i == 1 {
					page.Next, err = jsonpage.Token(sc, "nextPage")
					return err
				}
				page.Events, found, err = jsonpage.Events(sc, "event", s.decodeEvent)
				return err
			})
		})
	})
	switch {
	case err != nil:
		return core.Page{}, err
	case found == jsonpage.Missing:
		return core.Page{}, fmt.Errorf("response has no result.elements array: %s", core.Snippet(b))
	}
	return page, nil
}

func (s *Source) decodeEvent(sc *jsonscan.Scanner) (core.Event, error) {
	start := sc.Mark()
	var id, ts, userID, username string
	err := sc.Object(func(k string) (err error) {
		switch k {
		case "id":
			id, err = sc.Text()
		case "timestamp":
			ts, err = sc.Text()
		case "descriptor":
			userID, username = "", ""
			err = jsonpage.Texts(sc, []string{"userId", "username"}, &userID, &username)
		default:
			err = sc.Skip()
		}
		return err
	})
	if err != nil {
		return core.Event{}, err
	}
	raw := sc.Since(start)
	if id == "" {
		return core.Event{}, fmt.Errorf("event without an id: %s", core.Snippet(raw))
	}
	t, err := eventTime(ts)
	if err != nil {
		return core.Event{}, fmt.Errorf("event %q: %w", id, err)
	}
	e := core.Event{ID: id, Time: t, Type: s.typ, Raw: raw, User: core.Fields("user_id", userID, "username", username)}
	return e, nil
}

// zoned are the layouts of an ISO-8601 date-time with a time zone: RFC
// 3339 (Z or ±hh:mm), then the basic offsets ±hhmm and ±hh. Fractional
// seconds are read with each.
var zoned = []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05Z07"}

// eventTime reads an event's timestamp. Qualtrics shows
// "2020-11-13T19:13:40.793Z" and says ISO-8601, which allows more than
// RFC 3339: every form that names its time zone is read. One that names
// none is local time of an unknown place, and reading it as UTC would be a
// guess that moves events across windows by hours: it is an error, as is
// anything else, naming what came.
func eventTime(ts string) (time.Time, error) {
	for _, layout := range zoned {
		if t, err := time.Parse(layout, ts); err == nil {
			return t.UTC(), nil
		}
	}
	if _, err := time.Parse("2006-01-02T15:04:05", ts); err == nil {
		return time.Time{}, fmt.Errorf("timestamp %q has no time zone: reading it as UTC would be a guess", ts)
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not an ISO-8601 date-time with a time zone, such as 2020-11-13T19:13:40.793Z", ts)
}

// maxTypePages bounds the activity-type listing: a brand's types fit on a
// page or two, so a listing still going after this many pages is broken.
const maxTypePages = 100

// activityTypes lists the brand's activity types (GET /logs/activitytypes),
// following nextPage like List Events does. A listing that does not end,
// or comes back to a page already read, is an error: stopping there would
// leave the types not yet listed unread without a word.
func (c *client) activityTypes(ctx context.Context) ([]string, error) {
	const op = "qualtrics list activity types"
	next := c.base.String() + typesPath
	var types []string
	read := map[string]bool{}
	for len(read) < maxTypePages {
		read[next] = true
		var nextPage string
		err := c.get(ctx, op, next, func(b []byte) error {
			// A short list read once at start: encoding/json, not the
			// page decoder's scanner.
			var r struct {
				Result struct {
					Elements json.RawMessage `json:"elements"`
					NextPage any             `json:"nextPage"`
				} `json:"result"`
			}
			if err := json.Unmarshal(b, &r); err != nil {
				return fmt.Errorf("unparsable response: %s", core.Snippet(b))
			}
			var elements []json.RawMessage
			if r.Result.Elements == nil || json.Unmarshal(r.Result.Elements, &elements) != nil {
				return fmt.Errorf("response has no result.elements array: %s", core.Snippet(b))
			}
			for _, e := range elements {
				if name := typeName(e); name != "" && !slices.Contains(types, name) {
					types = append(types, name)
				}
			}
			switch v := r.Result.NextPage.(type) {
			case nil:
			case string:
				nextPage = v
			default:
				return fmt.Errorf("nextPage is not a string: %s", jsonText(v))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if nextPage == "" {
			if len(types) == 0 {
				return nil, &core.RequestError{Op: op, Status: http.StatusOK, Reason: `the brand lists no activity types; name them in qualtrics.activity_types instead of "all"`}
			}
			slices.Sort(types)
			return types, nil
		}
		if next, err = c.follow(op, c.base.String()+typesPath, url.Values{}, nextPage); err != nil {
			return nil, err
		}
		if read[next] {
			return nil, &core.RequestError{Op: op, Status: http.StatusOK,
				Reason: `the activity-type listing's nextPage leads back to a page already read; name the types in qualtrics.activity_types instead of "all"`}
		}
	}
	return nil, &core.RequestError{Op: op, Status: http.StatusOK,
		Reason: fmt.Sprintf(`the activity-type listing did not end after %d pages (%d types so far); name the types in qualtrics.activity_types instead of "all"`, maxTypePages, len(types))}
}

// get sends an authenticated GET and hands a 200 body to use; a token
// refused as expired is renewed once.
func (c *client) get(ctx context.Context, op, u string, use func([]byte) error) error {
	_, err := reauth.Once(c.renewal, func() (struct{}, string, error) {
		name, value, err := c.auth.header(ctx)
		if err != nil {
			return struct{}{}, "", err
		}
		return struct{}{}, value, c.http.Do(ctx, op, func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set(name, value)
			req.Header.Set("Accept", "application/json")
			return req, nil
		}, func(r *core.Response) error {
			if r.Status != http.StatusOK {
				return c.classify(op, r)
			}
			if err := use(r.Body); err != nil {
				return &core.TransientError{Op: op, Err: err}
			}
			return nil
		})
	})
	return err
}

// typeName is an activity type as the list gives it: a string, or an
// object naming it by activityType, name or id.
func typeName(e json.RawMessage) string {
	var name string
	if json.Unmarshal(e, &name) == nil {
		return name
	}
	var o map[string]any
	if json.Unmarshal(e, &o) != nil {
		return ""
	}
	for _, k := range []string{"activityType", "name", "id"} {
		if s, _ := o[k].(string); s != "" {
			return s
		}
	}
	return ""
}

// errorMessage is Qualtrics' meta.error.errorMessage (with its code).
func errorMessage(b []byte) string {
	var r struct {
		Meta struct {
			Error struct {
				Message any `json:"errorMessage"`
				Code    any `json:"errorCode"`
			} `json:"error"`
		} `json:"meta"`
	}
	_ = json.Unmarshal(b, &r)
	m := jsonText(r.Meta.Error.Message)
	if m == "" {
		return core.Snippet(b)
	}
	if code := jsonText(r.Meta.Error.Code); code != "" {
		m += " (" + code + ")"
	}
	return m
}

// jsonText renders a decoded JSON scalar as text ("" for null or absent).
func jsonText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// classify maps error responses to actionable errors.
func (c *client) classify(op string, r *core.Response) error {
	msg := errorMessage(r.Body)
	switch r.Status {
	case http.StatusUnauthorized:
		if c.auth.oauth != nil {
			return &core.AuthError{Op: op, Status: r.Status, Reason: msg, Expired: true}
		}
		return &core.AuthError{Op: op, Status: r.Status, Reason: msg + ": the API token is not valid (regenerated or revoked?); set qualtrics.api_token from Account Settings > Qualtrics IDs"}
	case http.StatusForbidden:
		return &core.AuthError{Op: op, Status: r.Status, Reason: msg + ": the Qualtrics user (or OAuth client) may not read activity logs; a Brand Administrator must grant access to the activity logs"}
	case http.StatusNotFound:
		return &core.RequestError{Op: op, Status: r.Status, Reason: msg + ": no such endpoint; check qualtrics.datacenter or qualtrics.base_url"}
	case http.StatusBadRequest:
		if strings.Contains(strings.ToLower(msg), "activitytype") {
			msg += ": check qualtrics.activity_types"
		}
	}
	return &core.RequestError{Op: op, Status: r.Status, Reason: msg}
}

// auth supplies the credential header of each request.
type auth struct {
	apiToken core.Secret
	oauth    *oauth
}

func (a *auth) header(ctx context.Context) (string, string, error) {
	if a.oauth == nil {
		return "X-API-TOKEN", a.apiToken.Reveal(), nil
	}
	tok, err := a.oauth.Token(ctx)
	if err != nil {
		return "", "", err
	}
	return "Authorization", "Bearer " + tok, nil
}

// drop forgets the OAuth token in value, if it is still the current one.
func (a *auth) drop(value string) {
	if a.oauth != nil {
		a.oauth.Drop(strings.TrimPrefix(value, "Bearer "))
	}
}

// oauth holds a client-credentials access token, requesting a new one when
// there is none or it is about to expire.
type oauth struct {
	core.TokenCache // renewed a tenth of its lifetime (at most 2 min) early
	http            *core.Requester
	url             string
	clientID        string
	secret          core.Secret
	scope           string
}

const opToken = "qualtrics oauth token"

// DefaultTokenLifetime is assumed when a token response has no expires_in.
const DefaultTokenLifetime = time.Hour

func (o *oauth) request(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if o.scope != "" {
		form.Set("scope", o.scope)
	}
	body := form.Encode()
	var tok string
	life := DefaultTokenLifetime
	err := o.http.Do(ctx, opToken, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(o.clientID, o.secret.Reveal())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}, func(r *core.Response) error {
		// The OAuth answers are read once an hour: encoding/json.
		var ans struct {
			Error       any `json:"error"`
			Description any `json:"error_description"`
			AccessToken any `json:"access_token"`
			TokenType   any `json:"token_type"`
			ExpiresIn   any `json:"expires_in"`
		}
		valid := json.Unmarshal(r.Body, &ans) == nil
		if r.Status != http.StatusOK {
			code := jsonText(ans.Error)
			msg := code
			if d := jsonText(ans.Description); d != "" {
				msg += ": " + d
			}
			if msg == "" {
				msg = core.Snippet(r.Body)
			}
			switch {
			case code == "invalid_client" || r.Status == http.StatusUnauthorized:
				return &core.AuthError{Op: opToken, Status: r.Status, Reason: msg + ": check qualtrics.client_id and qualtrics.client_secret (the client may have been deleted)"}
			case code == "invalid_scope":
				return &core.AuthError{Op: opToken, Status: r.Status, Reason: msg + ": check qualtrics.scope against the scopes granted to the OAuth client"}
			case r.Status == http.StatusNotFound:
				return &core.RequestError{Op: opToken, Status: r.Status, Reason: msg + ": no token endpoint; check qualtrics.token_url"}
			case r.Status == http.StatusBadRequest || r.Status == http.StatusForbidden:
				return &core.AuthError{Op: opToken, Status: r.Status, Reason: msg}
			}
			return &core.RequestError{Op: opToken, Status: r.Status, Reason: msg}
		}
		// The body holds the token: it never goes into an error message.
		if !valid {
			return &core.TransientError{Op: opToken, Err: errors.New("unparsable token response")}
		}
		at, _ := ans.AccessToken.(string)
		if at == "" {
			return &core.TransientError{Op: opToken, Err: errors.New("token response without access_token")}
		}
		if tt := jsonText(ans.TokenType); tt != "" && !strings.EqualFold(tt, "bearer") {
			return &core.RequestError{Op: opToken, Status: r.Status, Reason: fmt.Sprintf("token_type %q is not bearer", tt)}
		}
		tok = at
		if exp := reauth.Lifetime(ans.ExpiresIn); exp > 0 {
			life = exp
		}
		return nil
	})
	return tok, life, err
}
