// Package testkit holds the set-up the tests of every package share: a
// simulated NordPass organisation behind a local server, a rig that opens
// pollers on a fake clock, log sinks, and waiting for a condition. It is
// imported by tests only.
package testkit

import (
	"bytes"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/test/sim"
)

// Org is a simulated NordPass organisation whose history [Start, End) is
// settled, served over HTTP until the test ends.
type Org struct {
	NP         *sim.NordPass
	Base       string // the API base URL (nordpass.base_url)
	Start, End time.Time
}

// NewOrg serves the organisation cfg describes (its history [cfg.From,
// cfg.To)), accepting token.
func NewOrg(t testing.TB, cfg sim.NordPassConfig, token string) *Org {
	t.Helper()
	o := &Org{NP: sim.NewNordPass(cfg), Start: cfg.From, End: cfg.To}
	o.NP.AddToken(token, sim.TokenValid)
	srv := httptest.NewServer(sim.NewServer().Mount(sim.NordPassPrefix, o.NP))
	t.Cleanup(srv.Close)
	o.Base = srv.URL + sim.NordPassPrefix
	return o
}

// Truth is the raw JSON of every event the organisation holds, sorted: what
// one complete read must deliver, as a multiset.
func (o *Org) Truth() []string {
	var out []string
	for _, r := range o.NP.Truth(o.Start.Add(-time.Hour), time.Now().Add(time.Hour)) {
		out = append(out, string(r))
	}
	sort.Strings(out)
	return out
}

// SyncBuffer is a log sink safe for concurrent writes.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WaitFor polls cond until it holds, failing the test after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
