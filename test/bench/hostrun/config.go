package hostrun

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Input is one auditpull input: its core options by their dotted keys,
// exactly as in the README's configuration table ("source",
// "nordpass.base_url", "checkpoint.path", "retry.max_attempts", …). Each host
// renders them in its own syntax. Secrets are given as "${NAME}" and put in
// Run.Env: every host expands environment references itself, so the value
// never appears in a config file or a command line.
type Input map[string]string

// Run is one host process: what it reads, where it writes.
type Run struct {
	Host Host
	Bin  Binaries
	// Dir receives the rendered configuration and the process's logs.
	Dir string
	// Out is the file the host writes the events to, one per line.
	Out string
	// Inputs are the auditpull inputs of the process (all hosts but Peer).
	Inputs []Input
	// Env is added to the process's environment (the token variable).
	Env []string

	// Telegraf: the agent's flush interval (default 1s), and whether the
	// file output writes the vendor's JSON one event per line with the
	// examples' template serializer (like every Benthos row) instead of
	// Telegraf's JSON serializer (metrics with the event in fields.message).
	FlushInterval string
	RawEvents     bool

	// Fluent Bit harness: the collect interval (default 1000 ms, Fluent
	// Bit's fixed timer for Go inputs), a record count at which it exits
	// (0: never), and a timeout (default 1 h).
	IntervalMS int
	Records    int
	Timeout    time.Duration

	// Peer: the NordPass query URL, the token as "${NAME}", and the
	// windows [from, to] (Unix seconds, inclusive) it pages through.
	PeerURL     string
	PeerToken   string
	PeerWindows [][2]int64
	PeerPerPage int

	// FileCopy: the file of events, one per line, it reads.
	CopyIn string
}

// Start renders the configuration and starts the host; name tells the
// config and log files of this run apart.
func (r Run) Start(name string) (*Proc, error) {
	cmd, err := r.Command(name)
	if err != nil {
		return nil, err
	}
	return Start(cmd, r.Dir, name)
}

// Command renders the configuration into Dir and returns the command that
// runs the host with it.
func (r Run) Command(name string) (*exec.Cmd, error) {
	if !r.Bin.Has(r.Host) {
		return nil, fmt.Errorf("no binaries for %s", r.Host)
	}
	write := func(ext, content string) (string, error) {
		path := filepath.Join(r.Dir, name+ext)
		return path, os.WriteFile(path, []byte(content), 0o600)
	}
	var cmd *exec.Cmd
	switch r.Host {
	case Benthos, BenthosFileCache:
		if r.Host == BenthosFileCache {
			// The file cache writes into its directory but does not
			// make it, unlike the file store.
			for _, in := range r.Inputs {
				if err := os.MkdirAll(in["checkpoint.path"], 0o700); err != nil {
					return nil, err
				}
			}
		}
		conf, err := write(".yaml", r.benthosConfig())
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(r.Bin.Benthos, "-c", conf)
	case Peer:
		conf, err := write(".yaml", r.peerConfig())
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(r.Bin.Benthos, "-c", conf)
	case FileCopy:
		conf, err := write(".yaml", r.fileCopyConfig())
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(r.Bin.Benthos, "-c", conf)
	case Telegraf:
		conf, err := write(".conf", r.telegrafConfig())
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(r.Bin.Telegraf, "--config", conf)
	case FluentBit:
		cmd = exec.Command(r.Bin.FluentBitHarness, r.harnessArgs()...)
	default:
		return nil, fmt.Errorf("unknown host %q", r.Host)
	}
	cmd.Env = env(r.Env...)
	cmd.Dir = r.Dir
	return cmd, nil
}

// tree nests dotted keys one level: "retry.max_attempts" goes under "retry".
// Keys without a dot come first, each group sorted.
func tree(in Input) (flat []string, groups map[string][]string) {
	groups = map[string][]string{}
	for k := range in {
		if g, rest, ok := strings.Cut(k, "."); ok {
			groups[g] = append(groups[g], rest)
		} else {
			flat = append(flat, k)
		}
	}
	sort.Strings(flat)
	for _, v := range groups {
		sort.Strings(v)
	}
	return flat, groups
}

