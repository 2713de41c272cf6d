package benthos

import (
	_ "embed"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core"
)

// Benthos-only settings: they configure this adapter and are removed before
// the rest of the configuration goes to the core.
const (
	fieldAutoReplay = service.AutoRetryNacksToggleFieldName // "auto_replay_nacks"
	fieldTLS        = "tls"                                 // Benthos' TLS block, in place of the core's http.* certificate options
	fieldCache      = "cache"                               // under checkpoint
	fieldLimit      = "resource"                            // under rate_limit
	checkpointCache = "cache"                               // the checkpoint.type this adapter adds
)

// daysDurations are the duration options whose values are often days
// ("7d", NordPass' 90-day window), which Benthos' duration syntax lacks:
// they stay strings in the spec. The core parses every duration either way,
// so configs that give days elsewhere still load.
var daysDurations = map[string]bool{"initial_lookback": true, "max_window": true, "rate_limit.period": true}

// adapterSettings are the Benthos-only settings of a config.
type adapterSettings struct {
	cache string // checkpoint.cache: the cache resource of the checkpoints
	limit string // rate_limit.resource: a rate limit resource polled before each page
}

// configSpec is the input's documentation and schema. It mirrors the core
// schema key for key — the same names, defaults and meanings as in every
// other host — so that a configuration moves between hosts unchanged; the
// core validates the values (see lint.go, which runs that validation when
// Benthos lints a config).
func configSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services", "Network").
		Summary("Pulls SaaS activity and audit logs ("+strings.Join(core.SourceNames(), ", ")+") over their REST APIs, with checkpoints that advance only when Benthos has delivered the events.").
		Description("\n"+inputDescription).
		Fields(schemaFields(core.Schema(), "")...).
		Field(service.NewAutoRetryNacksToggleField()).
		Field(service.NewTLSToggledField(fieldTLS).Description("TLS of the requests to the vendor, as in Benthos' HTTP components (custom root CAs, client certificates); it replaces `http.ca_file`, `http.cert_file`, `http.key_file` and `http.insecure_skip_verify`, which must then be unset.").Advanced()).
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
}

// inputDescription is the input's documentation below the fields' own:
// metadata, delivery, checkpoints, errors and metrics.
//
//go:embed input.md
var inputDescription string

// schemaFields builds the fields under parent from the core schema, so
// the spec has every option the core declares with the same name, default
// and meaning as in every other host. The core validates the values (see
// lint.go, which runs that validation when Benthos lints a config).
func schemaFields(opts []core.Option, parent string) []*service.ConfigField {
	return walkSchema(opts, parent, false)
}

// walkSchema is schemaFields, for a tenant's sections when inTenant: there
// a list is an any field, which Benthos leaves out when it is not written,
// where it would fill in an empty list, and a tenant's list replaces the
// top-level one, so an empty list written there (no filter) must stay
// apart from one not written (the top-level filter).
func walkSchema(opts []core.Option, parent string, inTenant bool) []*service.ConfigField {
	var out []*service.ConfigField
	for _, o := range opts {
		if o.Parent() != parent {
			continue
		}
		var f *service.ConfigField
		switch o.Kind {
		case core.KindObject:
			children := walkSchema(opts, o.Key, inTenant)
			switch o.Key {
			case "checkpoint":
				children = append(children, cacheField())
			case "rate_limit":
				children = append(children, limitField())
			}
			f = service.NewObjectField(o.Name(), children...)
		case core.KindInt:
			f = service.NewIntField(o.Name())
		case core.KindBool:
			f = service.NewBoolField(o.Name())
		case core.KindList:
			if inTenant {
				f = service.NewAnyField(o.Name())
			} else {
				f = service.NewStringListField(o.Name())
			}
		case core.KindObjects:
			f = service.NewObjectListField(o.Name(), tenantFields(opts)...)
		case core.KindDuration:
			if daysDurations[o.Key] {
				f = service.NewStringField(o.Name())
			} else {
				f = service.NewDurationField(o.Name())
			}
		default:
			f = service.NewStringField(o.Name())
		}
		f = f.Description(description(o))
		if o.Kind == core.KindSecret {
			f = f.Secret()
		}
		if o.Example != "" {
			f = f.Example(example(o))
		}
		switch {
		case o.Key == "checkpoint.type":
			// Its default depends on checkpoint.cache (see description).
			f = f.Optional()
		case o.Default != "" && o.Source == "":
			f = f.Default(typed(o, o.Default))
		case o.Kind == core.KindObject || !o.Required || o.Source != "":
			// A source's section is written only for the chosen source,
			// so its fields are optional to Benthos (an unselected section
			// then stays empty, which the core ignores); the core checks
			// what the chosen source requires.
			f = f.Optional()
		}
		if o.Advanced {
			f = f.Advanced()
		}
		out = append(out, f)
	}
	return out
}

// tenantFields are the fields of one tenant: its stream and a section of
// each source, built from the schema as the top-level sections are, so
// that a tenant's secrets are Benthos secrets too (scrubbed from `benthos
// echo` and /debug/config). The core checks the rest: that the section is
// the chosen source's, that the stream is given and unique.
func tenantFields(opts []core.Option) []*service.ConfigField {
	var sections []core.Option
	for _, o := range opts {
		if o.Source != "" {
			sections = append(sections, o)
		}
	}
	stream := service.NewStringField("stream").
		Description("The tenant's stream: its checkpoint key, required and unique in the input (e.g. the customer's name).").
		Optional()
	return append([]*service.ConfigField{stream}, walkSchema(sections, "", true)...)
}

