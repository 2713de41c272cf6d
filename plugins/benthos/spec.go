package benthos

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core"
)

// Benthos-only settings: they configure this adapter and are removed before
// the rest of the configuration goes to the core.
const (
	fieldAutoReplay = service.AutoRetryNacksToggleFieldName // "auto_replay_nacks"
	fieldCache      = "cache"                               // under checkpoint
	checkpointCache = "cache"                               // the checkpoint.type this adapter adds
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
		Fields(schemaFields(core.Schema(), "")...).
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

// schemaFields builds the fields under parent from the core schema, so
// the spec has every option the core declares with the same name, default
// and meaning as in every other host. The core validates the values (see
// lint.go, which runs that validation when Benthos lints a config).
func schemaFields(opts []core.Option, parent string) []*service.ConfigField {
	var out []*service.ConfigField
	for _, o := range opts {
		if o.Parent() != parent {
			continue
		}
		var f *service.ConfigField
		switch o.Kind {
		case core.KindObject:
			children := schemaFields(opts, o.Key)
			if o.Key == "checkpoint" {
				children = append(children, cacheField())
			}
			f = service.NewObjectField(o.Name(), children...)
		case core.KindInt:
			f = service.NewIntField(o.Name())
		case core.KindBool:
			f = service.NewBoolField(o.Name())
		case core.KindList:
			f = service.NewStringListField(o.Name())
		default:
			// Durations stay strings: the core also accepts days ("7d").
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

func description(o core.Option) string {
	d := o.Doc
	if o.Key == "checkpoint.type" {
		d += " cache: the Benthos cache resource named by `cache`. Default: `cache` when `cache` is set, otherwise `file`."
	}
	if len(o.Enum) > 0 && o.Key != "checkpoint.type" {
		d += " One of " + backquoted(o.Enum) + "."
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
		Description("Name of a cache resource that keeps the checkpoints. Any cache works (file, redis, memcached, dynamodb, …); a cache shared by several Benthos processes also carries the stream leases (see `lease_ttl`).").
		Example("auditpull_state").
		Optional()
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
	cache string // the checkpoint cache resource, "" for the core's store
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
// returns separately; a named cache implies checkpoint.type cache.
func splitAdapterSettings(m map[string]any) (map[string]any, adapterSettings, error) {
	var as adapterSettings
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != fieldAutoReplay {
			out[k] = v
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
	as.cache, _ = c[fieldCache].(string)
	typ, _ := c["type"].(string)
	switch {
	case as.cache != "" && typ != "" && typ != checkpointCache:
		return nil, as, &core.ConfigError{Key: "checkpoint.cache", Msg: fmt.Sprintf("given but checkpoint.type is %q; remove one of them", typ)}
	case as.cache == "" && typ == checkpointCache:
		return nil, as, &core.ConfigError{Key: "checkpoint.cache", Msg: "required for checkpoint type \"cache\": the label of a cache resource"}
	}
	delete(c, fieldCache)
	if as.cache != "" || typ == "" {
		// The core keeps its default type; the cache store replaces it.
		delete(c, "type")
	}
	out["checkpoint"] = c
	return out, as, nil
}
