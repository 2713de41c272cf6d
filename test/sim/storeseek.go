package sim

import (
	"slices"
	"time"
)

// This file adds the two other ways APIs page over a Store: by key (an
// opaque cursor naming the last record served, as DynamoDB-backed APIs do)
// and by offset with an arbitrary filter. Both see exactly what Truth and
// Query see: records with Time in [from, to) that are visible now.

// storeKey is a record's position in a Store's order. Records are sorted by
// (t, id): equal times keep insertion order and ids grow with insertion, so
// the pair is a total order that never changes when records are added.
type storeKey struct {
	T  int64  // Unix nanoseconds
	ID uint64 // insertion sequence
}

func (k storeKey) less(x *rec) bool { return k.T < x.t || k.T == x.t && k.ID < x.id }

// firstAfter returns the index of the first record whose key is > k.
func (s *Store) firstAfter(k storeKey) int {
	i, _ := slices.BinarySearchFunc(s.recs, k, func(x rec, k storeKey) int {
		if k.less(&x) {
			return 1
		}
		return -1
	})
	return i
}

// firstAtOrAfter returns the index of the first record whose key is >= k.
func (s *Store) firstAtOrAfter(k storeKey) int {
	i, _ := slices.BinarySearchFunc(s.recs, k, func(x rec, k storeKey) int {
		if x.t < k.T || x.t == k.T && x.id < k.ID {
			return -1
		}
		return 1
	})
	return i
}

// seek serves one keyset page: up to limit visible records with Time in
// [from, to) that keep accepts (nil: all), oldest first or newest first
// (desc), strictly after the record at after (nil: from the first) in
// this request's order. emit receives each record's JSON and key; it runs
// under the read lock. seek returns how many records it emitted and
// whether more records match beyond them.
//
// The key names a record, not a position: when ties are reordered, "after"
// means after it in the order of the request that carries the key, so a
// shuffling API serves a cursor's run from a point that no longer marks
// what was already served.
func (s *Store) seek(from, to time.Time, desc bool, after *storeKey, limit int, keep func(user string) bool, emit func(json []byte, k storeKey)) (n int, more bool) {
	rule := s.tieRule(desc)
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.clock.Now().UnixNano()
	lo, hi := s.lower(from.UnixNano()), s.lower(to.UnixNano())
	ok := func(x *rec) bool { return x.vis <= now && (keep == nil || keep(x.user)) }
	start := lo
	if desc {
		start = hi - 1
	}
	if after != nil {
		// In insertion order the key is a position; any other order must
		// see the cursor's whole run to place the cursor in it.
		switch {
		case rule.order == TiesInsertionOrder && desc:
			start = min(hi, s.firstAtOrAfter(*after)) - 1
		case rule.order == TiesInsertionOrder:
			start = max(lo, s.firstAfter(*after))
		case desc:
			start = min(hi, s.upper(after.T)) - 1
		default:
			start = max(lo, s.lower(after.T))
		}
		inRange := ok
		ok = func(x *rec) bool { return inRange(x) && (x.t != after.T || rule.before(after.ID, x.id)) }
	}
	for x := range rule.apply(s.served(start, lo, hi, desc, ok)) {
		if n == limit {
			return n, true
		}
		emit(x.json, storeKey{x.t, x.id})
		n++
	}
	return n, false
}

// filtered serves one offset page like Query, with an arbitrary filter on
// the string a record is filed under: it skips offset matching records,
// emits up to limit, and returns how many visible records match in total.
// It walks the range, which is fine for the filtered queries tests make.
func (s *Store) filtered(from, to time.Time, desc bool, keep func(user string) bool, offset, limit int, emit func(json []byte)) (total int) {
	return s.filteredBy(s.tieRule(desc), from, to, keep, offset, limit, emit)
}

func (s *Store) filteredBy(rule tieRule, from, to time.Time, keep func(user string) bool, offset, limit int, emit func(json []byte)) (total int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.clock.Now().UnixNano()
	lo, hi := s.lower(from.UnixNano()), s.lower(to.UnixNano())
	ok := func(x *rec) bool { return x.vis <= now && (keep == nil || keep(x.user)) }
	return rule.offsetPage(s.walk(lo, hi, rule.desc, ok), offset, limit, emit)
}

// truthWhere is Truth restricted to records whose filing string keep
// accepts, oldest first and ties in insertion order whatever the API's
// reading.
func (s *Store) truthWhere(from, to time.Time, keep func(user string) bool) [][]byte {
	var out [][]byte
	s.filteredBy(tieRule{}, from, to, keep, 0, int(^uint(0)>>1), func(j []byte) { out = append(out, j) })
	return out
}