func sortedKeys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// benthosInput renders one input at the given indentation.
func benthosInput(b *strings.Builder, in Input, indent string) {
	flat, groups := tree(in)
	for _, k := range flat {
		fmt.Fprintf(b, "%s%s: %s\n", indent, k, value(in[k]))
	}
	for _, g := range sortedKeys(groups) {
		fmt.Fprintf(b, "%s%s:\n", indent, g)
		for _, k := range groups[g] {
			fmt.Fprintf(b, "%s  %s: %s\n", indent, k, value(in[g+"."+k]))
		}
	}
}

func (r Run) benthosConfig() string {
	inputs := r.Inputs
	var cacheDir string
	if r.Host == BenthosFileCache {
		// One process, so no lease: a killed reader's lease would hold
		// the next run back for two TTLs (the file cache keeps no TTL).
		// The inputs of a run share one checkpoint directory, so one
		// cache serves them all (keys are per stream).
		inputs = nil
		for _, in := range r.Inputs {
			in = clone(in)
			cacheDir = in["checkpoint.path"]
			delete(in, "checkpoint.path")
			in["checkpoint.cache"] = "auditpull_state"
			in["checkpoint.lease_ttl"] = "0s"
			inputs = append(inputs, in)
		}
	}
	var b strings.Builder
	b.WriteString("http:\n  enabled: false\ninput:\n")
	if len(inputs) == 1 {
		b.WriteString("  auditpull:\n")
		benthosInput(&b, inputs[0], "    ")
	} else {
		b.WriteString("  broker:\n    inputs:\n")
		for _, in := range inputs {
			b.WriteString("      - auditpull:\n")
			benthosInput(&b, in, "          ")
		}
	}
	if cacheDir != "" {
		fmt.Fprintf(&b, "cache_resources:\n  - label: auditpull_state\n    file:\n      directory: %s\n", value(cacheDir))
	}
	b.WriteString(benthosOutput(r.Out))
	return b.String()
}

func (r Run) telegrafConfig() string {
	flush := r.FlushInterval
	if flush == "" {
		flush = "1s"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `[agent]
  interval = "10s"
  flush_interval = %q
  flush_jitter = "0s"
  metric_batch_size = 1000
  metric_buffer_limit = 10000
  omit_hostname = true
  skip_processors_after_aggregators = true
`, flush)
	for _, in := range r.Inputs {
		in = clone(in)
		// Telegraf-only options: no statistics measurement in the output.
		if _, ok := in["stats_interval"]; !ok {
			in["stats_interval"] = "0s"
		}
		flat, groups := tree(in)
		b.WriteString("\n[[inputs.auditpull]]\n")
		for _, k := range flat {
			fmt.Fprintf(&b, "  %s = %s\n", k, value(in[k]))
		}
		for _, g := range sortedKeys(groups) {
			fmt.Fprintf(&b, "  [inputs.auditpull.%s]\n", g)
			for _, k := range groups[g] {
				fmt.Fprintf(&b, "    %s = %s\n", k, value(in[g+"."+k]))
			}
		}
	}
	format := "data_format = \"json\"\n  json_timestamp_units = \"1ms\""
	if r.RawEvents {
		format = `data_format = "template"` + "\n  " + `template = "{{ .Field \"message\" }}\n"`
	}
	// As the examples set it: an output reports a batch delivered once all
	// of it is written, so a batch of one page bounds what a crash in the
	// middle of a write sends again.
	fmt.Fprintf(&b, `
[[outputs.file]]
  files = [%q]
  %s
  metric_batch_size = %d
  namepass = ["auditpull"]
`, r.Out, format, r.pageSize())
	return b.String()
}

