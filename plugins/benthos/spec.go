package benthos

import (
	"fmt"
	"strings"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core"
)

// Benthos-only settings: they configure this adapter and are removed before
// the rest of the configuration goes to the core.
const (
	fieldAutoReplay = service.AutoRetryNacksToggleFieldName // "auto_replay_nacks"
	fieldLeaseTTL   = "lease_ttl"                           // under checkpoint
	defaultLeaseTTL = "30s"
	checkpointCache = "cache" // the checkpoint.type this adapter adds
)

// configSpec is the input's documentation and schema. It mirrors the core
// schema key for key — the same names, defaults and meanings as in every
// other host — so that a configuration moves between hosts unchanged; the
// core validates the values (see lint.go, which runs that validation when
// Benthos lints a config).
func configSpec() *service.ConfigSpec {
	spec := service.NewConfigSpec().
		Beta().
		Categories("Services", "Network").
		Summary("Pulls SaaS activity and audit logs ("+strings.Join(core.SourceNames(), ", ")+") over their REST APIs, with checkpoints that advance only when Benthos has delivered the events.").
		Description(inputDescription).
		Fields(coreFields()...).
		Fields(sourceFields()...).
		Field(autoReplayField()).
		LintRule(`root = this.`+lintMethod+`()`).
		Example("NordPass to stdout",
			"Reads the NordPass Enterprise activity log of the last seven days, then polls every 30 seconds. The checkpoint is a file under /var/lib/auditpull.",
			`
input:
  auditpull:
    source: nordpass
    nordpass:
      region: eu
      token: ${NORDPASS_TOKEN}
output:
  stdout: {}
`).
		Example("Replicas sharing a Redis cache",
			"Run this config in several Benthos processes: the checkpoint lives in Redis, and a lease in the same cache lets exactly one process poll the stream at a time. When it stops or dies, another one takes over from the checkpoint.",
			`
input:
  auditpull:
    source: nordpass
    stream: nordpass-prod
    nordpass:
      token: ${NORDPASS_TOKEN}
    checkpoint:
      cache: auditpull_state
cache_resources:
  - label: auditpull_state
    redis:
      url: redis://redis.internal:6379
output:
  stdout: {}
`)
	return spec
}

const inputDescription = `
Each API page becomes one message batch; each message is one event exactly as the vendor returned it (raw JSON), with these metadata:

- ` + "`source`" + `: the source name, e.g. ` + "`nordpass`" + `
- ` + "`stream`" + `: the checkpoint key the event was read under
- ` + "`event_id`" + `: the vendor's event id, or a stable content hash where the vendor has none (NordPass)
- ` + "`event_type`" + `, ` + "`event_action`" + `: the vendor's type and action of the event
- ` + "`event_time`" + `: the event time, RFC 3339

### Delivery

The checkpoint of a stream moves only over pages that Benthos acknowledged, in order: a page acknowledged before an earlier one waits for it. A rejected (nacked) page is delivered again, whole and ahead of newer pages, by this input (or by Benthos itself with ` + "`auto_replay_nacks: true`" + `); a rejection never drops events. A restart resumes from the checkpoint, so delivery is at least once; events that a later window re-reads are not delivered again.

### Checkpoints

By default checkpoints are JSON files in ` + "`checkpoint.path`" + `. With ` + "`checkpoint.cache`" + ` they are kept in a Benthos cache resource instead (file, redis, memcached, dynamodb, …). With a cache that several Benthos processes share, each stream is guarded by a lease in the same cache (an entry added with a TTL and renewed while the input runs): only one process polls a stream at a time, the others wait and take over from the checkpoint when it stops or dies.

### Errors

Credentials and configuration problems the vendor reports (an invalid or expired token, a rejected request, an unreadable checkpoint) stop the stream: the input reports the error on every reconnection attempt and is not ready until a person fixes it. Network errors, 5xx answers and throttling are retried with backoff and never skip events.

### Metrics

The core's counters are exported as ` + "`auditpull_events`, `auditpull_pages`, `auditpull_requests`, `auditpull_retries`, `auditpull_throttled`, `auditpull_window_splits`, `auditpull_duplicates_suppressed`, `auditpull_unreachable`, `auditpull_redeliveries`, `auditpull_errors`" + ` (counters) and ` + "`auditpull_lag_seconds`, `auditpull_last_success_time`, `auditpull_rate_budget`" + ` (gauges).
`

