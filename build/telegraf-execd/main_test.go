package main

// The test binary re-executes itself as the shim (TestMain), so each case is
// the real command in its own process, as inputs.execd runs it.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/parsers/influx"

	"github.com/auditpull/auditpull/test/sim"

	"github.com/auditpull/auditpull/internal/testkit"
)

const (
	mainEnv   = "AUDITPULL_EXECD_TEST_MAIN"
	tokenEnv  = "AP_TEST_NORDPASS_TOKEN"
	testToken = "np-tok-91d0-SECRET-must-not-leak"
)

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

type fixture struct{ *testkit.Org }

func newFixture(t *testing.T, count int) *fixture {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	return &fixture{testkit.NewOrg(t, sim.NordPassConfig{Seed: 5, Count: count, From: now.Add(-24 * time.Hour), To: now.Add(-time.Hour), RateLimit: -1}, testToken)}
}

func (f *fixture) conf(t *testing.T, dir, extra string) string {
	t.Helper()
	c := fmt.Sprintf(`[[inputs.auditpull]]
  source = "nordpass"
  initial_lookback = "2d"
  poll_interval = "300ms"
  settle_delay = "0s"
  page_size = 40
  stats_interval = "0s"
%s
  [inputs.auditpull.checkpoint]
    path = %q
  [inputs.auditpull.nordpass]
    base_url = %q
    token = "${%s}"
`, extra, dir, f.Base, tokenEnv)
	path := filepath.Join(t.TempDir(), "auditpull.conf")
	if err := os.WriteFile(path, []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type proc struct {
	cmd            *exec.Cmd
	stdout, stderr testkit.SyncBuffer
	done           chan struct{}
}

func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), mainEnv+"=1", tokenEnv+"="+testToken)
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	// inputs.execd keeps stdin open; closing it stops the shim.
	if _, err := p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the shim did not exit\nstderr:\n%s", p.stderr.String())
	}
	if strings.Contains(p.stdout.String()+p.stderr.String(), testToken) {
		t.Fatal("the token appears in the shim's output")
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *proc) events(t *testing.T) []string {
	t.Helper()
	parser := &influx.Parser{}
	if err := parser.Init(); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.SplitAfter(p.stdout.String(), "\n") {
		if !strings.HasPrefix(line, "auditpull,") || !strings.HasSuffix(line, "\n") {
			continue
		}
		ms, err := parser.Parse([]byte(line))
		if err != nil {
			t.Fatalf("not line protocol: %v\n%s", err, line)
		}
		msg, _ := ms[0].GetField("message")
		out = append(out, msg.(string))
	}
	sort.Strings(out)
	return out
}

func waitFor(t *testing.T, p *proc, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		select {
		case <-p.done:
			t.Fatalf("the shim exited before %s\nstderr:\n%s", what, p.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\nstderr:\n%s", what, p.stderr.String())
		}
	}
}

func TestShimWritesEveryEventAsLineProtocolAndSavesThePosition(t *testing.T) {
	f := newFixture(t, 250)
	dir := t.TempDir()
	want := f.Truth()
	p := start(t, nil, "--config", f.conf(t, dir, ""))
	waitFor(t, p, "every event", func() bool { return strings.Count(p.stdout.String(), "\nauditpull,")+1 >= len(want) })
	time.Sleep(300 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr.String())
	}
	if got := p.events(t); !slices.Equal(got, want) {
		t.Fatalf("the shim wrote %d events; want exactly the %d the API holds", len(got), len(want))
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(files) != 1 {
		t.Fatalf("checkpoint files %v", files)
	}
	for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
		if line != "" && !slices.Contains([]string{"E!", "W!", "I!", "D!"}, line[:2]) {
			t.Errorf("stderr line without a level inputs.execd understands: %q", line)
		}
	}

	// Restarted (closing stdin stops it, as when Telegraf exits), nothing is
	// written twice.
	p2 := start(t, nil, "--config", f.conf(t, dir, ""))
	time.Sleep(time.Second)
	p2.cmd.Process.Signal(syscall.SIGTERM)
	p2.wait(t)
	if got := p2.events(t); len(got) != 0 {
		t.Fatalf("the restarted shim wrote %d events again", len(got))
	}
}

