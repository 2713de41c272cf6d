package sim

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestStoreQueryMatchesReference checks the fast paging paths (binary
// search, skipping hidden late records by position) against a plain
// filter-sort-slice over random histories and queries.
func TestStoreQueryMatchesReference(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	users := []string{"u0", "u1", "u2", "u3"}
	for round := range 30 {
		clock := NewFakeClock(t0)
		s := NewStore(clock)
		type ref struct {
			t, vis time.Time
			user   string
			json   []byte
			seq    int
		}
		var refs []ref
		n := rnd.IntN(300)
		for i := range n {
			at := t0.Add(-time.Duration(rnd.IntN(100)) * time.Second)
			vis := time.Time{}
			if rnd.IntN(5) == 0 {
				vis = at.Add(time.Duration(rnd.IntN(200)-50) * time.Second)
			}
			r := Record{Time: at, VisibleAt: vis, UserUUID: users[rnd.IntN(len(users))], JSON: fmt.Appendf(nil, `{"i":%d}`, i)}
			s.Add(r)
			if vis.Before(at) {
				vis = at // never visible before its own time
			}
			refs = append(refs, ref{at, vis, r.UserUUID, r.JSON, i})
		}
		for range 40 {
			clock.Set(t0.Add(time.Duration(rnd.IntN(200)-50) * time.Second))
			q := Query{
				From:      t0.Add(-time.Duration(rnd.IntN(110)) * time.Second),
				Ascending: rnd.IntN(2) == 0,
				Offset:    rnd.IntN(50),
				Limit:     rnd.IntN(40),
			}
			q.To = q.From.Add(time.Duration(rnd.IntN(110)) * time.Second)
			if rnd.IntN(3) == 0 {
				q.Users = map[string]bool{users[rnd.IntN(4)]: true, users[rnd.IntN(4)]: true}
			}

			var want [][]byte
			var match []ref
			for _, r := range refs {
				if !r.t.Before(q.From) && r.t.Before(q.To) && !r.vis.After(clock.Now()) && (q.Users == nil || q.Users[r.user]) {
					match = append(match, r)
				}
			}
			slices.SortStableFunc(match, func(a, b ref) int {
				if c := a.t.Compare(b.t); c != 0 {
					return c
				}
				return a.seq - b.seq
			})
			if !q.Ascending {
				slices.Reverse(match)
			}
			for i, r := range match {
				if i >= q.Offset && i < q.Offset+q.Limit {
					want = append(want, r.json)
				}
			}
			var got [][]byte
			total := s.Query(q, func(j []byte) { got = append(got, j) })
			if total != len(match) || !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("round %d, query %+v at %v: got total %d %s, want %d %s",
					round, q, clock.Now(), total, got, len(match), want)
			}
		}
	}
}

func TestStoreTruthAndAll(t *testing.T) {
	clock := NewFakeClock(t0)
	s := NewStore(clock)
	s.Add(Record{Time: t0.Add(-3 * time.Second), JSON: []byte("a")})
	s.Add(Record{Time: t0.Add(-2 * time.Second), VisibleAt: t0.Add(time.Second), JSON: []byte("late")})
	s.Add(Record{Time: t0.Add(-1 * time.Second), JSON: []byte("b")})
	s.Add(Record{Time: t0.Add(-3 * time.Second), JSON: []byte("a2")})
	s.Add(Record{Time: t0.Add(time.Second), JSON: []byte("future")})

	str := func(rs [][]byte) string { return string(bytes.Join(rs, []byte(","))) }
	if got := str(s.Truth(t0.Add(-3*time.Second), t0.Add(-time.Second))); got != "a,a2" {
		t.Fatalf("Truth [from,to) = %s", got)
	}
	if got := str(s.Truth(t0.Add(-time.Hour), t0.Add(time.Hour))); got != "a,a2,b" {
		t.Fatalf("Truth before visibility = %s", got)
	}
	clock.Advance(time.Second)
	if got := str(s.Truth(t0.Add(-time.Hour), t0.Add(time.Hour))); got != "a,a2,late,b,future" {
		t.Fatalf("Truth after visibility = %s", got)
	}
	all := s.All()
	if len(all) != 5 || s.Len() != 5 || string(all[2].JSON) != "late" || !all[2].VisibleAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("All = %+v", all)
	}
}
