package auditpull

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/auditpull/auditpull/core"
)

//go:generate go run ../../internal/gen

// setDefaults gives v (Options or TelegrafOptions) the schema's declared
// defaults, so that an option left out of the TOML behaves as in every
// other host and an explicit zero stays zero. Source sections keep their
// zero values: they are left out of the core map, where the source's
// defaults apply.
func setDefaults(v reflect.Value, opts []core.Option) {
	for _, o := range opts {
		if o.Default == "" || o.Kind == core.KindObject || o.Source != "" || !o.ForHost("telegraf") {
			continue
		}
		f := v
		for _, name := range strings.Split(o.Key, ".") {
			f = fieldByTOML(f, name)
		}
		switch o.Kind {
		case core.KindDuration:
			d, err := core.ParseDuration(o.Default)
			if err != nil {
				panic(fmt.Sprintf("schema default of %s: %v", o.Key, err)) // a bug in a declaration
			}
			f.SetInt(int64(d))
		case core.KindInt:
			n, _ := strconv.Atoi(o.Default)
			f.SetInt(int64(n))
		case core.KindBool:
			b := o.Default == "true"
			if f.Kind() == reflect.Pointer {
				f.Set(reflect.ValueOf(&b))
			} else {
				f.SetBool(b)
			}
		default:
			f.SetString(o.Default)
		}
	}
}

func fieldByTOML(v reflect.Value, name string) reflect.Value {
	for i := 0; i < v.NumField(); i++ {
		if key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("toml"), ","); key == name {
			return v.Field(i)
		}
	}
	panic("no TOML field " + name + " in " + v.Type().String()) // options_gen.go is stale
}

var (
	durationType = reflect.TypeOf(config.Duration(0))
	secretType   = reflect.TypeOf(config.Secret{})
)

// coreMap translates the options into the map core.ParseMap reads:
// durations become strings ("1h30m0s"), secrets are revealed (the map is
// handed straight to the core and never logged), and empty strings, empty
// lists, unset booleans and absent sections are left out so the core's and
// the source's defaults apply.
//
// Telegraf has already replaced ${VAR} references and resolved secret
// stores; the core takes every value literally, so strings pass unchanged.
func (o *Options) coreMap() (map[string]any, error) {
	return structMap(reflect.ValueOf(o).Elem(), "", false)
}

// structMap renders one (sub-)table. In source sections (omitZero) a zero
// duration is left out like an empty string: the source's default applies.
// The core's own sections carry the core's defaults, so their zeros are
// explicit and passed on.
func structMap(v reflect.Value, prefix string, omitZero bool) (map[string]any, error) {
	out := map[string]any{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if key == "" || key == "-" || !f.IsExported() {
			continue
		}
		fv := v.Field(i)
		switch {
		case f.Type == durationType:
			if omitZero && fv.Int() == 0 {
				continue
			}
			out[key] = time.Duration(fv.Int()).String()
		case f.Type == secretType:
			s := fv.Addr().Interface().(*config.Secret)
			if s.Empty() {
				continue
			}
			buf, err := s.Get()
			if err != nil {
				// The error names store references, never the value.
				return nil, &core.ConfigError{Key: prefix + key, Msg: fmt.Sprintf("cannot read secret: %v", err)}
			}
			out[key] = buf.String()
			buf.Destroy()
		case f.Type.Kind() == reflect.Pointer:
			if fv.IsNil() {
				continue
			}
			if f.Type.Elem().Kind() == reflect.Struct {
				sub, err := structMap(fv.Elem(), prefix+key+".", true)
				if err != nil {
					return nil, err
				}
				out[key] = sub
				continue
			}
			out[key] = fv.Elem().Interface()
		case f.Type.Kind() == reflect.Struct:
			sub, err := structMap(fv, prefix+key+".", omitZero)
			if err != nil {
				return nil, err
			}
			if len(sub) > 0 {
				out[key] = sub
			}
		case f.Type.Kind() == reflect.String:
			if fv.String() != "" {
				out[key] = fv.String()
			}
		case f.Type.Kind() == reflect.Slice:
			if fv.Len() == 0 {
				continue
			}
			list := make([]any, fv.Len())
			for j := range list {
				list[j] = fv.Index(j).Interface()
			}
			out[key] = list
		default:
			out[key] = fv.Interface()
		}
	}
	return out, nil
}
