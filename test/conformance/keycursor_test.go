package conformance

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/test/sim"
)

// An API whose cursor names the last record served (OLOID's nextToken, as
// simulated) and that serves records of one instant in a new order at each
// request can leave the cursor past records of the instant a page ended
// on. The poller narrows the next query to that instant instead, so the
// run comes whole; a run longer than a page goes on by the cursor and is
// read again by itself. This reads a history full of such runs under
// every order of ties and of pages, both bounds of the query either way,
// in one go and with the poller stopped and started again after every
// page (its narrowed query then comes from the checkpoint): every event
// exactly once. Following the cursor, 11–16 of 888 were lost in the four
// cells where ties were shuffled and pages came oldest first.
func TestAKeyCursorReadKeepsEveryTieAcrossARestartAtEveryPage(t *testing.T) {
	const pageSize = 30
	ties := []struct {
		name  string
		order sim.TieOrder
	}{{"insertion order", sim.TiesInsertionOrder}, {"reversed", sim.TiesReversed}, {"shuffled", sim.TiesShuffled}}
	for _, tie := range ties {
		for _, ascending := range []bool{false, true} {
			for _, exclusive := range []bool{false, true} {
				for _, restarts := range []bool{false, true} {
					name := fmt.Sprintf("ties %s/oldest first %v/exclusive bounds %v/restart at every page %v", tie.name, ascending, exclusive, restarts)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						start := now0.Add(-24 * time.Hour)
						o := simOptions{count: 300, from: start, to: now0}
						o.readings.Ties = tie.order
						o.oloid = func(c *sim.OLOIDConfig) {
							c.Ascending = ascending
							c.StartExclusive, c.EndExclusive = exclusive, exclusive
						}
						r := newRig(t, vendorNamed(t, "oloid"), o)
						r.Set("start_time", start.Format(time.RFC3339), "page_size", pageSize)
						// Runs of every length around a page: a run longer than a
						// page, its neighbour, and shorter runs every 20 minutes, so
						// that most page boundaries fall inside one.
						midnight := now0.Truncate(24 * time.Hour)
						r.env.addBurst(midnight, pageSize+15)
						r.env.addBurst(midnight.Add(-time.Millisecond), 3)
						for i := range 70 {
							r.env.addBurst(start.Add(time.Duration(i)*20*time.Minute+7*time.Millisecond), 2+i%13)
						}
						// Past the window's end, more than a page: a query that
						// includes its end serves them after the window's last
						// run, and a query narrowed to that run must not be
						// asked again and again.
						edge := now0.Add(-settle)
						r.env.addBurst(edge.Add(-time.Millisecond), 3)
						r.env.addBurst(edge, pageSize+10)

						var got []string
						if !restarts {
							p := r.Poller()
							got = read(t, p, -1)
							p.Close(context.Background())
						}
						for pages := 0; restarts; pages++ {
							if pages > 500 {
								t.Fatal("no end after 500 pages")
							}
							p := r.Poller()
							b, err := testkit.NextOrCaughtUp(p, testkit.ReadLimit)
							if err != nil {
								t.Fatalf("page %d: %v", pages, err)
							}
							if b != nil {
								got = append(got, raws(b)...)
								b.Ack(nil)
							}
							p.Close(context.Background())
							if b == nil {
								break
							}
						}
						testkit.SameMultiset(t, got, r.want(start))
					})
				}
			}
		}
	}
}

func vendorNamed(t *testing.T, name string) vendor {
	t.Helper()
	for _, v := range vendors {
		if v.name == name {
			return v
		}
	}
	t.Fatalf("no vendor %q", name)
	return vendor{}
}
