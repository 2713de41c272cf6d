package core

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/go-ucfg"
)

// The configuration schema is declared once, in the tags of Config and of
// each source's Settings struct:
//
//	config:"name"     the key (nested structs nest: retry.max_attempts)
//	default:"30s"     the default, as a user would write it
//	doc:"…"           what it means (docs of every host, sample.conf, README)
//	example:"…"       a value to show
//	advanced:"true"   hidden from the short docs
//	enum:"eu,us"      the allowed values
//	check:"positive"  positive, nonneg, min=N or max=N (comma-separated);
//	                  header: a secret sent in an HTTP header, which no
//	                  control character may be part of; nonempty: a
//	                  string that must not be "" (a host's own option)
//	required:"true"   must be given (when its section is)
//	hosts:"benthos"   only these hosts use it (all when absent)
//	kind:"duration"   the kind, where the Go type does not say (hosts' own types)
//	format:"pem"      what a secret's value is, where its source parses it
//
// Everything hosts need comes from it: parsing and validation here, the
// Benthos ConfigSpec, Telegraf's options struct and sample.conf, the keys
// Fluent Bit asks for, and the README's option tables.

// Kind is an option's type as hosts present it.
type Kind string

// The kinds of options.
const (
	KindString   Kind = "string"
	KindInt      Kind = "int"
	KindBool     Kind = "bool"
	KindDuration Kind = "duration"
	KindList     Kind = "list" // of strings
	KindSecret   Kind = "secret"
	KindObject   Kind = "object" // a section; its options follow it
	// KindObjects is a list of sections (tenants). Hosts whose values are
	// flat strings pass it as YAML or JSON text, which the core reads too.
	KindObjects Kind = "objects"
)

// Option is one configuration key.
type Option struct {
	Key      string // dotted: "retry.max_attempts", "nordpass.token"
	Kind     Kind
	Default  string
	Doc      string
	Example  string
	Advanced bool
	Enum     []string
	Check    string
	Required bool
	Hosts    []string // only these hosts use the option; nil: every host
	// Format is what a secret holds where its source parses it ("pem": a
	// private key), so that Lint can stand in for it.
	Format string
	// Field is the Go field that declares the option.
	Field string
	// Source is the source whose section holds the option ("" for the
	// core's own).
	Source string
}

// ForHost reports whether host (benthos, fluentbit, telegraf) uses the
// option.
func (o Option) ForHost(host string) bool { return o.Hosts == nil || slices.Contains(o.Hosts, host) }

// Name is the last element of the key.
func (o Option) Name() string { return o.Key[strings.LastIndexByte(o.Key, '.')+1:] }

// Parent is the key of the section holding the option ("" at the top).
func (o Option) Parent() string {
	if i := strings.LastIndexByte(o.Key, '.'); i >= 0 {
		return o.Key[:i]
	}
	return ""
}

// CoreOptions are the options every source shares, in declaration order.
func CoreOptions() []Option {
	out := schemaOf(reflect.TypeOf(Config{}), "", "")
	for i := range out {
		if out[i].Key == "source" {
			out[i].Enum, out[i].Required = SourceNames(), true
		}
	}
	return out
}

// OptionsOf reads the schema of a host's own options, declared with the
// same tags (v is a struct or a pointer to one), so that hosts document
// them beside the core's.
func OptionsOf(v any) []Option { return schemaOf(reflect.TypeOf(v), "", "") }

// SourceOptions are the options of a source's section, the section itself
// first (nil for an unknown source).
func SourceOptions(name string) []Option {
	f := lookupSource(name)
	if f.Settings == nil {
		return nil
	}
	sec := Option{Key: name, Kind: KindObject, Doc: f.Doc, Source: name}
	return append([]Option{sec}, schemaOf(reflect.TypeOf(f.Settings()), name+".", name)...)
}

// Schema is the whole schema: the core's options, then each registered
// source's section.
func Schema() []Option {
	out := CoreOptions()
	for _, name := range SourceNames() {
		out = append(out, SourceOptions(name)...)
	}
	return out
}

