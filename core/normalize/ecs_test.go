package normalize_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/auditpull/auditpull/core/normalize"
)

// ecsSchema checks documents against the ECS field definitions in
// testdata: every field is an ECS field of the right type, arrays where
// ECS normalises to arrays, allowed values, and event.type values that
// ECS expects with the event.category given.
type ecsSchema map[string]ecsField

type ecsField struct {
	Type          string       `yaml:"type"`
	Normalize     []string     `yaml:"normalize"`
	AllowedValues []ecsAllowed `yaml:"allowed_values"`
}

type ecsAllowed struct {
	Name               string   `yaml:"name"`
	ExpectedEventTypes []string `yaml:"expected_event_types"`
}

func loadECS(t *testing.T) ecsSchema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ecs-"+normalize.ECSVersion, "ecs_fields.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var s ecsSchema
	if err := yaml.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// validate returns what is wrong with doc; the vendor's record under
// custom (the source's name) is not ECS's business.
func (s ecsSchema) validate(doc map[string]any, custom string) []string {
	var errs []string
	flat := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if prefix == "" && k == custom {
				continue
			}
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			flat[prefix+k] = v
		}
	}
	walk("", doc)
	for _, req := range []string{"@timestamp", "ecs.version", "event.kind"} {
		if _, ok := flat[req]; !ok {
			errs = append(errs, req+" is missing")
		}
	}
	names := make([]string, 0, len(flat))
	for k := range flat {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		v := flat[name]
		f, ok := s[name]
		if !ok {
			errs = append(errs, name+" is not an ECS field")
			continue
		}
		vals := []any{v}
		if arr, ok := v.([]any); ok {
			vals = arr
		} else if slices.Contains(f.Normalize, "array") {
			errs = append(errs, name+" must be an array")
		}
		for _, v := range vals {
			str, ok := v.(string)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: %v is not a %s", name, v, f.Type))
				continue
			}
			switch f.Type {
			case "date":
				if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
					errs = append(errs, fmt.Sprintf("%s: %q is not a date", name, str))
				}
			case "ip":
				if net.ParseIP(str) == nil {
					errs = append(errs, fmt.Sprintf("%s: %q is not an IP address", name, str))
				}
			case "keyword", "constant_keyword", "wildcard":
			default:
				errs = append(errs, fmt.Sprintf("%s: type %s unknown to the checker", name, f.Type))
			}
			if len(f.AllowedValues) > 0 && !slices.ContainsFunc(f.AllowedValues, func(a ecsAllowed) bool { return a.Name == str }) {
				errs = append(errs, fmt.Sprintf("%s: %q is not an allowed value", name, str))
			}
		}
	}
	cats, _ := flat["event.category"].([]any)
	types, _ := flat["event.type"].([]any)
	for _, c := range cats {
		for _, a := range s["event.category"].AllowedValues {
			if a.Name != c {
				continue
			}
			for _, ty := range types {
				if !slices.Contains(a.ExpectedEventTypes, ty.(string)) {
					errs = append(errs, fmt.Sprintf("event.type %q is not expected with event.category %q", ty, c))
				}
			}
		}
	}
	return errs
}
