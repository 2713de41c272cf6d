package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// npMeta is the shape of an action's metadata.
type npMeta int

const (
	metaEmpty       npMeta = iota // []
	metaClient                    // which app was used
	metaItem                      // which vault item
	metaShare                     // item, with whom, which rights
	metaRole                      // role change
	metaPolicy                    // organization policy
	metaIntegration               // which integration
)

// npAction is one entry of the event mix. The categories are those of the
// NordPass Activity Log guide; the action names are the simulator's own
// (the API documentation does not list them).
type npAction struct {
	typ, action string
	weight      int    // relative frequency, per mille
	initiator   bool   // an admin acted on the user: initiator is set
	admin       bool   // only admins perform it
	msp         bool   // MSP staff sometimes perform it for the organization
	meta        npMeta // metadata shape
}

var npActions = []npAction{
	{typ: "item_access", action: "item_used", weight: 300, meta: metaItem},
	{typ: "app_access", action: "app_login", weight: 160, meta: metaClient},
	{typ: "app_access", action: "app_logout", weight: 70, meta: metaClient},
	{typ: "item_access", action: "item_created", weight: 60, meta: metaItem},
	{typ: "item_access", action: "item_updated", weight: 50, meta: metaItem},
	{typ: "item_sharing", action: "item_shared", weight: 45, meta: metaShare},
	{typ: "app_access", action: "admin_panel_login", weight: 40, admin: true},
	{typ: "item_deletion", action: "item_deleted", weight: 30, meta: metaItem},
	{typ: "business_account", action: "login_failed", weight: 25, meta: metaClient},
	{typ: "item_sharing", action: "item_sharing_revoked", weight: 12, meta: metaShare},
	{typ: "invites", action: "invite_sent", weight: 10, initiator: true, msp: true},
	{typ: "item_sharing", action: "item_sharing_rights_changed", weight: 8, meta: metaShare},
	{typ: "invites", action: "invite_accepted", weight: 8},
	{typ: "business_account", action: "mfa_enabled", weight: 6},
	{typ: "integrations", action: "integration_synced", weight: 5, admin: true, meta: metaIntegration},
	{typ: "item_sharing", action: "item_owner_changed", weight: 4, meta: metaShare},
	{typ: "member_management", action: "member_role_changed", weight: 4, initiator: true, msp: true, meta: metaRole},
	{typ: "business_account", action: "master_password_changed", weight: 3},
	{typ: "item_deletion", action: "item_restored", weight: 3, meta: metaItem},
	{typ: "member_management", action: "member_suspended", weight: 3, initiator: true, msp: true},
	{typ: "organization_settings", action: "policy_enabled", weight: 3, admin: true, msp: true, meta: metaPolicy},
	{typ: "business_account", action: "mfa_disabled", weight: 2},
	{typ: "member_management", action: "member_unsuspended", weight: 2, initiator: true, msp: true},
	{typ: "member_management", action: "member_deleted", weight: 2, initiator: true, msp: true},
	{typ: "organization_settings", action: "policy_disabled", weight: 2, admin: true, msp: true, meta: metaPolicy},
	{typ: "invites", action: "invite_declined", weight: 1},
	{typ: "integrations", action: "integration_connected", weight: 1, admin: true, meta: metaIntegration},
}

var (
	firstNames = []string{"anna", "ben", "carla", "dovydas", "emma", "felix", "greta", "hugo", "ines", "jonas",
		"karin", "liam", "marta", "noah", "olga", "paul", "queenie", "rasa", "sam", "tomas"}
	lastNames = []string{"adams", "baker", "jonaitis", "diaz", "evans", "fischer", "garcia", "hansen", "ivanova",
		"kazlauskas", "lopez", "martin", "nowak", "olsen", "petrov", "quinn", "rossi", "schmidt", "tan", "weber"}
	itemTypes   = []string{"password", "password", "password", "secure_note", "credit_card", "personal_info", "passkey", "file"}
	clients     = []string{"browser_extension", "browser_extension", "desktop_app", "web_vault", "mobile_app"}
	rights      = []string{"read", "read", "edit", "owner"}
	roles       = []string{"user", "admin", "owner"}
	policies    = []string{"password_policy", "sharing_restrictions", "mfa_enforcement", "autofill_restrictions"}
	integration = []string{"vanta", "entra_id", "google_workspace", "okta", "scim"}
)

