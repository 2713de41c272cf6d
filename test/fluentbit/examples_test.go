package fluentbit

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const examples = "../../examples/configs/fluentbit"

// auditpullInputs returns the properties of every active auditpull input of
// a classic (.conf) or YAML Fluent Bit configuration, in file order.
func auditpullInputs(t *testing.T, path string) [][][2]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var inputs [][][2]string
	if strings.HasSuffix(path, ".yaml") {
		var doc struct {
			Pipeline struct {
				Inputs []yaml.Node `yaml:"inputs"`
			} `yaml:"pipeline"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, n := range doc.Pipeline.Inputs {
			var kv [][2]string
			for i := 0; i+1 < len(n.Content); i += 2 {
				kv = append(kv, [2]string{n.Content[i].Value, n.Content[i+1].Value})
			}
			inputs = append(inputs, kv)
		}
	} else {
		var cur *[][2]string
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case line == "" || strings.HasPrefix(line, "#"):
			case strings.HasPrefix(line, "["):
				cur = nil
				if strings.EqualFold(line, "[INPUT]") {
					inputs = append(inputs, nil)
					cur = &inputs[len(inputs)-1]
				}
			case cur != nil:
				k, v, _ := strings.Cut(line, " ")
				*cur = append(*cur, [2]string{k, strings.TrimSpace(v)})
			}
		}
	}
	var out [][][2]string
	for _, in := range inputs {
		for _, kv := range in {
			if strings.EqualFold(kv[0], "name") && kv[1] == "auditpull" {
				out = append(out, in)
			}
		}
	}
	return out
}

// The example configurations run as they are, against the simulator (only
// its address differs), through the same harness.
func TestExampleConfigurationsRun(t *testing.T) {
	for _, name := range []string{"fluent-bit.conf", "fluent-bit.yaml"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			inputs := auditpullInputs(t, filepath.Join(examples, name))
			if len(inputs) != 1 {
				t.Fatalf("%d active auditpull inputs, want the simulator's only", len(inputs))
			}
			o := newOrgs(t, 300, "demo-token")[0]
			dir := t.TempDir()
			var props []string
			for _, kv := range inputs[0] {
				k, v := strings.ToLower(kv[0]), kv[1]
				switch {
				case k == "name" || k == "tag" || strings.HasPrefix(k, "storage."):
					continue // Fluent Bit's own
				case k == "nordpass.base_url":
					v = o.base
				case k == "checkpoint.path":
					v = dir
				case k == "initial_lookback":
					v = "4d" // the test history is 3 days old
				}
				props = append(props, kv[0]+"="+v)
			}
			res := harnessRun{IntervalMS: 100, Records: 300, Instances: [][]string{props}}.run(t)
			assertClean(t, res, false)
			assertSameEvents(t, res.Records, o.truth())
			assertRecordShape(t, res.Records, "nordpass-demo")
		})
	}
	for _, name := range []string{"plugins.conf", "plugins.yaml"} {
		b, err := os.ReadFile(filepath.Join(examples, name))
		if err != nil || !strings.Contains(string(b), "build/out/in_auditpull.so") {
			t.Errorf("%s does not load build/out/in_auditpull.so (%v)", name, err)
		}
	}
}