func description(o core.Option) string {
	d := o.Doc
	if o.Key == "checkpoint.type" {
		d += " cache: the Benthos cache resource named by `cache`. Default: `cache` when `cache` is set, otherwise `file`."
	}
	if len(o.Enum) > 0 && o.Key != "checkpoint.type" {
		d += " One of `" + strings.Join(o.Enum, "`, `") + "`."
	}
	if o.Source != "" && o.Default != "" {
		d += " Default: `" + o.Default + "`."
	}
	if o.Kind == core.KindObject && o.Source != "" {
		d += " Required when `source` is `" + o.Source + "`."
	}
	return d
}

func example(o core.Option) any {
	if o.Kind == core.KindList {
		return []string{o.Example}
	}
	return typed(o, o.Example)
}

// typed turns a schema value into the type Benthos expects for the field.
func typed(o core.Option, v string) any {
	switch o.Kind {
	case core.KindInt:
		n, _ := strconv.Atoi(v)
		return n
	case core.KindBool:
		return v == "true"
	}
	return v
}

// cacheField is the one Benthos-only checkpoint setting: the cache
// resource that keeps checkpoints and leases instead of the core's files.
func cacheField() *service.ConfigField {
	return service.NewStringField(fieldCache).
		Description("Name of a cache resource that keeps the checkpoints. The cache must keep an entry until it is deleted (file, redis, memcached, dynamodb without `ttl_key`, …; not lru, ttlru, ristretto or a memory cache with compaction); checkpoints are written with no expiry, whatever its `default_ttl`. A cache shared by several Benthos processes also carries the stream leases (see `lease_ttl`).").
		Example("auditpull_state").
		Optional()
}

// limitField names a Benthos rate limit resource for the vendor's requests,
// the counterpart of http_client's rate_limit; it sits in the core's
// rate_limit section, whose name the Benthos convention would take.
func limitField() *service.ConfigField {
	return service.NewStringField(fieldLimit).
		Description("Name of a rate limit resource the input waits for before each request to the vendor, e.g. to share one request budget with `http_client` components or other processes. The budget above (the vendor's documented limit) still applies beneath it; unset, it alone applies.").
		Example("nordpass_budget").
		Optional()
}

// toCoreMap turns the parsed Benthos config into the core's schema and
// returns the Benthos-only settings beside it.
func toCoreMap(conf *service.ParsedConfig) (map[string]any, adapterSettings, error) {
	raw, err := conf.FieldAny()
	if err != nil {
		return nil, adapterSettings{}, err
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, adapterSettings{}, fmt.Errorf("auditpull config: expected an object, got %T", raw)
	}
	return splitAdapterSettings(m)
}

// withoutEmptySections copies the tenants without the sections Benthos
// fills in for those not written (every source's, empty): the core takes a
// section of another source for a mistake, and an empty one adds nothing.
func withoutEmptySections(tenants []any) []any {
	out := make([]any, len(tenants))
	for i, t := range tenants {
		out[i] = pruneEmpty(t)
	}
	return out
}

// pruneEmpty returns v without the sections (maps) that hold nothing, at
// any depth.
func pruneEmpty(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		e = pruneEmpty(e)
		if sub, ok := e.(map[string]any); ok && len(sub) == 0 {
			continue
		}
		out[k] = e
	}
	return out
}

// splitAdapterSettings copies m without the Benthos-only keys and returns
// them beside it; a named cache implies checkpoint.type cache.
func splitAdapterSettings(m map[string]any) (out map[string]any, as adapterSettings, err error) {
	out = maps.Clone(m)
	delete(out, fieldAutoReplay)
	delete(out, fieldTLS)
	if l, ok := out["tenants"].([]any); ok {
		if len(l) == 0 {
			delete(out, "tenants") // Benthos fills an unset list field with []
		} else {
			out["tenants"] = withoutEmptySections(l)
		}
	}
	if rl, ok := out["rate_limit"].(map[string]any); ok {
		rl = maps.Clone(rl)
		as.limit, _ = rl[fieldLimit].(string)
		delete(rl, fieldLimit)
		out["rate_limit"] = rl
	}
	cp, _ := out["checkpoint"].(map[string]any)
	if cp == nil {
		return out, as, nil
	}
	cp = maps.Clone(cp)
	as.cache, _ = cp[fieldCache].(string)
	typ, _ := cp["type"].(string)
	switch {
	case as.cache != "" && typ != "" && typ != checkpointCache:
		return nil, as, &core.ConfigError{Key: "checkpoint.cache", Msg: fmt.Sprintf("given but checkpoint.type is %q; remove one of them", typ)}
	case as.cache == "" && typ == checkpointCache:
		return nil, as, &core.ConfigError{Key: "checkpoint.cache", Msg: "required for checkpoint type \"cache\": the label of a cache resource"}
	}
	delete(cp, fieldCache)
	if as.cache != "" || typ == "" {
		// The core keeps its default type; the cache store replaces it.
		delete(cp, "type")
	}
	out["checkpoint"] = cp
	return out, as, nil
}
