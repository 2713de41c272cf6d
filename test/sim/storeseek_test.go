package sim

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// storeRef is a random history and its plain, sorted reference.
type storeRef struct {
	t, vis time.Time
	user   string
	json   []byte
	seq    int
}

func randomStore(rnd *rand.Rand, clock *FakeClock) (*Store, []storeRef) {
	users := []string{"u0", "u1", "u2", "u3"}
	s := NewStore(clock)
	var refs []storeRef
	for i := range rnd.IntN(300) {
		at := t0.Add(-time.Duration(rnd.IntN(100)) * time.Second)
		vis := time.Time{}
		if rnd.IntN(5) == 0 {
			vis = at.Add(time.Duration(rnd.IntN(200)-50) * time.Second)
		}
		r := Record{Time: at, VisibleAt: vis, UserUUID: users[rnd.IntN(len(users))], JSON: fmt.Appendf(nil, `{"i":%d}`, i)}
		s.Add(r)
		if vis.Before(at) {
			vis = at
		}
		refs = append(refs, storeRef{at, vis, r.UserUUID, r.JSON, i})
	}
	return s, refs
}

// matching returns the references a query sees, in the store's order.
func matching(refs []storeRef, from, to, now time.Time, desc bool, keep func(string) bool) [][]byte {
	var m []storeRef
	for _, r := range refs {
		if !r.t.Before(from) && r.t.Before(to) && !r.vis.After(now) && (keep == nil || keep(r.user)) {
			m = append(m, r)
		}
	}
	slices.SortStableFunc(m, func(a, b storeRef) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	if desc {
		slices.Reverse(m)
	}
	out := make([][]byte, len(m))
	for i, r := range m {
		out[i] = r.json
	}
	return out
}

func TestStoreKeysetPagingMatchesReference(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for round := range 30 {
		clock := NewFakeClock(t0)
		s, refs := randomStore(rnd, clock)
		for range 30 {
			clock.Set(t0.Add(time.Duration(rnd.IntN(200)-50) * time.Second))
			from := t0.Add(-time.Duration(rnd.IntN(110)) * time.Second)
			to := from.Add(time.Duration(rnd.IntN(110)) * time.Second)
			desc := rnd.IntN(2) == 0
			limit := 1 + rnd.IntN(20)
			var keep func(string) bool
			if rnd.IntN(3) == 0 {
				u := fmt.Sprintf("u%d", rnd.IntN(4))
				keep = func(s string) bool { return s == u }
			}
			want := matching(refs, from, to, clock.Now(), desc, keep)

			var got [][]byte
			var after *storeKey
			for pages := 0; ; pages++ {
				var last storeKey
				n, more := s.seek(from, to, desc, after, limit, keep, func(j []byte, k storeKey) {
					got = append(got, j)
					last = k
				})
				if n > limit || pages > len(want)+1 {
					t.Fatalf("round %d: page of %d with limit %d after %d pages", round, n, limit, pages)
				}
				if !more {
					break
				}
				after = &last
			}
			if !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("round %d [%v, %v) desc=%v limit=%d: got %s, want %s", round, from, to, desc, limit, got, want)
			}
		}
	}
}

func TestStoreKeysetCursorIsStableWhenRecordsAreAdded(t *testing.T) {
	clock := NewFakeClock(t0)
	s := NewStore(clock)
	for i := range 10 {
		s.Add(Record{Time: t0.Add(-time.Duration(10-i) * time.Second), JSON: fmt.Appendf(nil, "r%d", i)})
	}
	for _, desc := range []bool{false, true} {
		t.Run(fmt.Sprintf("desc=%v", desc), func(t *testing.T) {
			var got []string
			var after *storeKey
			for page := 0; ; page++ {
				var last storeKey
				_, more := s.seek(t0.Add(-time.Hour), t0, desc, after, 3, nil, func(j []byte, k storeKey) {
					got = append(got, string(j))
					last = k
				})
				if page == 0 {
					// Records behind the cursor and at its very instant must
					// neither shift nor repeat what follows.
					s.Add(Record{Time: t0.Add(-10 * time.Second), JSON: []byte("behind-asc")})
					s.Add(Record{Time: t0.Add(-time.Second), JSON: []byte("behind-desc")})
				}
				if !more {
					break
				}
				after = &last
			}
			seen := map[string]int{}
			for _, g := range got {
				seen[g]++
			}
			for i := range 10 {
				if seen[fmt.Sprintf("r%d", i)] != 1 {
					t.Fatalf("r%d read %d times: %s", i, seen[fmt.Sprintf("r%d", i)], strings.Join(got, ","))
				}
			}
		})
	}
}

func TestStorePagingMatchesReference(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	for round := range 30 {
		clock := NewFakeClock(t0)
		s, refs := randomStore(rnd, clock)
		for range 30 {
			clock.Set(t0.Add(time.Duration(rnd.IntN(200)-50) * time.Second))
			from := t0.Add(-time.Duration(rnd.IntN(110)) * time.Second)
			to := from.Add(time.Duration(rnd.IntN(110)) * time.Second)
			desc := rnd.IntN(2) == 0
			offset, limit := rnd.IntN(50), rnd.IntN(40)
			var keep func(string) bool
			if rnd.IntN(2) == 0 {
				keep = func(s string) bool { return s == "u1" || s == "u3" }
			}
			all := matching(refs, from, to, clock.Now(), desc, keep)
			want := all[min(offset, len(all)):min(offset+limit, len(all))]
			var got [][]byte
			total := s.filtered(from, to, desc, keep, offset, limit, func(j []byte) { got = append(got, j) })
			if total != len(all) || !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("round %d: got total %d %s, want %d %s", round, total, got, len(all), want)
			}
			if keep == nil { // the indexed query (Qualtrics and NordPass without a filter) agrees
				var q [][]byte
				qt := s.Query(Query{From: from, To: to, Ascending: !desc, Offset: offset, Limit: limit}, func(j []byte) { q = append(q, j) })
				if qt != len(all) || !slices.EqualFunc(q, want, bytes.Equal) {
					t.Fatalf("round %d: Query total %d %s, want %d %s", round, qt, q, len(all), want)
				}
			}
			if keep != nil {
				if tw := s.truthWhere(from, to, keep); !slices.EqualFunc(tw, matching(refs, from, to, clock.Now(), false, keep), bytes.Equal) {
					t.Fatalf("round %d: truthWhere differs from the reference", round)
				}
			}
		}
	}
}
