package core

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Hosts whose configuration loader fills a struct of their own (Telegraf's
// TOML) declare the schema's options as fields named by a struct tag, then
// need two things from the schema: its defaults in the struct before the
// loader runs, and the filled struct as the map ParseMap reads. SetDefaults
// and MapOf do both by the tag, whatever the host's field types.

// OptionsFor are those of opts that host uses.
func OptionsFor(host string, opts []Option) []Option {
	return slices.DeleteFunc(slices.Clone(opts), func(o Option) bool { return !o.ForHost(host) })
}

// SetDefaults gives the struct v points to the defaults opts declare,
// finding each option's field by its key in the struct tag tag (the fields
// of embedded structs included), so that an
// option the user leaves out behaves as in every other host while an
// explicit zero stays zero. Durations go into integer fields as
// nanoseconds, the representation of time.Duration and of hosts' duration
// types. Options of sources are skipped: their sections are left out of the
// map unless given (see MapOf), and the source's own defaults apply.
func SetDefaults(v any, tag string, opts []Option) error {
	root := reflect.ValueOf(v).Elem()
	for _, o := range opts {
		if o.Default == "" || o.Kind == KindObject || o.Source != "" {
			continue
		}
		f := root
		for _, name := range strings.Split(o.Key, ".") {
			if f = fieldByTag(f, tag, name); !f.IsValid() {
				return fmt.Errorf("no %s field for option %s in %s", tag, o.Key, root.Type())
			}
		}
		if err := setDefault(f, o); err != nil {
			return fmt.Errorf("default of %s: %w", o.Key, err)
		}
	}
	return nil
}

func setDefault(f reflect.Value, o Option) error {
	if f.Kind() == reflect.Pointer {
		f.Set(reflect.New(f.Type().Elem()))
		f = f.Elem()
	}
	switch {
	case f.Kind() == reflect.Int64 && o.Kind == KindDuration:
		d, err := ParseDuration(o.Default)
		f.SetInt(int64(d))
		return err
	case f.CanInt():
		n, err := strconv.ParseInt(o.Default, 10, 64)
		f.SetInt(n)
		return err
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(o.Default)
		f.SetBool(b)
		return err
	case f.Kind() == reflect.String:
		f.SetString(o.Default)
		return nil
	}
	return fmt.Errorf("a %s field cannot hold %q", f.Type(), o.Default)
}

func fieldByTag(v reflect.Value, tag, name string) reflect.Value {
	if v.Kind() != reflect.Struct {
		return reflect.Value{}
	}
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		key, _, _ := strings.Cut(f.Tag.Get(tag), ",")
		if key == name {
			return v.Field(i)
		}
		// An embedded struct's fields are the outer struct's, as config
		// decoders (TOML's, encoding/json) treat them.
		if f.Anonymous && key == "" {
			if fv := fieldByTag(v.Field(i), tag, name); fv.IsValid() {
				return fv
			}
		}
	}
	return reflect.Value{}
}

// CheckOptions applies the enum and check rules a host declares on its own
// options (with the schema's tags, see OptionsOf) to the struct v points
// to, so that their errors read as the core's.
func CheckOptions(v any) error { return checkRules(reflect.ValueOf(v), "") }

// HostValue converts a field of a host's own type (a duration or secret
// type) into what ParseMap reads, or reports ok false for a field it does
// not know, which MapOf then renders by its kind. An error is reported as
// the field's key's ConfigError, so it must not hold the value.
type HostValue func(v reflect.Value) (value any, ok bool, err error)

// MapOf renders the struct v points to as the map ParseMap reads, each
// field under its key in the struct tag tag; host converts the host's own
// types, and may take a field's address (secret types' methods often have
// pointer receivers).
//
// What the user left unset is left out, so the defaults of the core and of
// the sources apply: empty strings (a host value converted to "" too),
// empty lists, nil pointers and sections with nothing set. A section
// behind a pointer is a source's: it is passed even when empty (it names
// the source's section as given), and its zero values are left out as
// well, since SetDefaults leaves the source's defaults to the source. The
// core's own sections hold the schema's defaults, so their zeros are the
// user's and passed on.
func MapOf(v any, tag string, host HostValue) (map[string]any, error) {
	return mapOf(reflect.ValueOf(v).Elem(), tag, "", false, host)
}

func mapOf(v reflect.Value, tag, prefix string, omitZero bool, host HostValue) (map[string]any, error) {
	out := map[string]any{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get(tag), ",")
		fv := v.Field(i)
		if key == "" || key == "-" || !t.Field(i).IsExported() || omitZero && fv.IsZero() {
			continue
		}
		val, err := valueOf(fv, tag, prefix+key, omitZero, host)
		if err != nil {
			return nil, err
		}
		if val != nil {
			out[key] = val
		}
	}
	return out, nil
}

// valueOf renders one field, or returns nil to leave it out.
func valueOf(fv reflect.Value, tag, key string, omitZero bool, host HostValue) (any, error) {
	if host != nil {
		val, ok, err := host(fv)
		if err != nil {
			return nil, &ConfigError{Key: key, Msg: err.Error()}
		}
		if ok {
			if val == "" {
				return nil, nil
			}
			return val, nil
		}
	}
	switch fv.Kind() {
	case reflect.Pointer:
		switch {
		case fv.IsNil():
			return nil, nil
		case fv.Elem().Kind() == reflect.Struct:
			return mapOf(fv.Elem(), tag, key+".", true, host)
		}
		return valueOf(fv.Elem(), tag, key, omitZero, host)
	case reflect.Struct:
		sub, err := mapOf(fv, tag, key+".", omitZero, host)
		if err != nil || len(sub) == 0 {
			return nil, err
		}
		return sub, nil
	case reflect.String:
		if fv.String() == "" {
			return nil, nil
		}
		return fv.String(), nil
	case reflect.Interface:
		// A list of sections (tenants), as text or as decoded tables.
		if fv.IsNil() || fv.Elem().Kind() == reflect.String && fv.Elem().String() == "" {
			return nil, nil
		}
		return fv.Interface(), nil
	case reflect.Slice:
		if fv.Len() == 0 {
			return nil, nil
		}
		list := make([]any, fv.Len())
		for j := range list {
			list[j] = fv.Index(j).Interface()
		}
		return list, nil
	}
	return fv.Interface(), nil
}

// MapOfProperties reads the schema from a host whose settings are flat
// text properties that can only be asked for by name (Fluent Bit's Go
// inputs): every option under its dotted key (nordpass.token,
// rate_limit.requests), lists comma-separated. get returns "" for a
// property that is not set; values are trimmed. Such hosts accept any
// property, so a key spelled with "_" for "." (nordpass_token), which
// would be ignored without a word, is an error naming the right spelling.
func MapOfProperties(get func(key string) string) (map[string]any, error) {
	m := map[string]any{}
	for _, o := range Schema() {
		if o.Kind == KindObject {
			continue
		}
		key := o.Key
		if alt := strings.ReplaceAll(key, ".", "_"); alt != key && strings.TrimSpace(get(alt)) != "" {
			return nil, &ConfigError{Key: alt, Msg: fmt.Sprintf("unknown property; write it as %s (properties use the core's dotted names)", key)}
		}
		v := strings.TrimSpace(get(key))
		switch {
		case v == "":
		case o.Kind == KindList:
			var items []any
			for s := range strings.SplitSeq(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					items = append(items, s)
				}
			}
			m[key] = items
		default:
			m[key] = v
		}
	}
	return m, nil
}
