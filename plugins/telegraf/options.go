package auditpull

import (
	"fmt"
	"reflect"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/auditpull/auditpull/core"
)

//go:generate go run ../../internal/gen

// coreMap translates the options into the map core.ParseMap reads, leaving
// out what is unset so that the core's and the source's defaults apply
// (see core.MapOf).
//
// Telegraf has already replaced ${VAR} references and resolved secret
// stores; the core takes every value literally, so strings pass unchanged.
func (o *Options) coreMap() (map[string]any, error) {
	return core.MapOf(o, "toml", telegrafValue)
}

// telegrafValue converts Telegraf's own types: durations become strings
// ("1h30m0s"), secrets are revealed (the map is handed straight to the
// core and never logged; an empty one reads "" and is left out).
func telegrafValue(v reflect.Value) (any, bool, error) {
	switch x := v.Addr().Interface().(type) {
	case *config.Duration:
		return time.Duration(*x).String(), true, nil
	case *config.Secret:
		buf, err := x.Get()
		if err != nil {
			// The error names store references, never the value.
			return nil, true, fmt.Errorf("cannot read secret: %w", err)
		}
		defer buf.Destroy()
		return buf.String(), true, nil
	}
	return nil, false, nil
}
