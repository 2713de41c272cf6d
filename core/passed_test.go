package core

import (
	"testing"
	"time"
)

// A read may end, and a capped instant counts as read whole, only once
// the answer has gone past the piece's records, in whichever time order
// the API serves them; a page all on one side of the piece proves nothing
// unless an earlier page of the query held a record of it.
func TestAReadHasPassedThePieceOnlyWhenItsRecordsAreBehind(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	pc := pieceState{From: t0, To: t0.Add(time.Second)}
	ev := func(d time.Duration) Event { return Event{Time: t0.Add(d)} }
	before, inside, after := ev(-time.Second), ev(0), ev(time.Second)
	for _, c := range []struct {
		name     string
		evs      []Event
		inBefore bool
		want     bool
	}{
		{"newest first, from the piece to the second before", []Event{inside, before}, false, true},
		{"newest first, from the second after to the second before", []Event{after, before}, false, true},
		{"oldest first, from the piece to the second after", []Event{inside, after}, false, true},
		{"oldest first, from the second before to the second after", []Event{before, after}, false, true},
		{"ending inside the piece", []Event{after, inside}, false, false},
		{"all the second before, nothing of the piece yet", []Event{before, before}, false, false},
		{"all the second after, nothing of the piece yet", []Event{after, after}, false, false},
		{"all the second before, after a page of the piece", []Event{before, before}, true, true},
		{"an empty page", nil, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := passed(c.evs, pc, c.inBefore); got != c.want {
				t.Errorf("passed = %v, want %v", got, c.want)
			}
		})
	}
}
