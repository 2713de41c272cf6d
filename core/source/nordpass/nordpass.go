// Package nordpass reads the NordPass Enterprise Activity Logs API
// (POST /activities/query). The rules it follows are the vendor's:
// Unix-second bounds, at most 90 days per request, pages of 1–100 numbered
// over a newest-first result, only the 10,000 most recent records reachable
// per query, user_uuids in groups of at most 500, and 2000 requests per 5
// minutes per IP: one budget per API host in a process, whatever the token.
//
// Where the document is silent, see package pagenum; in short:
//   - The timestamp unit: the document shows `"timestamp": integer` and
//     names no unit. Assumed: Unix seconds, in timestamp_from and
//     timestamp_to as in the records. Detected: a record whose timestamp is
//     too large to be seconds is read as milliseconds (an API answering a
//     query in seconds with records in milliseconds); anything larger still
//     is an error. Not detectable: an API reading its filters in
//     milliseconds as well would take the seconds sent for January 1970 and
//     answer every window with nothing, which no answer tells apart from a
//     quiet organisation.
//   - The page size served: pages are counted in metadata.per_page, the
//     size the API says it serves, which may be fewer than asked; a page
//     that cannot be counted (short of its size while metadata.total says
//     more follow, with no per_page) is an error, not a guess.
//   - metadata.total absent, null or not a count, and "data": null where
//     metadata.total counts records on the page, are errors (retried and
//     reported), never a last page; "data": null on a page that holds no
//     records is an empty page.
package nordpass

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/source/internal/jsonpage"
	"github.com/auditpull/auditpull/core/source/internal/pagenum"
	"github.com/auditpull/auditpull/core/source/internal/streamkey"
	"github.com/auditpull/auditpull/internal/jsonscan"
)

// Name is the source's registered name.
const Name = "nordpass"

// Documented limits.
const (
	MaxSpan         = pagenum.MaxSpan
	DefaultLookback = 7 * 24 * time.Hour
	Cap             = pagenum.Cap
	MaxPerPage      = pagenum.MaxPerPage
	MaxUUIDs        = 500
	queryPath       = "/activities/query"
)

// DefaultRate is the documented budget: 2000 requests per 5 minutes per IP.
var DefaultRate = pagenum.Rate

var regions = map[string]string{
	"eu": "https://api-activities.eu.nordpass.com",
	"us": "https://api-activities.us.nordpass.com",
}