// coreFields are the core schema's keys shared by every source.
func coreFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewStringField("source").
			Description("The API to read: one of " + backquoted(core.SourceNames()) + "."),
		service.NewStringField("stream").
			Description("The checkpoint key. By default it is derived from the source, the account (region or base URL) and the filters, so two differently filtered inputs never share a checkpoint. Name it explicitly to keep the checkpoint when the URL changes, or to let several Benthos replicas share one stream.").
			Example("nordpass-prod").
			Optional(),
		service.NewStringField("initial_lookback").
			Description("How far back the first run reads when there is no checkpoint yet (e.g. `12h`, `30d`). Default: the source's (NordPass, OLOID, Qualtrics: 7 days).").
			Example("30d").
			Optional(),
		service.NewStringField("start_time").
			Description("An explicit start for the first run, RFC 3339; wins over `initial_lookback`. Ignored once a checkpoint exists.").
			Example("2026-01-31T00:00:00Z").
			Optional(),
		service.NewStringField("poll_interval").
			Description("How often to look for new events once the input has caught up.").
			Default("30s"),
		service.NewStringField("settle_delay").
			Description("Windows end this long before now, so that events the vendor records with a delay are not skipped.").
			Default("1m").
			Advanced(),
		service.NewStringField("overlap").
			Description("Each window re-reads this much of the previous one to catch events that became visible late; events already delivered are not delivered again.").
			Default("5m").
			Advanced(),
		service.NewIntField("page_size").
			Description("Records per request. Default: the source's (100 for every source; NordPass accepts 1 to 100).").
			Optional().
			Advanced(),
		service.NewStringField("max_window").
			Description("Longest span one window may cover. Default: the source's limit (NordPass 90 days; OLOID and Qualtrics document none).").
			Optional().
			Advanced(),
		service.NewStringField("request_timeout").
			Description("Timeout of one HTTP request.").
			Default("30s").
			Advanced(),
		service.NewIntField("max_undelivered_pages").
			Description("At most this many pages are read but not yet acknowledged by Benthos; reading pauses beyond that.").
			Default(core.DefaultMaxUndelivered).
			Advanced(),
		service.NewObjectField("rate_limit",
			service.NewBoolField("enabled").
				Description("Keep to the vendor's request budget (NordPass: 2000 requests per 5 minutes; OLOID, Qualtrics: 600 per minute). The budget is shared by every input of the process that uses the same API host and credential.").
				Default(true),
			service.NewIntField("requests").
				Description("Override the budget: at most this many requests per `period`. Default: the source's documented limit.").
				Optional(),
			service.NewStringField("period").
				Description("The period of `requests`, e.g. `5m`; required with `requests`.").
				Optional(),
		).Description("The request budget.").Advanced(),
		service.NewObjectField("retry",
			service.NewIntField("max_attempts").
				Description("Attempts per request before the poll is reported as failed; the next poll tries again, nothing is skipped.").
				Default(core.DefaultMaxAttempts),
			service.NewStringField("initial_backoff").
				Description("Wait before the first retry; it doubles (with jitter) up to `max_backoff`. A 429 answer's Retry-After is always honoured.").
				Default("500ms"),
			service.NewStringField("max_backoff").
				Description("Longest wait between two attempts.").
				Default("60s"),
		).Description("Retries of failed requests (5xx, timeouts, resets, throttling).").Advanced(),
		service.NewObjectField("http",
			service.NewStringField("proxy_url").
				Description("HTTP proxy for the API requests. Default: the HTTPS_PROXY and NO_PROXY environment variables.").
				Example("http://proxy.internal:3128").
				Optional(),
			service.NewStringField("ca_file").
				Description("PEM file of certificate authorities to trust instead of the system's (e.g. a TLS-inspecting proxy).").
				Optional(),
			service.NewStringField("cert_file").
				Description("PEM client certificate, with `key_file`.").
				Optional(),
			service.NewStringField("key_file").
				Description("PEM key of `cert_file`.").
				Optional(),
			service.NewBoolField("insecure_skip_verify").
				Description("Do not verify TLS certificates. Anyone on the path can then read the API token: use `ca_file` instead.").
				Default(false),
		).Description("Transport settings: proxy and TLS.").Advanced(),
		service.NewObjectField("checkpoint",
			service.NewStringField("type").
				Description("Where checkpoints are kept: `file` (one JSON file per stream in `path`), `cache` (the Benthos cache resource named by `cache`) or `memory` (no resume after a restart; for tests). Default: `cache` when `cache` is set, otherwise `file`.").
				Optional(),
			service.NewStringField("path").
				Description("Directory of the file checkpoints; created if missing.").
				Default(core.DefaultCheckpointDir),
			service.NewDurationField("sync_interval").
				Description("File checkpoints: the longest time between two fsyncs. Saves in between are appended to a journal beside the file, so a crash of the process loses none of them and a crash of the machine re-reads at most this long's pages. `0s` fsyncs every save (about half a millisecond each).").
				Default(core.DefaultCheckpointSync.String()).
				Advanced(),
			service.NewStringField("cache").
				Description("Name of a cache resource that keeps the checkpoints. Any cache works (file, redis, memcached, dynamodb, …); a cache shared by several Benthos processes also carries the stream leases.").
				Example("auditpull_state").
				Optional(),
			service.NewStringField(fieldLeaseTTL).
				Description("Lifetime of a stream's lease in `cache`. The process that holds it renews it every third of that; when it dies, another process takes the stream over at most this long later. `0s` disables leasing: use it only when a single process reads the stream. Benthos only.").
				Default(defaultLeaseTTL).
				Advanced(),
		).Description("Where the read position of each stream is kept between runs."),
	}
}

