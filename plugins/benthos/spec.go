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
	fieldCache      = "cache"                               // under checkpoint
	checkpointCache = "cache"                               // the checkpoint.type this adapter adds
)

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
		Description("Name of a cache resource that keeps the checkpoints. Any cache works (file, redis, memcached, dynamodb, …); a cache shared by several Benthos processes also carries the stream leases (see `lease_ttl`).").
		Example("auditpull_state").
		Optional()
}

// toCoreMap turns the parsed Benthos config into the core's schema and
// returns the checkpoint cache resource beside it ("" for the core's store).
func toCoreMap(conf *service.ParsedConfig) (map[string]any, string, error) {
	raw, err := conf.FieldAny()
	if err != nil {
		return nil, "", err
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, "", fmt.Errorf("auditpull config: expected an object, got %T", raw)
	}
	return splitAdapterSettings(m)
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

// splitAdapterSettings copies m without the Benthos-only keys and returns
// the checkpoint cache beside it; a named cache implies checkpoint.type
// cache.
func splitAdapterSettings(m map[string]any) (out map[string]any, cache string, err error) {
	out = maps.Clone(m)
	delete(out, fieldAutoReplay)
	cp, _ := out["checkpoint"].(map[string]any)
	if cp == nil {
		return out, "", nil
	}
	cp = maps.Clone(cp)
	cache, _ = cp[fieldCache].(string)
	typ, _ := cp["type"].(string)
	switch {
	case cache != "" && typ != "" && typ != checkpointCache:
		return nil, "", &core.ConfigError{Key: "checkpoint.cache", Msg: fmt.Sprintf("given but checkpoint.type is %q; remove one of them", typ)}
	case cache == "" && typ == checkpointCache:
		return nil, "", &core.ConfigError{Key: "checkpoint.cache", Msg: "required for checkpoint type \"cache\": the label of a cache resource"}
	}
	delete(cp, fieldCache)
	if cache != "" || typ == "" {
		// The core keeps its default type; the cache store replaces it.
		delete(cp, "type")
	}
	out["checkpoint"] = cp
	return out, cache, nil
}
