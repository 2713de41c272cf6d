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
	"sync"

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
	if err := s.AddInput(plugin); err != nil { // runs Init: config errors name the option
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

var envRef = regexp.MustCompile(`\$\{(\w+)\}`)

// load reads the [[inputs.auditpull]] section strictly: exactly one, and no
// option the plugin does not know.
func load(path string) (*auditpull.AuditPull, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	text := envRef.ReplaceAllStringFunc(string(raw), func(m string) string {
		return os.Getenv(envRef.FindStringSubmatch(m)[1])
	})
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
