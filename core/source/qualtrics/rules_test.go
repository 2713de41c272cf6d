package qualtrics

import (
	"testing"

	"github.com/auditpull/auditpull/core"
)

// The API URL is https://{datacenter}.qualtrics.com/API/v3, as Qualtrics
// documents it; a datacenter given with its domain is the same one.
func TestTheDatacenterTemplate(t *testing.T) {
	for dc, want := range map[string]string{
		"iad1": "https://iad1.qualtrics.com/API/v3", "FRA1": "https://fra1.qualtrics.com/API/v3",
		"ca1.qualtrics.com": "https://ca1.qualtrics.com/API/v3",
	} {
		cfg, err := core.ParseMap(map[string]any{"source": Name, "checkpoint.type": "memory",
			"qualtrics": map[string]any{"datacenter": dc, "api_token": "t", "activity_types": []any{"login"}}})
		if err != nil {
			t.Fatal(err)
		}
		s := &Settings{}
		if err := core.UnpackStrict(cfg.SourceSection(), s, Name+"."); err != nil {
			t.Fatal(err)
		}
		p, err := check(cfg, s)
		if err != nil || p.base.String() != want {
			t.Errorf("datacenter %q: %v, %v; want %s", dc, p.base, err, want)
		}
	}
}
