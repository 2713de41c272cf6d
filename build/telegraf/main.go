// Command telegraf is Telegraf (github.com/influxdata/telegraf v1.37) with
// the auditpull input compiled in, plus the outputs, processors, serializers
// and secret stores listed in plugins.go. It runs the real Telegraf agent
// (config.NewConfig, LoadAll, agent.NewAgent(...).Run) and takes the flags
// Telegraf users rely on:
//
//	--config FILE            configuration file (repeatable)
//	--config-directory DIR   directory of *.conf files (repeatable)
//	--test                   read once, print metrics, move no checkpoint
//	--test-wait SECONDS      how long service inputs run in --test/--once
//	--once                   read once, write to the outputs, exit
//	--usage PLUGIN           print a plugin's sample configuration
//	--sample-config          print a complete sample configuration
//	--input-filter, --output-filter, --debug, --quiet, --unprotected, --version
//
// SIGHUP reloads the configuration; SIGINT and SIGTERM stop gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/influxdata/telegraf/agent"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/logger"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/plugins/outputs"
	"github.com/influxdata/telegraf/plugins/processors"

	auditpull "github.com/auditpull/auditpull/plugins/telegraf"
)

// defaultTestWait is how long --test and --once let auditpull read when
// --test-wait is not given. Telegraf's own default (0) would stop a service
// input before its first request.
const defaultTestWait = 10

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type options struct {
	configs, configDirs       stringList
	test, once                bool
	testWait                  int
	debug, quiet, unprotected bool
	inputFilter, outputFilter string
	usage                     string
	sampleConfig, version     bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("telegraf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&o.configs, "config", "configuration file to load (repeatable)")
	fs.Var(&o.configDirs, "config-directory", "directory of additional *.conf files (repeatable)")
	fs.BoolVar(&o.test, "test", false, "gather once, print the metrics to stdout, write no output and move no checkpoint")
	fs.IntVar(&o.testWait, "test-wait", -1, fmt.Sprintf("seconds service inputs run in --test or --once mode (default %d when auditpull is configured)", defaultTestWait))
	fs.BoolVar(&o.once, "once", false, "gather once, write to the outputs, save the checkpoint and exit")
	fs.BoolVar(&o.debug, "debug", false, "turn on debug logging")
	fs.BoolVar(&o.quiet, "quiet", false, "log errors only")
	fs.BoolVar(&o.unprotected, "unprotected", false, "keep secrets in ordinary memory (when locked memory is too small)")
	fs.StringVar(&o.inputFilter, "input-filter", "", "only load these inputs, separated by ':'")
	fs.StringVar(&o.outputFilter, "output-filter", "", "only load these outputs, separated by ':'")
	fs.StringVar(&o.usage, "usage", "", "print the sample configuration of a plugin (e.g. auditpull) and exit")
	fs.BoolVar(&o.sampleConfig, "sample-config", false, "print a complete sample configuration and exit")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "E! unexpected arguments %q (this build takes flags only; see --help)\n", fs.Args())
		return 2
	}

	switch {
	case o.version:
		fmt.Fprintln(stdout, version())
		return 0
	case o.usage != "":
		s, ok := usage(o.usage)
		if !ok {
			fmt.Fprintf(stderr, "E! no plugin %q in this build; inputs: %s; outputs: %s; processors: %s\n",
				o.usage, names(inputs.Inputs), names(outputs.Outputs), names(processors.Processors))
			return 1
		}
		fmt.Fprint(stdout, s)
		return 0
	case o.sampleConfig:
		fmt.Fprint(stdout, sampleConfig())
		return 0
	}

	if o.unprotected {
		config.DisableSecretProtection()
	}
	if err := runAgent(o); err != nil {
		fmt.Fprintf(stderr, "E! %v\n", err)
		return 1
	}
	return 0
}