// Settings is the `nordpass` config section.
type Settings struct {
	Region    string      `config:"region" default:"eu" enum:"eu,us" doc:"The NordPass data center of the organization."`
	BaseURL   string      `config:"base_url" doc:"Overrides the region's API URL (a proxy, or the auditpull simulator). Tokens are sent only over https, except to loopback addresses." example:"https://api-activities.eu.nordpass.com"`
	Token     core.Secret `config:"token" required:"true" check:"header" doc:"The API token created in the NordPass Business Admin Panel, sent as the Authorization header without Bearer. Give it from the environment or a file (file:/path) rather than inline." example:"${NORDPASS_TOKEN}"`
	UserUUIDs []string    `config:"user_uuids" doc:"Read only these members' activity (any number of user UUIDs; sent in groups of 500)."`
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// parsed is a checked configuration.
type parsed struct {
	*Settings
	base string // the API's URL, without the endpoint's path
	host string // its host and path, for the rate budget and stream names
}

// check checks the `nordpass` section (and page_size).
func check(cfg *core.Config, s *Settings) (*parsed, error) {
	base, ok := regions[s.Region]
	if !ok {
		return nil, &core.ConfigError{Key: "nordpass.region", Msg: fmt.Sprintf("unknown region %q; one of \"eu\", \"us\"", s.Region)}
	}
	if s.BaseURL != "" {
		base = strings.TrimRight(s.BaseURL, "/")
		base = strings.TrimSuffix(base, queryPath)
	}
	u, err := core.CheckTokenURL("nordpass.base_url", base)
	if err != nil {
		return nil, err
	}
	if !s.Token.IsSet() {
		return nil, &core.ConfigError{Key: "nordpass.token", Msg: "required: the API token from the Business Admin Panel (inline, ${ENV_VAR} or file:/path)"}
	}
	if strings.HasPrefix(strings.ToLower(s.Token.Reveal()), "bearer ") {
		return nil, &core.ConfigError{Key: "nordpass.token", Msg: "give the token alone, without \"Bearer \": NordPass expects it as the whole Authorization header"}
	}
	for i, u := range s.UserUUIDs {
		if !uuidRE.MatchString(u) {
			return nil, &core.ConfigError{Key: fmt.Sprintf("nordpass.user_uuids.%d", i), Msg: fmt.Sprintf("%q is not a UUID", u)}
		}
	}
	if err := pagenum.CheckLimits(cfg, "NordPass"); err != nil {
		return nil, err
	}
	return &parsed{Settings: s, base: base, host: streamkey.Host(u)}, nil
}

func init() {
	core.RegisterTyped(Name, "NordPass Enterprise Activity Logs API.", check, open)
}

// Source implements core.Source.
type Source struct {
	api    pagenum.Endpoint
	token  core.Secret
	groups [][]string
	// groupOf is one more than the group of each user UUID (lower case),
	// when there are several groups.
	groupOf map[string]int
	info    core.SourceInfo
}

// open builds the source.
func open(_ context.Context, env core.SourceEnv, p *parsed) ([]core.Source, error) {
	host := p.host
	// "per IP address": every token this process uses shares the budget.
	req, err := env.Requester(DefaultRate, core.LimiterKey(host, ""))
	if err != nil {
		return nil, err
	}
	perPage := env.PageSize(MaxPerPage)
	uuids := slices.Clone(p.UserUUIDs)
	slices.Sort(uuids)
	uuids = slices.Compact(uuids)
	var groups [][]string
	var groupOf map[string]int
	for len(uuids) > 0 {
		n := min(MaxUUIDs, len(uuids))
		groups = append(groups, uuids[:n])
		uuids = uuids[n:]
	}
	if len(groups) > 1 {
		groupOf = map[string]int{}
		for i, g := range groups {
			for _, u := range g {
				groupOf[strings.ToLower(u)] = i + 1
			}
		}
	}
	return []core.Source{&Source{
		api: pagenum.Endpoint{
			HTTP: req, URL: p.base + queryPath, Op: "nordpass activities query", Source: Name,
			PerPage: perPage, Cap: Cap, Decode: decodePage, Classify: classify,
		},
		token:   p.Token,
		groups:  groups,
		groupOf: groupOf,
		info: core.SourceInfo{
			Source:          Name,
			Stream:          streamKey(p.Settings, host),
			MaxSpan:         pagenum.MaxWindow(MaxSpan),
			DefaultLookback: DefaultLookback,
			Precision:       time.Second,
			Cap:             pagenum.Reachable(Cap, perPage),
			Partitions:      max(1, len(groups)),
			PageNumbered:    true,
			ContentIDs:      true,
		},
	}}, nil
}

// streamKey names the default checkpoint: region (or host) and, when the
// logs are filtered, a hash of the filter so two filtered inputs differ.
// The host is not made safe with streamkey.Safe, which folds characters
// differently: existing checkpoints keep their names.
func streamKey(s *Settings, host string) string {
	acct := s.Region
	if s.BaseURL != "" {
		acct = strings.NewReplacer(":", "_", "/", "_").Replace(host)
	}
	key := Name + "-" + acct
	if len(s.UserUUIDs) > 0 {
		u := slices.Clone(s.UserUUIDs)
		slices.Sort(u)
		key += streamkey.Digest([]byte(strings.Join(slices.Compact(u), ",")))
	}
	return key
}

func (s *Source) Info() core.SourceInfo { return s.info }

type request struct {
	From      int64    `json:"timestamp_from"`
	To        int64    `json:"timestamp_to"`
	UserUUIDs []string `json:"user_uuids,omitempty"`
	PerPage   int      `json:"per_page"`
	Page      int      `json:"page"`
}

// Fetch reads one page of the window (see pagenum.Endpoint).
func (s *Source) Fetch(ctx context.Context, q core.Query) (core.Page, error) {
	page, err := s.fetch(ctx, q)
	if s.groupOf != nil {
		for i := range page.Events {
			s.markOtherGroup(&page.Events[i], q.Partition)
		}
	}
	return page, err
}

// markOtherGroup sets e.AlsoIn when e's user and its initiator are in
// different groups of user_uuids. NordPass does not say whether the filter
// matches a record's user alone, or its initiator (an admin acting on a
// member) too, or the one who acted: such a record may come from either
// group's query, or from both.
func (s *Source) markOtherGroup(e *core.Event, part int) {
	var user, initiator string
	for _, f := range e.User {
		if f.Name == "user_uuid" {
			user = f.Value
		}
	}
	_ = jsonscan.Scan(e.Raw, func(sc *jsonscan.Scanner) error {
		return sc.Object(func(k string) error {
			if k != "initiator" || sc.Kind() != '{' {
				return sc.Skip()
			}
			return sc.Object(func(k string) (err error) {
				if k == "uuid" {
					initiator, err = sc.OptStr()
					return err
				}
				return sc.Skip()
			})
		})
	})
	g, h := s.groupOf[strings.ToLower(user)], s.groupOf[strings.ToLower(initiator)]
	switch {
	case g == 0 || h == 0 || g == h:
	case g == part+1:
		e.AlsoIn = h
	case h == part+1:
		e.AlsoIn = g
	}
}

func (s *Source) fetch(ctx context.Context, q core.Query) (core.Page, error) {
	return s.api.Fetch(ctx, q, func(r pagenum.Request) any {
		body := request{From: r.From, To: r.To, PerPage: r.PerPage, Page: r.Page}
		if len(s.groups) > 0 {
			body.UserUUIDs = s.groups[q.Partition]
		}
		return body
	}, func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", s.token.Reveal())
		return nil
	})
}

