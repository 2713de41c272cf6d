// Command auditpull-telegraf-execd runs the auditpull input under the
// Telegraf your distribution ships, through inputs.execd:
//
//	[[inputs.execd]]
//	  command = ["/usr/local/bin/auditpull-telegraf-execd", "--config", "/etc/telegraf/auditpull.conf"]
//	  signal = "none"
//	  restart_delay = "10s"
//	  data_format = "influx"
//
// The file named by --config holds one [[inputs.auditpull]] section, exactly
// as in the auditpull Telegraf build (${VAR} is replaced from the
// environment; unknown options are an error). Metrics are written to stdout
// as line protocol and logs to stderr with the level prefixes execd expects.
//
// A ${VAR} inside a quoted string gives the option exactly the variable's
// value, whatever characters it holds ("basic" strings escape it; a
// 'literal' string refuses a value it cannot hold); outside quotes the value
// must itself be a TOML value such as a number. Nothing in a value is
// expanded again, and comments are left alone.
//
// Delivery is weaker than in the auditpull Telegraf build: Telegraf's
// tracking does not cross the process boundary, so a page counts as
// delivered (and its position is saved) once it has been written to the
// pipe, not once Telegraf's outputs have written it. Events Telegraf had
// read but not yet written when it crashed or dropped them are not re-read.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/logger"
	"github.com/influxdata/telegraf/plugins/common/shim"

	auditpull "github.com/auditpull/auditpull/plugins/telegraf"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auditpull-telegraf-execd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "file with one [[inputs.auditpull]] section (required)")
	dryRun := fs.Bool("dry-run", false, "read from the saved position but never write the checkpoint")
	debug := fs.Bool("debug", false, "log debug messages")
	pollInterval := fs.Duration("poll_interval", 0, "how often Gather runs (auditpull reads on its own schedule; 0 disables)")
	usage := fs.Bool("usage", false, "print the sample configuration and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *usage {
		fmt.Fprint(stdout, auditpull.New().SampleConfig())
		return 0
	}
	log := &lineLogger{w: stderr, debug: *debug}
	if *configFile == "" {
		log.Error("--config is required: a file with one [[inputs.auditpull]] section")
		return 2
	}
	// The shim logs through Telegraf's logger: give it a real sink so early
	// messages are not buffered for the life of the process.
	if err := logger.SetupLogging(&logger.Config{Debug: *debug}); err != nil {
		log.Errorf("logging: %v", err)
		return 1
	}
	plugin, err := load(*configFile)
	if err != nil {
		log.Errorf("%v", err)
		return 1
	}
	plugin.SetDryRun(*dryRun)

	s := shim.New()
	if err := s.AddInput(&shimInput{plugin, log}); err != nil { // runs Init: config errors name the option
		log.Errorf("%v", err)
		return 1
	}
	plugin.Log = log
	interval := *pollInterval
	if interval <= 0 {
		interval = shim.PollIntervalDisabled
	}
	if err := s.Run(interval); err != nil {
		log.Errorf("%v", err)
		return 1
	}
	return 0
}

