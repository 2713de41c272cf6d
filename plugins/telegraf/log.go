package auditpull

import (
	"fmt"
	"strings"

	"github.com/influxdata/telegraf"
)

// coreLogger binds the core's key/value logger to the plugin's injected
// telegraf.Logger, which prefixes every line with the plugin's name.
type coreLogger struct{ l telegraf.Logger }

func (c coreLogger) Debug(msg string, kv ...any) { c.l.Debug(line(msg, kv)) }
func (c coreLogger) Info(msg string, kv ...any)  { c.l.Info(line(msg, kv)) }
func (c coreLogger) Warn(msg string, kv ...any)  { c.l.Warn(line(msg, kv)) }
func (c coreLogger) Error(msg string, kv ...any) { c.l.Error(line(msg, kv)) }

// line renders msg and its key/value pairs as "msg key=value key="two words"".
// Values are formatted with %v, so core.Secret values print "[redacted]".
func line(msg string, kv []any) string {
	if len(kv) == 0 {
		return msg
	}
	var b strings.Builder
	b.WriteString(msg)
	for i := 0; i < len(kv); i += 2 {
		b.WriteByte(' ')
		if i+1 >= len(kv) {
			fmt.Fprintf(&b, "%v", kv[i])
			break
		}
		v := fmt.Sprintf("%v", kv[i+1])
		if v == "" || strings.ContainsAny(v, " \t\n\"=") {
			v = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(&b, "%v=%s", kv[i], v)
	}
	return b.String()
}