// pageSize is the largest page_size of the inputs (the auditpull default
// when none sets it).
func (r Run) pageSize() int {
	n := 0
	for _, in := range r.Inputs {
		v, err := strconv.Atoi(in["page_size"])
		if err != nil {
			v = 100
		}
		n = max(n, v)
	}
	return max(n, 1)
}

func (r Run) harnessArgs() []string {
	interval := r.IntervalMS
	if interval == 0 {
		interval = 1000
	}
	timeout := r.Timeout
	if timeout == 0 {
		timeout = time.Hour
	}
	args := []string{"-so", r.Bin.FluentBitSO, "-out", r.Out,
		"-interval-ms", strconv.Itoa(interval), "-timeout-ms", strconv.FormatInt(timeout.Milliseconds(), 10)}
	if r.Records > 0 {
		args = append(args, "-records", strconv.Itoa(r.Records))
	}
	for _, in := range r.Inputs {
		args = append(args, "-instance")
		keys := make([]string, 0, len(in))
		for k := range in {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			args = append(args, "-p", k+"="+in[k])
		}
	}
	return args
}

// peerConfig is what a Benthos user would write to pull NordPass activity
// without auditpull, following the http_client documentation's advice for
// pagination that needs logic ("use an http processor, often combined with
// a generate input"): generate emits one request per window; an http
// processor fetches its first page; a mapping turns the page into its
// events plus one request per remaining page (metadata.total_pages); a
// second http processor fetches those; unarchive splits every page's data
// array into one message per event. No checkpoint, no de-duplication, no
// window splitting (the windows are given).
func (r Run) peerConfig() string {
	perPage := r.PeerPerPage
	if perPage == 0 {
		perPage = 100
	}
	var windows []string
	for _, w := range r.PeerWindows {
		windows = append(windows, fmt.Sprintf("[%d, %d]", w[0], w[1]))
	}
	http := fmt.Sprintf(`http:
              url: %s
              verb: POST
              headers:
                Authorization: %s
                Content-Type: application/json`, strconv.Quote(r.PeerURL), strconv.Quote(r.PeerToken))
	return fmt.Sprintf(`http:
  enabled: false
input:
  generate:
    count: %d
    interval: ""
    mapping: |
      let w = [%s].index(counter() - 1)
      root = {"timestamp_from": $w.index(0), "timestamp_to": $w.index(1), "page": 1, "per_page": %d}
pipeline:
  processors:
    - branch:
        processors:
          - %s
        result_map: root.response = this
    - mapping: |
        let req = this.without("response")
        let pages = this.response.metadata.total_pages
        root = [{"response": this.response}].concat(
          if $pages > 1 { range(2, $pages + 1).map_each(p -> {"request": $req.assign({"page": p})}) } else { [] }
        )
    - unarchive:
        format: json_array
    - branch:
        request_map: root = this.request | deleted()
        processors:
          - %s
        result_map: root.response = this
    - mapping: root = this.response.data
    - unarchive:
        format: json_array
`, len(r.PeerWindows), strings.Join(windows, ", "), perPage, http, http) + benthosOutput(r.Out)
}

// fileCopyConfig reads CopyIn line by line, one message per line, in batches
// of 100 like a page, into the same output as every other Benthos run; it
// exits at the end of the file.
func (r Run) fileCopyConfig() string {
	return fmt.Sprintf(`http:
  enabled: false
input:
  batched:
    child:
      file:
        paths: [%s]
        scanner:
          lines: {}
    policy:
      count: 100
      period: 100ms
`, strconv.Quote(r.CopyIn)) + benthosOutput(r.Out)
}

// benthosOutput is the end of every Benthos config here: one line per
// message into out, so every Benthos row pays for the same output.
func benthosOutput(out string) string {
	return fmt.Sprintf("output:\n  file:\n    path: %s\n    codec: lines\nlogger:\n  level: INFO\n", strconv.Quote(out))
}

func clone(in Input) Input {
	out := make(Input, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}
