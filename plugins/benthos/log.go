package benthos

import (
	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core"
)

// logger binds the core's Logger to the Benthos logger of the input, so
// core messages carry the component's label and go wherever Benthos logs go.
// Key/value pairs become structured fields.
type logger struct{ l *service.Logger }

var _ core.Logger = logger{}

func (g logger) with(kv []any) *service.Logger {
	if len(kv) == 0 {
		return g.l
	}
	return g.l.With(kv...)
}

func (g logger) Debug(msg string, kv ...any) { g.with(kv).Debug(msg) }
func (g logger) Info(msg string, kv ...any)  { g.with(kv).Info(msg) }
func (g logger) Warn(msg string, kv ...any)  { g.with(kv).Warn(msg) }
func (g logger) Error(msg string, kv ...any) { g.with(kv).Error(msg) }