// Diurnal and weekly shape of activity (UTC): quiet nights and weekends.
var (
	hourWeight = [24]float64{0.08, 0.05, 0.04, 0.04, 0.05, 0.1, 0.25, 0.5, 0.85, 1, 1, 0.95,
		0.8, 0.9, 1, 0.95, 0.85, 0.6, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1}
	dayWeight = [7]float64{0.2, 1, 1, 1, 1, 0.9, 0.25} // Sunday first
)

type npUser struct {
	uuid, email string
	json        []byte // {"uuid":…,"email":…}
}

// npGen renders NordPass events for one organization.
type npGen struct {
	org        string
	users      []npUser
	userIdx    map[string]int
	mspStaff   []npUser
	orgUser    []byte   // `,"organization_uuid":"…","user":` rendered once
	prefixes   [][]byte // per action, `{"type":…,"action":…,"timestamp":`
	cumWeights []int
	admins     int
	tsUnit     int64 // a rendered timestamp is the Unix second times tsUnit
}

func newNPGen(cfg NordPassConfig) *npGen {
	rnd := rand.New(rand.NewPCG(uint64(cfg.Seed), 1))
	g := &npGen{org: cfg.Org, userIdx: make(map[string]int, cfg.Users), tsUnit: cfg.NordPassReadings.tsUnit()}
	if g.org == "" {
		g.org = newUUID(rnd)
	}
	for i := range cfg.Users {
		name := firstNames[i%len(firstNames)] + "." + lastNames[(i/len(firstNames))%len(lastNames)]
		if n := i / (len(firstNames) * len(lastNames)); n > 0 {
			name += strconv.Itoa(n + 1)
		}
		u := newNPUser(newUUID(rnd), name+"@example.com")
		g.userIdx[u.uuid] = i
		g.users = append(g.users, u)
	}
	for _, name := range []string{"support.one", "support.two"} {
		g.mspStaff = append(g.mspStaff, newNPUser(newUUID(rnd), name+"@msp-partner.example.net"))
	}
	g.admins = max(1, min(3, cfg.Users/10))
	g.orgUser = append(append([]byte(`,"organization_uuid":`), jsonString(g.org)...), `,"user":`...)
	sum := 0
	for _, a := range npActions {
		g.prefixes = append(g.prefixes, []byte(`{"type":`+jsonString(a.typ)+`,"action":`+jsonString(a.action)+`,"timestamp":`))
		sum += a.weight
		g.cumWeights = append(g.cumWeights, sum)
	}
	return g
}

func newNPUser(uuid, email string) npUser {
	return npUser{uuid: uuid, email: email,
		json: []byte(`{"uuid":` + jsonString(uuid) + `,"email":` + jsonString(email) + `}`)}
}