// inputs.execd takes a stderr line's level from its "E! " prefix; a line
// without one is logged as stderr "...", whatever it says.
func TestShimReportsTheInputsErrorsAsErrorLines(t *testing.T) {
	f := newFixture(t, 10)
	p := start(t, []string{tokenEnv + "=np-tok-refused"}, "--config", f.conf(t, t.TempDir(), ""))
	waitFor(t, p, "the refused token reported", func() bool { return strings.Contains(p.stderr.String(), "polling stopped") })
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t)
	for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
		if strings.Contains(line, "polling stopped") && !strings.HasPrefix(line, "E! Error in plugin: ") {
			t.Errorf("the input's error is not an error line: %q", line)
		}
		if line != "" && !slices.Contains([]string{"E!", "W!", "I!", "D!"}, line[:2]) {
			t.Errorf("stderr line without a level inputs.execd understands: %q", line)
		}
	}
}

func TestShimDryRunLeavesTheCheckpointAlone(t *testing.T) {
	f := newFixture(t, 60)
	dir := t.TempDir()
	p := start(t, nil, "--config", f.conf(t, dir, ""), "--dry-run")
	waitFor(t, p, "the events", func() bool { return strings.Count(p.stdout.String(), "auditpull,") >= 60 })
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t)
	if files, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(files) != 0 {
		t.Fatalf("--dry-run wrote %v", files)
	}
}

func TestShimRefusesInvalidConfigurationNamingTheOption(t *testing.T) {
	f := newFixture(t, 1)
	cases := []struct {
		name, extra, want string
		env               []string
	}{
		{name: "misspelt option", extra: `  pol_interval = "1m"`, want: "pol_interval"},
		{name: "invalid value", extra: "  page_size = 1000", want: "page_size"},
		{name: "missing token", env: []string{tokenEnv + "="}, want: "nordpass.token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := start(t, c.env, "--config", f.conf(t, t.TempDir(), c.extra))
			if code := p.wait(t); code == 0 {
				t.Fatal("the shim accepted an invalid configuration")
			}
			if !strings.Contains(p.stderr.String(), c.want) || !strings.HasPrefix(p.stderr.String(), "E! ") {
				t.Fatalf("the error does not name %q:\n%s", c.want, p.stderr.String())
			}
		})
	}
}

func TestShimExampleConfigurationLoads(t *testing.T) {
	t.Setenv("NORDPASS_TOKEN", "x")
	b, err := os.ReadFile("../../examples/configs/telegraf/auditpull-execd.conf")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "auditpull-execd.conf")
	if err := os.WriteFile(path, bytes.ReplaceAll(b, []byte("<ORGANIZATION>"), []byte("example")), 0o600); err != nil {
		t.Fatal(err)
	}
	plugin, err := load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := plugin.Init(); err != nil {
		t.Fatalf("auditpull refuses the example: %v", err)
	}
	// The Telegraf side of the example is plain TOML for a stock Telegraf.
	var doc map[string]any
	if _, err := toml.DecodeFile("../../examples/configs/telegraf/telegraf-execd.conf", &doc); err != nil {
		t.Fatal(err)
	}
}

