package testkit

import (
	"context"
	"strings"
	"testing"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
	"github.com/auditpull/auditpull/test/sim"
)

// Rig opens pollers from a config map the way a source's tests do, on a
// fake clock the test advances. The store and the log outlive each
// poller, so that a second poller is a restart that resumes, and a test
// can read the log (a warning, a secret that must not be there) after
// the poller has gone.
type Rig struct {
	T     testing.TB
	Clock *sim.FakeClock
	Store *checkpoint.Memory
	Log   *LogSink
	Cfg   map[string]any
	// DeferOpen is core.Options.DeferOpen: how Telegraf and Fluent Bit
	// open a poller, so that a vendor down at start delays only the first
	// read.
	DeferOpen bool
	// CloseAtCleanup closes every poller when the test ends, for tests
	// that do not close their own. Left off where a finished test must
	// let go of what it read: a cleanup keeps its poller alive until the
	// parent test ends.
	CloseAtCleanup bool
}

// NewRig is a rig with an empty store and log; cfg is the source's
// defaults, which Set and the test then change.
func NewRig(t testing.TB, clock *sim.FakeClock, cfg map[string]any) *Rig {
	return &Rig{T: t, Clock: clock, Store: checkpoint.NewMemory(), Log: &LogSink{}, Cfg: cfg}
}

// Set sets config keys from key/value pairs. A section given whole
// replaces the dotted defaults inside it: ParseMap refuses a key spelt
// both ways.
func (r *Rig) Set(kv ...any) *Rig {
	for i := 0; i < len(kv); i += 2 {
		key := kv[i].(string)
		for k := range r.Cfg {
			if strings.HasPrefix(k, key+".") {
				delete(r.Cfg, k)
			}
		}
		r.Cfg[key] = kv[i+1]
	}
	return r
}

// Open returns the poller Cfg describes, or NewPoller's error, which is
// what a test of a failing start looks at. A Cfg that does not parse is
// the test's own mistake and fails it.
func (r *Rig) Open() (*core.Poller, error) {
	r.T.Helper()
	cfg, err := core.ParseMap(r.Cfg)
	if err != nil {
		r.T.Fatal(err)
	}
	p, err := core.NewPoller(context.Background(), cfg, core.Options{
		Clock: r.Clock, Store: r.Store, Logger: r.Log, DeferOpen: r.DeferOpen,
	})
	if err == nil && r.CloseAtCleanup {
		// Its error is ignored as a test's own deferred Close is: what the
		// test asserts it has read already.
		r.T.Cleanup(func() { _ = p.Close(context.Background()) })
	}
	return p, err
}

// Poller is Open for a test that needs the poller to start.
func (r *Rig) Poller() *core.Poller {
	r.T.Helper()
	p, err := r.Open()
	if err != nil {
		r.T.Fatal(err)
	}
	return p
}

// DrainAcrossRestart reads the poller Cfg describes until it is caught up,
// stopping it after stopAfter batches (none if 0) and reading on with a
// new one from the checkpoint it saved. It returns every raw event and
// what the pollers counted unreachable; an error reading fails the test.
func (r *Rig) DrainAcrossRestart(stopAfter int) (got []string, unreachable int64) {
	r.T.Helper()
	if stopAfter > 0 {
		p := r.Poller()
		got, _ = Drain(p, stopAfter)
		unreachable = p.Metrics().Unreachable.Load()
		if err := p.Close(context.Background()); err != nil {
			r.T.Fatal(err)
		}
	}
	p := r.Poller()
	defer p.Close(context.Background())
	rest, err := Drain(p, -1)
	if err != nil {
		r.T.Fatal(err)
	}
	return append(got, rest...), unreachable + p.Metrics().Unreachable.Load()
}