// sourceFields are the per-source sections. Sources this adapter documents
// by hand come first; any other registered source gets a section built from
// its keys, so a new vendor works in Benthos with no change here.
func sourceFields() []*service.ConfigField {
	var out []*service.ConfigField
	for _, name := range core.SourceNames() {
		if f, ok := documentedSources[name]; ok {
			out = append(out, f())
			continue
		}
		out = append(out, genericSourceField(name))
	}
	return out
}

// sectionDefaults are the defaults of the documented sections' fields, so
// that a section Benthos filled in by itself can be told from one a user
// wrote (see defaultShaped).
var sectionDefaults = map[string]map[string]any{
	"nordpass": {"region": "eu"},
}

// defaultShaped reports whether a source section holds nothing but empty
// values and defaults.
func defaultShaped(source string, sec map[string]any) bool {
	for k, v := range sec {
		if d, ok := sectionDefaults[source][k]; ok && v == d {
			continue
		}
		switch x := v.(type) {
		case nil:
		case string:
			if x != "" {
				return false
			}
		case []any:
			if len(x) > 0 {
				return false
			}
		case map[string]any:
			if !defaultShaped("", x) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

var documentedSources = map[string]func() *service.ConfigField{
	"nordpass": func() *service.ConfigField {
		return service.NewObjectField("nordpass",
			service.NewStringField("region").
				Description("The NordPass data center of the organization: `eu` or `us`.").
				Default(sectionDefaults["nordpass"]["region"]),
			service.NewStringField("base_url").
				Description("Overrides the region's API URL (a proxy, or the auditpull simulator). Tokens are sent only over https, except to loopback addresses.").
				Example("https://api-activities.eu.nordpass.com").
				Optional(),
			service.NewStringField("token").
				Description("The API token created in the NordPass Business Admin Panel, sent as the Authorization header without \"Bearer\". Give it as `${NORDPASS_TOKEN}` or `file:/path/to/token` rather than inline.").
				Example("${NORDPASS_TOKEN}").
				Secret(),
			service.NewStringListField("user_uuids").
				Description("Read only these members' activity (any number of user UUIDs; sent in groups of 500).").
				Optional(),
		).Description("NordPass Enterprise Activity Logs API (`source: nordpass`).").Optional()
	},
	"oloid": func() *service.ConfigField {
		return service.NewObjectField("oloid",
			service.NewStringField("base_url").
				Description("Your tenant's API URL (required: OLOID publishes no default); `/login` and `/filterActivity` are relative to it.").
				Example("https://api.example.oloid.com"),
			service.NewStringField("client_id").
				Description("Client id of an API client created in the OLOID portal.").
				Example("${OLOID_CLIENT_ID}"),
			service.NewStringField("tenant").
				Description("The OLOID tenant name.").
				Example("${OLOID_TENANT}"),
			service.NewStringField("client_secret").
				Description("The API client's secret, as `${OLOID_CLIENT_SECRET}` or `file:/path`.").
				Example("${OLOID_CLIENT_SECRET}").
				Secret(),
		).Description("OLOID List Activity Logs API (`source: oloid`): credentials of an API client created in the OLOID portal.").Optional()
	},
	"qualtrics": func() *service.ConfigField {
		opt := func(name, desc string) *service.ConfigField {
			return service.NewStringField(name).Description(desc).Optional()
		}
		return service.NewObjectField("qualtrics",
			opt("datacenter", "Datacenter ID from Account Settings > Qualtrics IDs (`iad1`, `fra1`, …), or `base_url` instead.").Example("iad1"),
			opt("base_url", "Overrides the datacenter's URL (a proxy, or the auditpull simulator)."),
			service.NewStringListField("activity_types").
				Description("Activity types to read, each its own stream with its own checkpoint, or `[all]` for every type the brand lists.").
				Example([]string{"all"}).
				Optional(),
			opt("api_token", "An API token, as `${QUALTRICS_API_TOKEN}` or `file:/path`; or an OAuth client below.").Secret(),
			opt("client_id", "OAuth client id (client credentials), instead of `api_token`."),
			opt("client_secret", "OAuth client secret.").Secret(),
			opt("scope", "OAuth scope."),
			opt("token_url", "OAuth token URL. Default: the datacenter's `/oauth2/token`."),
			opt("organization_id", "List Events filter."),
			opt("user_id", "List Events filter."),
			opt("directory_id", "List Events filter."),
			opt("group_id", "List Events filter."),
			opt("contact_id", "List Events filter."),
		).Description("Qualtrics List Events (`source: qualtrics`).").Optional()
	},
	"nordpass_msp": func() *service.ConfigField {
		opt := func(name, desc string) *service.ConfigField {
			return service.NewStringField(name).Description(desc).Optional()
		}
		list := func(name, desc string) *service.ConfigField {
			return service.NewStringListField(name).Description(desc).Optional()
		}
		return service.NewObjectField("nordpass_msp",
			service.NewStringField("base_url").
				Description("The MSP Activity Log API's base URL, from the integration guide in the MSP Admin Panel (required: the API is not public)."),
			service.NewStringField("path").
				Description("The endpoint's path under `base_url` (required)."),
			service.NewStringField("private_key").
				Description("The PEM private key downloaded from the MSP Admin Panel (Integrations > Integrate with NordPass for MSP), as `file:/path` or `${ENV_VAR}`. It signs the JWT sent with each request.").
				Example("file:/run/secrets/nordpass_msp.pem").
				Secret(),
			service.NewObjectField("jwt",
				opt("issuer", "The `iss` claim."),
				opt("subject", "The `sub` claim. Default: the issuer."),
				opt("audience", "The `aud` claim. Default: `base_url`; `none` omits it."),
				opt("key_id", "The `kid` header."),
				opt("lifetime", "How long one token is valid. Default: 5m."),
			).Description("Claims of the JWT signed with `private_key`.").Optional(),
			opt("auth_scheme", "How the token is sent: `bearer` (`Authorization: Bearer <jwt>`, the default) or `none` (the bare JWT)."),
			list("member_emails", "Only the actions of these MSP members."),
			list("organizations", "Only these organizations (UUIDs)."),
			list("categories", "Only these categories: `msp_access`, `msp_user_management`, `organization_management`, `integrations`, `billing`, `settings`."),
		).Description("NordPass MSP Activity Log API (`source: nordpass_msp`); default `initial_lookback` 30 days, windows of at most 90 days.").Optional()
	},
}

// genericSourceField describes the section of a source this adapter has
// no documentation for, from the keys the core reports for it, so that a new
// vendor works in Benthos with no change here. The core checks the values.
func genericSourceField(name string) *service.ConfigField {
	lists := map[string]bool{}
	for _, k := range core.ListKeys() {
		lists[k] = true
	}
	var keys []string
	for _, k := range core.Keys() {
		if sub, ok := strings.CutPrefix(k, name+"."); ok {
			keys = append(keys, sub)
		}
	}
	if len(keys) == 0 {
		return service.NewAnyMapField(name).Description("Settings of the `" + name + "` source.").Optional()
	}
	return service.NewObjectField(name, genericFields(name+".", keys, lists)...).
		Description("Settings of the `" + name + "` source. Required when `source` is `" + name + "`.").
		Optional()
}

// genericFields builds the fields for keys (relative to prefix), nesting
// dotted keys into objects.
func genericFields(prefix string, keys []string, lists map[string]bool) []*service.ConfigField {
	var fields []*service.ConfigField
	nested := map[string][]string{}
	var order []string
	for _, k := range keys {
		head, rest, ok := strings.Cut(k, ".")
		if ok {
			if _, seen := nested[head]; !seen {
				order = append(order, head)
			}
			nested[head] = append(nested[head], rest)
			continue
		}
		var f *service.ConfigField
		if lists[prefix+k] {
			f = service.NewStringListField(k)
		} else {
			f = service.NewAnyField(k)
		}
		f = f.Description("See the source's documentation.").Optional()
		if looksSecret(k) {
			f = f.Secret()
		}
		fields = append(fields, f)
	}
	for _, head := range order {
		fields = append(fields, service.NewObjectField(head, genericFields(prefix+head+".", nested[head], lists)...).Optional())
	}
	return fields
}

// looksSecret guesses which undocumented keys hold credentials, so that
// `benthos echo` and the docs scrub them.
func looksSecret(key string) bool {
	for _, s := range []string{"token", "secret", "password", "private_key", "api_key"} {
		if strings.Contains(key, s) {
			return true
		}
	}
	return false
}

func backquoted(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = "`" + s + "`"
	}
	return strings.Join(q, ", ")
}

// toCoreMap turns the parsed Benthos config into the core's schema and
// returns the Benthos-only settings beside it.
func toCoreMap(conf *service.ParsedConfig) (map[string]any, adapterSettings, error) {
	var as adapterSettings
	raw, err := conf.FieldAny()
	if err != nil {
		return nil, as, err
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, as, fmt.Errorf("auditpull config: expected an object, got %T", raw)
	}
	m, as, err = splitAdapterSettings(m)
	return m, as, err
}

// adapterSettings are the settings only this adapter reads.
type adapterSettings struct {
	leaseTTL string
}

// autoReplayField is Benthos' auto_replay_nacks with the default false.
// Benthos' replay keeps a copy of every message until it is acknowledged;
// here it is redundant, because the core already keeps each page until it
// is acknowledged and delivers a rejected one again. The copies cost about
// 10 % of the Benthos build's CPU per event (both settings alternating on
// one 200k-event backfill: 20.4–20.8 against 18.2–19.3 CPU-s per million).
// False does not drop rejected events, unlike other Benthos inputs: an
// audit log is not dropped on a rejection.
func autoReplayField() *service.ConfigField {
	return service.NewBoolField(fieldAutoReplay).
		Description("Whether Benthos keeps a copy of every message and replays rejected batches itself. This input delivers a rejected page again either way (ahead of newer pages, with a growing pause, counted in `auditpull_redeliveries`), so it is off by default: the copies cost CPU and memory for nothing. Unlike other inputs, `false` never drops rejected events.").
		Default(false).
		Advanced()
}

// splitAdapterSettings copies m without the Benthos-only keys, which it
// returns separately, and makes a named cache imply checkpoint.type cache.
func splitAdapterSettings(m map[string]any) (map[string]any, adapterSettings, error) {
	as := adapterSettings{leaseTTL: defaultLeaseTTL}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k == fieldAutoReplay {
			continue
		}
		out[k] = v
	}
	// Benthos fills in the sections of sources that are not selected (an
	// optional object whose fields are all optional reads as {}); the core
	// rightly refuses those, so drop them unless the user wrote something.
	src, _ := out["source"].(string)
	for _, name := range core.SourceNames() {
		if sec, ok := out[name].(map[string]any); ok && name != src && defaultShaped(name, sec) {
			delete(out, name)
		}
	}
	cp, _ := out["checkpoint"].(map[string]any)
	if cp == nil {
		return out, as, nil
	}
	c := make(map[string]any, len(cp))
	for k, v := range cp {
		c[k] = v
	}
	if v, ok := c[fieldLeaseTTL]; ok {
		s, ok := v.(string)
		if !ok {
			return nil, as, &core.ConfigError{Key: "checkpoint." + fieldLeaseTTL, Msg: "must be a duration (e.g. 30s)"}
		}
		as.leaseTTL = s
		delete(c, fieldLeaseTTL)
	}
	name, _ := c["cache"].(string)
	typ, hasType := c["type"].(string)
	switch {
	case name != "" && (!hasType || typ == ""):
		c["type"] = checkpointCache
	case name != "" && typ != checkpointCache:
		return nil, as, &core.ConfigError{Key: "checkpoint.cache", Msg: fmt.Sprintf("given but checkpoint.type is %q; remove one of them", typ)}
	case name == "" && typ == checkpointCache:
		return nil, as, &core.ConfigError{Key: "checkpoint.cache", Msg: "required for checkpoint type \"cache\": the label of a cache resource"}
	}
	out["checkpoint"] = c
	return out, as, nil
}
