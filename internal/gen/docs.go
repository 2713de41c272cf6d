package main

import (
	"fmt"
	"strings"

	"github.com/auditpull/auditpull/core"
	telegraf "github.com/auditpull/auditpull/plugins/telegraf"
)

// activeSource is the source sample.conf configures; the other sources'
// sub-tables are shown commented out.
const activeSource = "nordpass"

// sampleConf renders Telegraf's sample configuration: every option with its
// doc and its default (or an example), commented out unless required.
func sampleConf() string {
	opts := core.OptionsFor("telegraf", core.Schema())
	var b strings.Builder
	b.WriteString("# Pull SaaS audit and activity logs (" + strings.Join(core.SourceNames(), ", ") + ") with at-least-once delivery\n")
	b.WriteString("[[inputs.auditpull]]\n")
	top := func(o core.Option) bool { return o.Parent() == "" && o.Kind != core.KindObject }
	for _, o := range opts {
		if top(o) {
			option(&b, "  ", o, o.Required)
		}
	}
	for _, o := range core.OptionsOf(telegraf.TelegrafOptions{}) {
		option(&b, "  ", o, false)
	}
	for _, o := range opts {
		if o.Kind != core.KindObject || o.Parent() != "" || (o.Source != "" && o.Source != activeSource) {
			continue
		}
		section(&b, "  ", opts, o, o.Source == activeSource)
	}
	for _, o := range opts {
		if o.Kind == core.KindObject && o.Parent() == "" && o.Source != "" && o.Source != activeSource {
			section(&b, "  ", opts, o, false)
		}
	}
	return b.String()
}

// section renders a sub-table; active ones are written out, the others
// commented.
func section(b *strings.Builder, indent string, opts []core.Option, sec core.Option, active bool) {
	commented := strings.Contains(indent, "#")
	if !commented {
		b.WriteString("\n")
	}
	doc := sec.Doc
	if sec.Source == sec.Key {
		doc += fmt.Sprintf(" Give this sub-table when source = %q.", sec.Source)
	}
	comment(b, indent, doc)
	prefix := indent
	if !active && !commented {
		prefix += "# "
	}
	fmt.Fprintf(b, "%s[inputs.auditpull.%s]\n", prefix, sec.Key)
	inner := indent + "  "
	if !active && !commented {
		inner = indent + "#   "
	}
	for _, o := range opts {
		if o.Parent() == sec.Key && o.Kind != core.KindObject {
			option(b, inner, o, active && o.Required)
		}
	}
	for _, o := range opts {
		if o.Parent() == sec.Key && o.Kind == core.KindObject {
			section(b, inner, opts, o, active)
		}
	}
}

// option renders one key: its doc, then the key set to its default (or an
// example), commented out unless it must be given.
func option(b *strings.Builder, indent string, o core.Option, set bool) {
	commented := strings.Contains(indent, "#")
	if !strings.HasSuffix(b.String(), "]\n") && !commented {
		b.WriteString("\n")
	}
	doc := o.Doc
	if len(o.Enum) > 0 {
		doc += " One of: " + strings.Join(o.Enum, ", ") + "."
	}
	if o.Kind == core.KindObjects {
		// A table array ends the input's own keys: written here, in the
		// middle of them, it would swallow the ones that follow.
		doc += " Telegraf also takes TOML tables, written after every other setting of the input: [[inputs.auditpull." + o.Key + "]] with stream = \"acme\", then [inputs.auditpull." + o.Key + ".nordpass] with the tenant's token."
	}
	comment(b, indent, doc)
	prefix := indent
	if !set && !commented {
		prefix += "# "
	}
	fmt.Fprintf(b, "%s%s = %s\n", prefix, o.Name(), tomlValue(o))
}

func tomlValue(o core.Option) string {
	v := o.Default
	if v == "" {
		v = o.Example
	}
	switch o.Kind {
	case core.KindInt, core.KindBool:
		if v == "" {
			return map[core.Kind]string{core.KindInt: "0", core.KindBool: "false"}[o.Kind]
		}
		return v
	case core.KindList:
		if v == "" {
			return "[]"
		}
		return fmt.Sprintf("[%q]", v)
	case core.KindDuration:
		if v == "" {
			v = "0s"
		}
	}
	return fmt.Sprintf("%q", v)
}

// comment wraps text as "## " lines of at most 78 columns.
func comment(b *strings.Builder, indent, text string) {
	line := indent + "##"
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > 78 && line != indent+"##" {
			b.WriteString(line + "\n")
			line = indent + "##"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
}

// optionTable renders the README's table of every option.
func optionTable() string {
	var b strings.Builder
	b.WriteString("| key | default | meaning |\n|---|---|---|\n")
	for _, o := range core.Schema() {
		if o.Kind == core.KindObject && o.Source == "" {
			continue
		}
		def := "—"
		switch {
		case o.Kind == core.KindObject:
			def = ""
		case o.Default != "":
			def = "`" + o.Default + "`"
		case o.Required:
			def = "— (required)"
		}
		doc := o.Doc
		if len(o.Enum) > 0 {
			doc += " One of " + backquoted(o.Enum) + "."
		}
		if o.Hosts != nil {
			doc += " (" + strings.Join(o.Hosts, ", ") + " only)"
		}
		key := "`" + o.Key + "`"
		if o.Kind == core.KindObject {
			key = "**`" + o.Key + "`**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", key, def, strings.ReplaceAll(doc, "|", "\\|"))
	}
	return b.String()
}

func backquoted(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = "`" + s + "`"
	}
	return strings.Join(q, ", ")
}
