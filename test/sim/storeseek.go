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
// (desc), strictly after the record at after (nil: from the first). emit
// receives each record's JSON and key; it runs under the read lock. seek
// returns how many records it emitted and whether more records match
// beyond them.
func (s *Store) seek(from, to time.Time, desc bool, after *storeKey, limit int, keep func(user string) bool, emit func(json []byte, k storeKey)) (n int, more bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.clock.Now().UnixNano()
	lo, hi := s.lower(from.UnixNano()), s.lower(to.UnixNano())
	ok := func(x *rec) bool { return x.vis <= now && (keep == nil || keep(x.user)) }
	if !desc {
		i := lo
		if after != nil {
			i = max(lo, s.firstAfter(*after))
		}
		for ; i < hi; i++ {
			x := &s.recs[i]
			if !ok(x) {
				continue
			}
			if n == limit {
				return n, true
			}
			emit(x.json, storeKey{x.t, x.id})
			n++
		}
		return n, false
	}
	i := hi - 1
	if after != nil {
		i = min(hi, s.firstAtOrAfter(*after)) - 1
	}
	for ; i >= lo; i-- {
		x := &s.recs[i]
		if !ok(x) {
			continue
		}
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
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.clock.Now().UnixNano()
	lo, hi := s.lower(from.UnixNano()), s.lower(to.UnixNano())
	take := func(x *rec) {
		if x.vis > now || keep != nil && !keep(x.user) {
			return
		}
		if total >= offset && total < offset+limit {
			emit(x.json)
		}
		total++
	}
	if desc {
		for i := hi - 1; i >= lo; i-- {
			take(&s.recs[i])
		}
		return total
	}
	for i := lo; i < hi; i++ {
		take(&s.recs[i])
	}
	return total
}

// truthWhere is Truth restricted to records whose filing string keep
// accepts.
func (s *Store) truthWhere(from, to time.Time, keep func(user string) bool) [][]byte {
	var out [][]byte
	s.filtered(from, to, false, keep, 0, int(^uint(0)>>1), func(j []byte) { out = append(out, j) })
	return out
}
