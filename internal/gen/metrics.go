package main

import (
	"fmt"
	"strings"

	"github.com/auditpull/auditpull/core"
)

// metricsTable renders core.MetricInfos as a Markdown table, each metric
// named as the host exports it.
func metricsTable(name func(core.MetricInfo) string) string {
	var b strings.Builder
	b.WriteString("| metric | kind | meaning |\n|---|---|---|\n")
	for _, m := range core.MetricInfos {
		kind := "counter"
		if m.Gauge {
			kind = "gauge"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name(m), kind, strings.ReplaceAll(m.Help, "|", "\\|"))
	}
	return b.String()
}

// telegrafStatsFields renders core.MetricInfos as the fields of Telegraf's
// statistics measurement, in the list form of Telegraf READMEs.
func telegrafStatsFields() string {
	var b strings.Builder
	for _, m := range core.MetricInfos {
		typ := "float"
		if m.Whole() {
			typ = "integer"
		}
		fmt.Fprintf(&b, "    - %s (%s): %s\n", m.Name, typ, m.Help)
	}
	return b.String()
}

// metricDocs are the metric lists spliced into the READMEs, by path.
func metricDocs() map[string]func(string) (string, error) {
	plain := func(m core.MetricInfo) string { return m.Name }
	benthos := func(m core.MetricInfo) string { return "auditpull_" + m.Name }
	fluentbit := func(m core.MetricInfo) string {
		if m.Gauge {
			return m.Name
		}
		return m.Name + "_total"
	}
	table := func(name func(core.MetricInfo) string) func(string) (string, error) {
		return func(s string) (string, error) {
			return between(s, "<!-- metrics:begin -->\n", "<!-- metrics:end -->", metricsTable(name))
		}
	}
	// input.md is the Benthos input's own documentation (its ConfigSpec
	// description), where a marker would show: the table ends the file.
	inputDoc := func(s string) (string, error) {
		const head = "### Metrics\n\n"
		i := strings.Index(s, head)
		if i < 0 {
			return "", fmt.Errorf("no %q heading", strings.TrimSpace(head))
		}
		return s[:i+len(head)] + "The core's metrics go to the config's metrics exporter, prefixed `auditpull_`:\n\n" + metricsTable(benthos), nil
	}
	return map[string]func(string) (string, error){
		"README.md":                   table(plain),
		"plugins/benthos/README.md":   table(benthos),
		"plugins/fluentbit/README.md": table(fluentbit),
		"plugins/benthos/input.md":    inputDoc,
		"plugins/redpanda/input.md":   inputDoc,
		"plugins/telegraf/README.md": func(s string) (string, error) {
			// Markers inside a Markdown list would end it: the lines
			// around the generated fields mark them.
			return between(s, "`<measurement>_stats`)\n  - tags:\n    - source\n    - stream (the stream keys of the input, comma-separated)\n  - fields:\n", "    - pages_in_flight", telegrafStatsFields())
		},
	}
}