// runAgent loads the configuration and runs the agent until a signal stops
// it; SIGHUP reloads the configuration and starts again.
func runAgent(o options) error {
	for {
		c, err := load(o)
		if err != nil {
			return err
		}
		wait := o.testWait
		if wait < 0 {
			wait = 0
			if hasAuditPull(c) && (o.test || o.once) {
				wait = defaultTestWait
			}
		}
		if o.test {
			for _, ri := range c.Inputs {
				if ap, ok := ri.Input.(*auditpull.AuditPull); ok {
					ap.SetDryRun(true)
				}
			}
		}
		if !o.test && len(c.Outputs) == 0 {
			return errors.New("no outputs found in the configuration")
		}
		if len(c.Inputs) == 0 {
			return errors.New("no inputs found in the configuration")
		}
		if c.Agent.Interval <= 0 {
			return fmt.Errorf("agent interval must be positive, found %s", time.Duration(c.Agent.Interval))
		}
		if c.Agent.FlushInterval <= 0 {
			return fmt.Errorf("agent flush_interval must be positive, found %s", time.Duration(c.Agent.FlushInterval))
		}
		if err := logger.SetupLogging(&logger.Config{
			Debug:                   c.Agent.Debug || o.debug,
			Quiet:                   c.Agent.Quiet || o.quiet,
			LogTarget:               c.Agent.LogTarget,
			LogFormat:               c.Agent.LogFormat,
			Logfile:                 c.Agent.Logfile,
			StructuredLogMessageKey: c.Agent.StructuredLogMessageKey,
			RotationInterval:        time.Duration(c.Agent.LogfileRotationInterval),
			RotationMaxSize:         int64(c.Agent.LogfileRotationMaxSize),
			RotationMaxArchives:     c.Agent.LogfileRotationMaxArchives,
			LogWithTimezone:         c.Agent.LogWithTimezone,
		}); err != nil {
			return err
		}
		log.Printf("I! Starting %s", version())
		log.Printf("I! Loaded inputs: %s", strings.Join(c.InputNames(), " "))
		log.Printf("I! Loaded processors: %s", strings.Join(c.ProcessorNames(), " "))
		if o.test {
			log.Printf("W! Outputs are not used in testing mode; checkpoints are read but not written")
		} else {
			log.Printf("I! Loaded outputs: %s", strings.Join(c.OutputNames(), " "))
		}

		ctx, cancel := context.WithCancel(context.Background())
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		var reload atomic.Bool
		go func() {
			select {
			case s := <-sig:
				if s == syscall.SIGHUP && !o.test && !o.once {
					log.Printf("I! Reloading the configuration")
					reload.Store(true)
				}
				cancel()
			case <-ctx.Done():
			}
		}()

		// The agent flushes its outputs for the last time only after every
		// input has stopped, and auditpull saves only what they have
		// written: let it ask for a flush when it stops. --test has no
		// outputs, and nothing that would catch the flush signal.
		releaseFlush := func() {}
		if !o.test {
			var flush func()
			flush, releaseFlush = catchFlushSignal()
			for _, ri := range c.Inputs {
				if ap, ok := ri.Input.(*auditpull.AuditPull); ok {
					ap.SetOutputFlusher(flush)
				}
			}
		}
		ag := agent.NewAgent(c)
		d := time.Duration(wait) * time.Second
		switch {
		case o.test:
			err = ag.Test(ctx, d)
		case o.once:
			err = ag.Once(ctx, d)
		default:
			err = ag.Run(ctx)
		}
		signal.Stop(sig)
		releaseFlush()
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if !reload.Load() {
			return nil
		}
	}
}