var (
	durationType = reflect.TypeOf(Duration(0))
	secretType   = reflect.TypeOf(Secret{})
	timeType     = reflect.TypeOf(time.Time{})
)

func schemaOf(t reflect.Type, prefix, source string) []Option {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []Option
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("config"), ",")
		if name == "" || !f.IsExported() {
			continue
		}
		o := Option{
			Key: prefix + name, Default: f.Tag.Get("default"), Doc: f.Tag.Get("doc"), Example: f.Tag.Get("example"),
			Advanced: f.Tag.Get("advanced") == "true", Check: f.Tag.Get("check"), Source: source,
			Required: f.Tag.Get("required") == "true", Field: f.Name, Format: f.Tag.Get("format"),
		}
		if e := f.Tag.Get("enum"); e != "" {
			o.Enum = strings.Split(e, ",")
		}
		if h := f.Tag.Get("hosts"); h != "" {
			o.Hosts = strings.Split(h, ",")
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case f.Tag.Get("kind") != "":
			o.Kind = Kind(f.Tag.Get("kind"))
		case ft == durationType:
			o.Kind = KindDuration
		case ft == secretType:
			o.Kind = KindSecret
		case ft.Kind() == reflect.Struct && ft != timeType:
			o.Kind = KindObject
			out = append(out, o)
			out = append(out, schemaOf(ft, o.Key+".", source)...)
			continue
		case ft.Kind() == reflect.Slice:
			o.Kind = KindList
		case ft.Kind() == reflect.Bool:
			o.Kind = KindBool
		case ft.Kind() == reflect.Int:
			o.Kind = KindInt
		default:
			o.Kind = KindString
		}
		out = append(out, o)
	}
	return out
}

// defaults returns the declared defaults of t's options as a nested map,
// ready to be unpacked under what the user wrote.
func defaults(t reflect.Type) map[string]any {
	m := map[string]any{}
	for _, o := range schemaOf(t, "", "") {
		if o.Default == "" || o.Kind == KindObject {
			continue
		}
		cur := m
		parts := strings.Split(o.Key, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = o.Default
	}
	return m
}

// unpackWithDefaults fills v (a pointer to a struct with schema tags)
// with its declared defaults, then with what cfg says.
func unpackWithDefaults(cfg *ucfg.Config, v any, prefix string) error {
	def, err := ucfg.NewFrom(defaults(reflect.TypeOf(v)), UcfgOptions...)
	if err == nil {
		err = def.Unpack(v, UcfgOptions...)
	}
	if err != nil {
		return fmt.Errorf("auditpull: bad schema default: %w", err) // a bug, not a user error
	}
	if err := cfg.Unpack(v, UcfgOptions...); err != nil {
		return unpackErr(err, cfg.Path("."), prefix, reflect.TypeOf(v))
	}
	return checkRules(reflect.ValueOf(v), prefix)
}

// checkRules applies the declared enum and check rules to v's values.
func checkRules(v reflect.Value, prefix string) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("config"), ",")
		if name == "" || !f.IsExported() {
			continue
		}
		fv, key := v.Field(i), prefix+name
		for fv.Kind() == reflect.Pointer && !fv.IsNil() {
			fv = fv.Elem()
		}
		if fv.Kind() == reflect.Struct && fv.Type() != durationType && fv.Type() != secretType && fv.Type() != timeType {
			if err := checkRules(fv, key+"."); err != nil {
				return err
			}
			continue
		}
		if e := f.Tag.Get("enum"); e != "" && fv.Kind() == reflect.String && fv.String() != "" {
			allowed := strings.Split(e, ",")
			if !slices.Contains(allowed, fv.String()) {
				return &ConfigError{Key: key, Msg: fmt.Sprintf("%q is not allowed; one of %s", fv.String(), quoteList(allowed))}
			}
		}
		if err := checkValue(key, f.Tag.Get("check"), fv); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(key, rules string, v reflect.Value) error {
	if rules == "" || !v.IsValid() {
		return nil
	}
	if v.Type() == secretType || v.Kind() == reflect.String {
		return checkText(key, rules, v)
	}
	if v.Kind() != reflect.Int && v.Kind() != reflect.Int64 {
		return nil
	}
	n := v.Int()
	dur := v.Type() == durationType
	for rule := range strings.SplitSeq(rules, ",") {
		name, bound, _ := strings.Cut(rule, "=")
		limit, _ := strconv.ParseInt(bound, 10, 64)
		switch {
		case name == "positive" && n <= 0:
			if dur {
				return &ConfigError{Key: key, Msg: "must be a positive duration (e.g. 500ms, 30s, 5m)"}
			}
			return &ConfigError{Key: key, Msg: "must be positive"}
		case name == "nonneg" && n < 0:
			return &ConfigError{Key: key, Msg: "must not be negative"}
		case name == "min" && n < limit:
			return &ConfigError{Key: key, Msg: fmt.Sprintf("must be at least %d", limit)}
		case name == "max" && n > limit:
			return &ConfigError{Key: key, Msg: fmt.Sprintf("must be at most %d", limit)}
		}
	}
	return nil
}