// load reads the [[inputs.auditpull]] section strictly: exactly one, and no
// option the plugin does not know.
func load(path string) (*auditpull.AuditPull, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	text, err := expandEnv(string(raw), os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var doc struct {
		Inputs map[string][]toml.Primitive `toml:"inputs"`
	}
	md, err := toml.Decode(text, &doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for name := range doc.Inputs {
		if name != auditpull.Name {
			return nil, fmt.Errorf("%s: only [[inputs.auditpull]] can run here, not inputs.%s", path, name)
		}
	}
	sections := doc.Inputs[auditpull.Name]
	if len(sections) != 1 {
		return nil, fmt.Errorf("%s: want exactly one [[inputs.auditpull]] section, found %d (run one process per input)", path, len(sections))
	}
	plugin := auditpull.New()
	if err := md.PrimitiveDecode(sections[0], plugin); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if extra := md.Undecoded(); len(extra) > 0 {
		return nil, fmt.Errorf("%s: unknown option %q (a typo, or not an option of inputs.auditpull)", path, extra[0].String())
	}
	return plugin, nil
}

var envRef = regexp.MustCompile(`^\$\{(\w+)\}`)

// Where in the TOML text a ${VAR} stands: what a value must look like there
// to reach the plugin unchanged.
type tomlContext int

const (
	bare tomlContext = iota
	comment
	basicString
	multiLineBasicString
	literalString
	multiLineLiteralString
)

// expandEnv replaces ${VAR} references in TOML text. Values are secrets
// and arbitrary text: pasted unescaped, a quote or backslash would end or
// change the string, and a newline could add options. So the substitution
// follows the TOML around each reference. Values are written once and
// never scanned again, so a "$" in one (even "${OTHER}") stays as it is.
func expandEnv(text string, getenv func(string) string) (string, error) {
	var out strings.Builder
	ctx := bare
	contentStart := 0 // where the current string's content begins in out
	for i := 0; i < len(text); {
		rest := text[i:]
		if m := envRef.FindStringSubmatch(rest); m != nil && ctx != comment {
			v, err := envValue(m[1], getenv(m[1]), ctx, out.Len() == contentStart)
			if err != nil {
				return "", err
			}
			out.WriteString(v)
			i += len(m[0])
			continue
		}
		n, was := 1, ctx
		switch c := text[i]; {
		case ctx == bare && c == '#':
			ctx = comment
		case ctx == bare && strings.HasPrefix(rest, `"""`):
			ctx, n = multiLineBasicString, 3
		case ctx == bare && c == '"':
			ctx = basicString
		case ctx == bare && strings.HasPrefix(rest, "'''"):
			ctx, n = multiLineLiteralString, 3
		case ctx == bare && c == '\'':
			ctx = literalString
		case ctx == comment && c == '\n':
			ctx = bare
		case (ctx == basicString || ctx == multiLineBasicString) && c == '\\':
			// An escaped quote does not end the string.
			n = min(2, len(rest))
		case ctx == basicString && (c == '"' || c == '\n'),
			ctx == literalString && (c == '\'' || c == '\n'):
			ctx = bare
		case ctx == multiLineBasicString && strings.HasPrefix(rest, `"""`):
			// Up to two more quotes belong to the string, before the end.
			ctx, n = bare, 3+quotesAfter(rest[3:], '"')
		case ctx == multiLineLiteralString && strings.HasPrefix(rest, "'''"):
			ctx, n = bare, 3+quotesAfter(rest[3:], '\'')
		}
		out.WriteString(rest[:n])
		i += n
		if ctx != was && ctx != bare && ctx != comment {
			contentStart = out.Len()
		}
	}
	return out.String(), nil
}

func quotesAfter(s string, q byte) int {
	n := 0
	for n < 2 && n < len(s) && s[n] == q {
		n++
	}
	return n
}

// envValue renders variable name's value v for ctx; atStart is whether it
// opens a string's content. Errors name the variable, never the value: it
// is usually a secret.
func envValue(name, v string, ctx tomlContext, atStart bool) (string, error) {
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("${%s} is not valid UTF-8, which TOML cannot hold", name)
	}
	switch ctx {
	case basicString, multiLineBasicString:
		return escapeBasic(v)
	case literalString, multiLineLiteralString:
		for _, r := range v {
			if r == '\'' || r == 0x7f || r < 0x20 && r != '\t' && !(r == '\n' && ctx == multiLineLiteralString) {
				return "", fmt.Errorf("${%s} holds a quote or control character, which a 'literal' string cannot: use a \"basic\" string", name)
			}
		}
		// TOML drops a line break right after the opening delimiter.
		if ctx == multiLineLiteralString && atStart && strings.HasPrefix(v, "\n") {
			return "", fmt.Errorf("${%s} starts with a line break, which a multi-line 'literal' string drops: use a \"basic\" string", name)
		}
		return v, nil
	default:
		// Outside quotes the value is TOML itself: accept one value on
		// one line, so that it can neither add options nor be echoed in a
		// parse error.
		var one map[string]any
		if strings.ContainsAny(v, "\r\n") {
			return "", fmt.Errorf("${%s} is outside quotes and holds a line break: put it in a quoted string", name)
		}
		if _, err := toml.Decode("v = "+v, &one); err != nil || len(one) != 1 {
			return "", fmt.Errorf("${%s} is outside quotes but is not a TOML value such as a number: put it in a quoted string", name)
		}
		return v, nil
	}
}

// escapeBasic returns v as the inside of a TOML basic string, escaped by
// the TOML encoder.
func escapeBasic(v string) (string, error) {
	b, err := toml.Marshal(map[string]string{"v": v})
	if err != nil {
		return "", err
	}
	quoted, ok := strings.CutPrefix(strings.TrimSuffix(string(b), "\n"), "v = ")
	if !ok || len(quoted) < 2 || quoted[0] != '"' || quoted[len(quoted)-1] != '"' {
		return "", fmt.Errorf("the TOML encoder wrote an unexpected string: %d bytes", len(b))
	}
	return quoted[1 : len(quoted)-1], nil
}

// shimInput is the plugin with its reported errors logged as "E! " lines.
// The shim's accumulator logs them through Telegraf's logger, whose lines
// begin with a timestamp: inputs.execd then finds no level and logs each
// as stderr "...".
type shimInput struct {
	*auditpull.AuditPull
	log telegraf.Logger
}

func (s *shimInput) Start(acc telegraf.Accumulator) error {
	return s.AuditPull.Start(errorLogger{acc, s.log})
}

type errorLogger struct {
	telegraf.Accumulator
	log telegraf.Logger
}

// AddError words the line as Telegraf's accumulator does.
func (e errorLogger) AddError(err error) {
	if err != nil {
		e.log.Errorf("Error in plugin: %v", err)
	}
}

// lineLogger writes "E! message" lines, the format inputs.execd reads from
// a plugin's stderr and logs under the execd plugin's name and level.
type lineLogger struct {
	mu    sync.Mutex
	w     io.Writer
	debug bool
}

func (l *lineLogger) print(level telegraf.LogLevel, msg string) {
	if level == telegraf.Debug && !l.debug || level == telegraf.Trace {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s %s\n", level.Indicator(), msg)
}

func (l *lineLogger) Level() telegraf.LogLevel {
	if l.debug {
		return telegraf.Debug
	}
	return telegraf.Info
}
func (*lineLogger) AddAttribute(string, interface{}) {}
func (l *lineLogger) Errorf(f string, a ...interface{}) {
	l.print(telegraf.Error, fmt.Sprintf(f, a...))
}
func (l *lineLogger) Error(a ...interface{})           { l.print(telegraf.Error, fmt.Sprint(a...)) }
func (l *lineLogger) Warnf(f string, a ...interface{}) { l.print(telegraf.Warn, fmt.Sprintf(f, a...)) }
func (l *lineLogger) Warn(a ...interface{})            { l.print(telegraf.Warn, fmt.Sprint(a...)) }
func (l *lineLogger) Infof(f string, a ...interface{}) { l.print(telegraf.Info, fmt.Sprintf(f, a...)) }
func (l *lineLogger) Info(a ...interface{})            { l.print(telegraf.Info, fmt.Sprint(a...)) }
func (l *lineLogger) Debugf(f string, a ...interface{}) {
	l.print(telegraf.Debug, fmt.Sprintf(f, a...))
}
func (l *lineLogger) Debug(a ...interface{}) { l.print(telegraf.Debug, fmt.Sprint(a...)) }
func (l *lineLogger) Tracef(f string, a ...interface{}) {
	l.print(telegraf.Trace, fmt.Sprintf(f, a...))
}
func (l *lineLogger) Trace(a ...interface{}) { l.print(telegraf.Trace, fmt.Sprint(a...)) }