// Values are written into TOML text before it is parsed, so every character
// TOML treats specially must come through as itself.
func TestATokenWithQuotesBackslashesAndDollarsRoundTrips(t *testing.T) {
	const other = "AP_TEST_OTHER"
	t.Setenv(other, "expanded-twice")
	t.Setenv("HOME", "/expanded-twice")
	tokens := map[string]string{
		"quotes":          `a"b""c"""d`,
		"backslashes":     `\a\\b\"c\u0041\n\`,
		"dollars":         "$a$$b${HOME}$HOME${" + other + "}$",
		"newline":         "line1\nline2\r\n",
		"controls":        "\x01\b\t\f\x1b\x1f\x7f", // no NUL: the environment cannot hold one
		"toml syntax":     "#x'''y\"\n[[inputs.other]]\n",
		"unicode":         "ü€😀",
		"everything":      "\"\\$${HOME}\n'",
		"empty":           "",
		"literal safe":    `C:\dir\$HOME "quoted"` + "\t",
		"multi-line safe": "a\\b\nc\"d$e",
		"leading newline": "\nx",
	}
	forms := []struct {
		name, value string
		holds       func(string) bool // whether the form can carry the token
	}{
		{"basic", `"${` + tokenEnv + `}"`, nil},
		{"basic with text around", `"<${` + tokenEnv + `}>"`, nil},
		{"multi-line basic", `"""${` + tokenEnv + `}"""`, nil},
		{"literal", `'${` + tokenEnv + `}'`, func(s string) bool { return !strings.ContainsAny(s, "'\n\r\x01\b\f\x1b\x1f\x7f") }},
		{"multi-line literal", `'''${` + tokenEnv + `}'''`, func(s string) bool {
			return !strings.ContainsAny(s, "'\r\x01\b\f\x1b\x1f\x7f") && !strings.HasPrefix(s, "\n")
		}},
	}
	for _, form := range forms {
		for name, token := range tokens {
			t.Run(form.name+"/"+name, func(t *testing.T) {
				t.Setenv(tokenEnv, token)
				path := writeConf(t, `[[inputs.auditpull]]
  source = "nordpass"
  # token = "${`+tokenEnv+`}" in a comment stays a comment
  [inputs.auditpull.nordpass]
    token = `+form.value+`
`)
				plugin, err := load(path)
				if form.holds != nil && !form.holds(token) {
					if err == nil || !strings.Contains(err.Error(), "${"+tokenEnv+"}") {
						t.Fatalf("a %s string cannot hold %q: want an error naming the variable, got %v", form.name, token, err)
					}
					if token != "" && strings.Contains(err.Error(), token) {
						t.Fatalf("the error shows the token: %v", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				want := token
				if form.name == "basic with text around" {
					want = "<" + token + ">"
				}
				if got := secretValue(t, &plugin.NordPass.Token); got != want {
					t.Fatalf("the plugin got token %q; want %q", got, want)
				}
			})
		}
	}
}

// Outside quotes a value is TOML text, so only a single value is taken.
func TestAVariableOutsideQuotesIsOneTOMLValue(t *testing.T) {
	const pageEnv = "AP_TEST_PAGE_SIZE"
	cases := []struct{ name, value, want string }{
		{name: "number", value: "40"},
		{name: "extra option", value: "40\n  stream = \"injected\"", want: "line break"},
		{name: "text", value: "np-tok-91d0", want: "not a TOML value"},
		{name: "second key", value: "40, stream = \"x\"", want: "not a TOML value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(pageEnv, c.value)
			plugin, err := load(writeConf(t, `[[inputs.auditpull]]
  source = "nordpass"
  page_size = ${`+pageEnv+`}
`))
			if c.want == "" {
				if err != nil || plugin.PageSize != 40 {
					t.Fatalf("page_size %v, %v; want 40", plugin.PageSize, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), c.value) {
				t.Fatalf("got %v; want an error saying %q without the value", err, c.want)
			}
		})
	}
}

// The API accepts only the exact token, so every event arriving proves the
// token went from the environment through the configuration, the plugin and
// onto the wire unchanged. (A header cannot carry a newline.)
func TestShimAuthenticatesWithATokenHoldingQuotesBackslashesAndDollars(t *testing.T) {
	t.Setenv("HOME", "/expanded-twice")
	for name, token := range map[string]string{
		"quotes and backslashes": `np-"tok"-\"-\\-\u0041-\n-\`,
		"dollars":                "np-$tok-$$-${HOME}-$HOME-" + "${" + tokenEnv + "}-$",
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, 20)
			f.NP.AddToken(token, sim.TokenValid)
			want := f.Truth()
			p := start(t, []string{tokenEnv + "=" + token}, "--config", f.conf(t, t.TempDir(), ""))
			waitFor(t, p, "every event", func() bool { return strings.Count(p.stdout.String(), "\nauditpull,")+1 >= len(want) })
			p.cmd.Process.Signal(syscall.SIGTERM)
			if code := p.wait(t); code != 0 {
				t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr.String())
			}
			if strings.Contains(p.stdout.String()+p.stderr.String(), token) {
				t.Fatal("the token appears in the shim's output")
			}
			if got := p.events(t); !slices.Equal(got, want) {
				t.Fatalf("the shim wrote %d events; want the %d the API holds", len(got), len(want))
			}
		})
	}
}

func writeConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "auditpull.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func secretValue(t *testing.T, s *config.Secret) string {
	t.Helper()
	buf, err := s.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Destroy()
	return buf.String()
}
