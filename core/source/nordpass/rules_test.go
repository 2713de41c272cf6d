package nordpass

import (
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
)

// The rules the NordPass document states, pinned: a change to any of them
// is a change to what the document says, not a refactoring.
func TestTheDocumentedRules(t *testing.T) {
	if DefaultRate != (core.Rate{Requests: 2000, Period: 5 * time.Minute}) {
		t.Errorf("budget %+v; the document says 2000 requests per 5 minutes per IP", DefaultRate)
	}
	if MaxSpan != 90*24*time.Hour || Cap != 10000 || MaxPerPage != 100 || MaxUUIDs != 500 || DefaultLookback != 7*24*time.Hour {
		t.Errorf("limits %s, %d, %d, %d, %s; the document says 90 days, 10,000, 100, 500 and 7 days", MaxSpan, Cap, MaxPerPage, MaxUUIDs, DefaultLookback)
	}
	for region, want := range map[string]string{
		"eu": "https://api-activities.eu.nordpass.com",
		"us": "https://api-activities.us.nordpass.com",
	} {
		cfg, err := core.ParseMap(map[string]any{"source": Name, "nordpass.token": "t", "nordpass.region": region, "checkpoint.type": "memory"})
		if err != nil {
			t.Fatal(err)
		}
		s := &Settings{}
		if err := core.UnpackStrict(cfg.SourceSection(), s, Name+"."); err != nil {
			t.Fatal(err)
		}
		if p, err := check(cfg, s); err != nil || p.base+queryPath != want+"/activities/query" {
			t.Errorf("region %s: %+v, %v; want %s/activities/query", region, p, err, want)
		}
	}
}
