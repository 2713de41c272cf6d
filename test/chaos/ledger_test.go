package chaos

import (
	"fmt"
	"sort"

	"github.com/auditpull/auditpull/test/bench/hostrun"
)

// ledger compares what hosts delivered with the simulator's truth, as
// multisets of canonical events: two genuine events may be identical.
type ledger struct {
	truth map[string]int
	want  int
	// identical counts the genuine events of the history that are
	// byte-identical to another one (same user, action and second): a
	// destination that de-duplicates on event_id keeps one of each.
	identical int

	have     map[string]int
	lines    int // events read from the outputs
	missing  int // truth events not delivered yet (counting copies)
	dups     int // deliveries beyond the truth's count
	foreign  int // events the truth does not hold
	samples  []string
	badLines int // lines that are not an event of this host's format
}

func newLedger(truth [][]byte) (*ledger, error) {
	l := &ledger{truth: map[string]int{}, have: map[string]int{}}
	for _, raw := range truth {
		c, err := hostrun.Canonical(raw)
		if err != nil {
			return nil, fmt.Errorf("truth: %w", err)
		}
		l.truth[c]++
	}
	l.want, l.missing = len(truth), len(truth)
	l.identical = len(truth) - len(l.truth)
	return l, nil
}

// line records one complete output line of host h.
func (l *ledger) line(h hostrun.Host, b []byte) {
	ev, err := hostrun.Event(h, b)
	if err != nil {
		l.badLines++
		l.sample(fmt.Sprintf("unreadable line %.160q: %v", b, err))
		return
	}
	l.lines++
	n := l.have[ev]
	l.have[ev] = n + 1
	switch t := l.truth[ev]; {
	case t == 0:
		l.foreign++
		l.sample("foreign event " + truncate(ev, 160))
	case n < t:
		l.missing--
	default:
		l.dups++
	}
}

func (l *ledger) sample(s string) {
	if len(l.samples) < 5 {
		l.samples = append(l.samples, s)
	}
}

// missingSamples lists a few events not delivered.
func (l *ledger) missingSamples(n int) []string {
	var out []string
	for ev, t := range l.truth {
		if l.have[ev] < t {
			out = append(out, truncate(ev, 200))
		}
	}
	sort.Strings(out)
	return out[:min(n, len(out))]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
