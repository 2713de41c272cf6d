package main

// The plugins compiled into this Telegraf build. The set is what a SIEM
// pipeline needs around audit events; see build/telegraf/README.md for why
// each one is here. Adding a plugin is one import line (and a longer build).
import (
	// The input.
	_ "github.com/auditpull/auditpull/plugins/telegraf"

	// Outputs.
	_ "github.com/influxdata/telegraf/plugins/outputs/discard"
	_ "github.com/influxdata/telegraf/plugins/outputs/elasticsearch"
	_ "github.com/influxdata/telegraf/plugins/outputs/file"
	_ "github.com/influxdata/telegraf/plugins/outputs/http"
	_ "github.com/influxdata/telegraf/plugins/outputs/influxdb_v2"
	_ "github.com/influxdata/telegraf/plugins/outputs/loki"
	_ "github.com/influxdata/telegraf/plugins/outputs/syslog"

	// Processors.
	_ "github.com/influxdata/telegraf/plugins/processors/converter"
	_ "github.com/influxdata/telegraf/plugins/processors/override"
	_ "github.com/influxdata/telegraf/plugins/processors/regex"
	_ "github.com/influxdata/telegraf/plugins/processors/rename"
	_ "github.com/influxdata/telegraf/plugins/processors/strings"

	// Serializers (data_format of file and http).
	_ "github.com/influxdata/telegraf/plugins/serializers/influx"
	_ "github.com/influxdata/telegraf/plugins/serializers/json"
	_ "github.com/influxdata/telegraf/plugins/serializers/template"

	// Secret stores for tokens (@{store:key}).
	_ "github.com/influxdata/telegraf/plugins/secretstores/docker"
	_ "github.com/influxdata/telegraf/plugins/secretstores/systemd"
)