// checkText applies the rules of a text (a secret or a string).
func checkText(key, rules string, v reflect.Value) error {
	text := v.String()
	if v.Type() == secretType {
		text = v.Interface().(Secret).Reveal()
	}
	for rule := range strings.SplitSeq(rules, ",") {
		if rule == "nonempty" && text == "" {
			return &ConfigError{Key: key, Msg: "must not be empty"}
		}
		// A value a header cannot carry would fail every request, as a
		// transport error retried for ever; the value is never echoed.
		if rule == "header" && !validHeaderValue(text) {
			return &ConfigError{Key: key, Msg: "holds a line break or another control character, which an HTTP header cannot carry; give the value alone (a YAML block scalar such as \"token: |\" adds a line break)"}
		}
	}
	return nil
}

// validHeaderValue is httpguts.ValidHeaderFieldValue: no control
// characters but a tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < ' ' && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}

// unpackErr names the key of a ucfg unpacking error from its structured
// path, and says what the key accepts from the schema. own is the path of
// the section that was unpacked (a source's section is a child of the
// whole configuration, so ucfg's path already holds its name, which prefix
// names again).
func unpackErr(err error, own, prefix string, t reflect.Type) error {
	var ue ucfg.Error
	if !errors.As(err, &ue) {
		return err
	}
	// A Validate method's own error names its key already.
	if ce := (*ConfigError)(nil); errors.As(ue.Reason(), &ce) {
		return ce
	}
	key := ue.Path()
	if own != "" {
		if key == own {
			key = ""
		}
		key = strings.TrimPrefix(key, own+".")
	}
	key = stripIndexes(key)
	if key == "" {
		return &ConfigError{Key: strings.TrimSuffix(prefix, "."), Msg: ue.Message()}
	}
	msg := ue.Reason().Error()
	for _, o := range schemaOf(t, "", "") {
		// A secret of the right type that cannot be read (a missing file,
		// an unset variable) says so itself; "must be a string" would
		// send the user looking for the wrong mistake.
		if o.Key == key && (o.Kind != KindSecret || errors.Is(ue.Reason(), ucfg.ErrTypeMismatch)) {
			msg = fmt.Sprintf("%s (%s)", want(o), msg)
		}
	}
	return &ConfigError{Key: prefix + key, Msg: msg}
}

// want says what an option accepts.
func want(o Option) string {
	switch o.Kind {
	case KindDuration:
		return "must be a duration such as 30s, 5m, 12h or 7d"
	case KindInt:
		return "must be a whole number"
	case KindBool:
		return "must be true or false"
	case KindList:
		return "must be a list of strings"
	case KindObject:
		return "must be a section of settings"
	}
	return "must be a string"
}

// defaultConfig is the configuration of nothing but defaults.
func defaultConfig() Config {
	var c Config
	if err := unpackWithDefaults(ucfg.New(), &c, ""); err != nil {
		panic(err) // the schema's own defaults do not parse: a bug
	}
	return c
}