// history generates cfg.Count events in [cfg.From, cfg.To), oldest first.
func (g *npGen) history(cfg NordPassConfig) []rec {
	n := cfg.Count
	if n <= 0 {
		return nil
	}
	// Whole seconds t with From <= t < To.
	from := cfg.From.Add(time.Second - 1).Truncate(time.Second).Unix()
	to := cfg.To.Add(time.Second - 1).Truncate(time.Second).Unix()
	if to <= from {
		panic("sim: NordPassConfig: no whole second in [From, To) to place events in")
	}
	rnd := rand.New(rand.NewPCG(uint64(cfg.Seed), 2))

	// Rejection sampling against the diurnal shape. A span shorter than a
	// day would make that shape a bias, not realism, so it is skipped.
	times := make([]int64, n)
	shaped := to-from >= day
	for i := 0; i < n; {
		t := from + rnd.Int64N(to-from)
		if shaped && rnd.Float64() >= hourWeight[(t/3600)%24]*dayWeight[(t/day+4)%7] {
			continue
		}
		times[i] = t
		i++
	}
	slices.Sort(times)

	// Bursts of events sharing one second, then byte-identical pairs.
	// Setting a run to its first element's time keeps the slice sorted.
	for range perTenK(cfg.SameSecondBursts, 3, n) {
		size := min(2+rnd.IntN(29), n)
		i := rnd.IntN(n - size + 1)
		for j := i + 1; j < i+size; j++ {
			times[j] = times[i]
		}
	}
	dup := make(map[int]bool)
	for range perTenK(cfg.DuplicatePairs, 2, n) {
		i := rnd.IntN(n - 1)
		times[i+1] = times[i]
		dup[i+1] = true
	}

	recs := make([]rec, n)
	var arena []byte
	for i, t := range times {
		if dup[i] {
			recs[i] = recs[i-1]
			continue
		}
		// Render into large shared chunks: one allocation per ~3,000 events
		// instead of one per event.
		if cap(arena)-len(arena) < 2048 {
			arena = make([]byte, 0, 1<<20)
		}
		recs[i], arena = g.event(rnd, arena, t)
	}
	return recs
}

// perTenK converts a rate per 10,000 events into a count for n events:
// def when rate is 0, none when negative, at least one from 100 events on.
func perTenK(rate, def float64, n int) int {
	if rate == 0 {
		rate = def
	}
	if rate < 0 || n < 2 {
		return 0
	}
	k := int(math.Round(rate * float64(n) / 10000))
	if n >= 100 {
		k = max(k, 1)
	}
	return k
}