// decodePage reads one response in a single pass; see jsonscan.Scanner.
func decodePage(b []byte) (jsonpage.Data, error) { return pagenum.DecodeData(b, "event", decodeEvent) }

// decodeEvent takes the fields the core needs as it reads the event (an
// object) and hashes the record's canonical fields into its id: NordPass
// events carry no id, and two genuine events can be identical, so this id
// is not unique — the core counts copies per id instead of keeping a set.
func decodeEvent(s *jsonscan.Scanner) (core.Event, error) {
	start := s.Mark()
	var typ, action, org, uuid, email, initiator, metadata string
	var ts int64
	str := func(dst *string) (err error) {
		*dst, err = s.OptStr()
		return err
	}
	err := s.Object(func(k string) (err error) {
		switch k {
		case "type":
			return str(&typ)
		case "action":
			return str(&action)
		case "timestamp":
			ts, _, err = s.Int()
			return err
		case "organization_uuid":
			return str(&org)
		case "user":
			if s.Kind() != '{' {
				return s.Skip()
			}
			return s.Object(func(k string) error {
				switch k {
				case "uuid":
					return str(&uuid)
				case "email":
					return str(&email)
				}
				return s.Skip()
			})
		case "initiator":
			initiator, err = s.Compact()
			return err
		case "metadata":
			metadata, err = s.Compact()
			return err
		}
		return s.Skip()
	})
	if err != nil {
		return core.Event{}, err
	}
	var buf [512]byte
	key := buf[:0]
	for _, f := range []string{typ, action, org, uuid, email, initiator, metadata} {
		key = append(append(key, f...), 0)
	}
	e, err := pagenum.Record(s, start, "event", ts, strconv.AppendInt(key, ts, 10))
	if err != nil {
		return core.Event{}, err
	}
	e.Type, e.Action, e.User = typ, action, core.Fields("user_uuid", uuid, "user_email", email)
	return e, nil
}

// classify maps the documented error responses to actionable errors; to is
// the request's timestamp_to.
func classify(r *core.Response, to int64) error {
	op := "nordpass activities query"
	msg, _ := pagenum.Message(r.Body)
	switch r.Status {
	case http.StatusUnauthorized:
		return &core.AuthError{Op: op, Status: r.Status, Reason: msg + ": the Authorization header is missing; set nordpass.token"}
	case http.StatusForbidden:
		switch {
		case strings.Contains(msg, "token introspection failed"):
			return &core.AuthError{Op: op, Status: r.Status, Reason: msg + ": the token has expired or was revoked; generate a new one in the Business Admin Panel", Expired: true}
		case strings.Contains(msg, "invalid token"):
			return &core.AuthError{Op: op, Status: r.Status, Reason: msg + ": the token is not valid; check nordpass.token and nordpass.region"}
		case strings.Contains(msg, "organization UUID exchange failed"):
			return &core.AuthError{Op: op, Status: r.Status, Reason: msg + ": the organization is no longer active in NordPass"}
		}
		return &core.AuthError{Op: op, Status: r.Status, Reason: msg}
	case http.StatusBadRequest:
		return pagenum.BadRequest(op, r, to)
	}
	return &core.RequestError{Op: op, Status: r.Status, Reason: msg}
}