func load(o options) (*config.Config, error) {
	c := config.NewConfig()
	c.Agent.Quiet = o.quiet
	c.InputFilters = splitFilter(o.inputFilter)
	c.OutputFilters = splitFilter(o.outputFilter)
	files := slices.Clone(o.configs)
	for _, dir := range o.configDirs {
		more, err := config.WalkDirectory(dir)
		if err != nil {
			return nil, fmt.Errorf("config directory %s: %w", dir, err)
		}
		files = append(files, more...)
	}
	if len(files) == 0 {
		def, err := config.GetDefaultConfigPath()
		if err != nil {
			return nil, fmt.Errorf("no --config given and %w", err)
		}
		files = def
	}
	if err := c.LoadAll(files...); err != nil {
		return nil, err
	}
	return c, nil
}

func hasAuditPull(c *config.Config) bool {
	for _, ri := range c.Inputs {
		if _, ok := ri.Input.(*auditpull.AuditPull); ok {
			return true
		}
	}
	return false
}

func splitFilter(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ":") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// usage finds a plugin by name ("auditpull", "outputs.file", "file").
func usage(name string) (string, bool) {
	kind, short, found := strings.Cut(name, ".")
	if !found {
		kind, short = "", name
	}
	if kind == "" || kind == "inputs" {
		if f, ok := inputs.Inputs[short]; ok {
			return f().SampleConfig(), true
		}
	}
	if kind == "" || kind == "outputs" {
		if f, ok := outputs.Outputs[short]; ok {
			return f().SampleConfig(), true
		}
	}
	if kind == "" || kind == "processors" {
		if f, ok := processors.Processors[short]; ok {
			return f().SampleConfig(), true
		}
	}
	return "", false
}

func names[T any](m map[string]T) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

const agentSample = `# Telegraf with the auditpull input. Generated by "telegraf --sample-config".
# Run it with:   telegraf --config telegraf.conf
# Try it with:   telegraf --config telegraf.conf --test   (moves no checkpoint)

[agent]
  ## auditpull reads on its own schedule (poll_interval); "interval" only
  ## paces other inputs.
  interval = "10s"
  ## Room for every page auditpull may have in flight:
  ## at least max_undelivered_pages * page_size (16 * 100 by default).
  metric_buffer_limit = 10000
  metric_batch_size = 1000
  flush_interval = "10s"
  flush_jitter = "0s"
  ## Keep the event time exactly (auditpull metrics carry the event's time).
  precision = "0s"
  omit_hostname = false
  skip_processors_after_aggregators = true

`

// sampleConfig is the agent section, auditpull, outputs.file writing JSON to
// stdout, and every other compiled output and processor commented out.
func sampleConfig() string {
	var b strings.Builder
	b.WriteString(agentSample)
	b.WriteString("###############################################################################\n")
	b.WriteString("#                                  INPUTS                                     #\n")
	b.WriteString("###############################################################################\n\n")
	b.WriteString(inputs.Inputs["auditpull"]().SampleConfig())
	b.WriteString("\n###############################################################################\n")
	b.WriteString("#                                  OUTPUTS                                    #\n")
	b.WriteString("###############################################################################\n\n")
	b.WriteString("# Write the events as JSON lines to stdout (or files).\n")
	b.WriteString("[[outputs.file]]\n  files = [\"stdout\"]\n  data_format = \"json\"\n  json_timestamp_units = \"1ms\"\n\n")
	for _, name := range strings.Split(names(outputs.Outputs), ", ") {
		if name == "file" {
			continue
		}
		b.WriteString(commented(outputs.Outputs[name]().SampleConfig()))
	}
	b.WriteString("\n###############################################################################\n")
	b.WriteString("#                                PROCESSORS                                   #\n")
	b.WriteString("###############################################################################\n\n")
	for _, name := range strings.Split(names(processors.Processors), ", ") {
		b.WriteString(commented(processors.Processors[name]().SampleConfig()))
	}
	return b.String()
}

func commented(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString("# " + l + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

func version() string {
	v, tv := "(devel)", "v1.37"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/influxdata/telegraf" {
				tv = d.Version
			}
		}
	}
	return fmt.Sprintf("auditpull Telegraf %s (Telegraf %s)", v, tv)
}