// event draws one event at Unix second ts and renders it at the end of dst.
// The returned record's JSON is capped so later appends to dst cannot
// reach into it.
func (g *npGen) event(rnd *rand.Rand, dst []byte, ts int64) (rec, []byte) {
	ai := g.pickAction(rnd)
	a := &npActions[ai]
	nu := len(g.users)
	// Skewed activity: a few members do most of the work.
	f := rnd.Float64()
	u := int(f * f * float64(nu))
	if a.admin {
		u = rnd.IntN(g.admins)
	}
	initiator, msp := -1, -1
	if a.msp && rnd.IntN(5) == 0 {
		msp = rnd.IntN(len(g.mspStaff))
	} else if a.initiator {
		initiator = rnd.IntN(g.admins)
	}

	start := len(dst)
	dst = append(dst, g.prefixes[ai]...)
	dst = strconv.AppendInt(dst, ts*g.tsUnit, 10)
	dst = append(dst, g.orgUser...)
	dst = append(dst, g.users[u].json...)
	dst = append(dst, `,"initiator":`...)
	if initiator >= 0 {
		dst = append(dst, g.users[initiator].json...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"metadata":`...)
	dst = g.appendMeta(dst, rnd, a.meta, msp)
	dst = append(dst, '}')
	end := len(dst)
	x := rec{t: ts * 1e9, vis: ts * 1e9, user: g.users[u].uuid, json: dst[start:end:end]}
	if initiator >= 0 {
		x.init = g.users[initiator].uuid
	}
	return x, dst
}

func (g *npGen) pickAction(rnd *rand.Rand) int {
	i, _ := slices.BinarySearch(g.cumWeights, rnd.IntN(g.cumWeights[len(g.cumWeights)-1])+1)
	return i
}

// appendMeta renders metadata: [] when there is nothing to say, as the API
// does, otherwise an object; MSP staff actions carry msp.user_uuid and
// msp.user_email.
func (g *npGen) appendMeta(dst []byte, rnd *rand.Rand, m npMeta, msp int) []byte {
	if m == metaEmpty && msp < 0 {
		return append(dst, "[]"...)
	}
	dst = append(dst, '{')
	if msp >= 0 {
		s := g.mspStaff[msp]
		dst = append(dst, `"msp":{"user_uuid":"`...)
		dst = append(dst, s.uuid...)
		dst = append(dst, `","user_email":"`...)
		dst = append(dst, s.email...)
		dst = append(dst, `"}`...)
		if m != metaEmpty {
			dst = append(dst, ',')
		}
	}
	pick := func(xs []string) string { return xs[rnd.IntN(len(xs))] }
	field := func(dst []byte, k, v string, more bool) []byte {
		dst = append(dst, '"')
		dst = append(dst, k...)
		dst = append(dst, `":"`...)
		dst = append(dst, v...)
		dst = append(dst, '"')
		if more {
			dst = append(dst, ',')
		}
		return dst
	}
	switch m {
	case metaClient:
		dst = field(dst, "client", pick(clients), false)
	case metaItem:
		dst = appendUUIDField(dst, rnd, "item_uuid")
		dst = field(dst, "item_type", pick(itemTypes), false)
	case metaShare:
		dst = appendUUIDField(dst, rnd, "item_uuid")
		dst = field(dst, "item_type", pick(itemTypes), true)
		dst = field(dst, "shared_with", g.users[rnd.IntN(len(g.users))].uuid, true)
		dst = field(dst, "rights", pick(rights), false)
	case metaRole:
		from := rnd.IntN(len(roles))
		to := (from + 1 + rnd.IntN(len(roles)-1)) % len(roles)
		dst = field(dst, "old_role", roles[from], true)
		dst = field(dst, "new_role", roles[to], false)
	case metaPolicy:
		dst = field(dst, "policy", pick(policies), false)
	case metaIntegration:
		dst = field(dst, "integration", pick(integration), false)
	}
	return append(dst, '}')
}

func appendUUIDField(dst []byte, rnd *rand.Rand, k string) []byte {
	dst = append(dst, '"')
	dst = append(dst, k...)
	dst = append(dst, `":"`...)
	dst = appendUUID(dst, rnd)
	return append(dst, `",`...)
}

// renderPlain renders an event with the given type and action, the given
// initiator (none if negative) and [] metadata (for AddEvent).
func (g *npGen) renderPlain(dst []byte, ts int64, typ, action string, user, initiator int) []byte {
	dst = append(dst, `{"type":`...)
	dst = append(dst, jsonString(typ)...)
	dst = append(dst, `,"action":`...)
	dst = append(dst, jsonString(action)...)
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, ts*g.tsUnit, 10)
	dst = append(dst, g.orgUser...)
	dst = append(dst, g.users[user].json...)
	dst = append(dst, `,"initiator":`...)
	if initiator >= 0 {
		dst = append(dst, g.users[initiator].json...)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, `,"metadata":[]}`...)
}

// newUUID returns a random (version 4) UUID drawn from rnd.
func newUUID(rnd *rand.Rand) string { return string(appendUUID(nil, rnd)) }

func appendUUID(dst []byte, rnd *rand.Rand) []byte {
	const hex = "0123456789abcdef"
	var b [16]byte
	hi, lo := rnd.Uint64(), rnd.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(hi>>(8*i)), byte(lo>>(8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[c>>4], hex[c&0xf])
	}
	return dst
}

// jsonString quotes s as a JSON string. Generated values are plain ASCII;
// values from tests may be anything.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			b.WriteString(`\u`)
			h := strconv.FormatInt(int64(r), 16)
			b.WriteString(strings.Repeat("0", 4-len(h)) + h)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// spanText renders a maximum span the way the documentation does ("90
// days") when it is a whole number of days.
func spanText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		n := int64(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return strconv.FormatInt(n, 10) + " days"
	}
	return d.String()
}

// thousands renders n with comma separators ("10,000"), as the
// documentation writes the cap.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
