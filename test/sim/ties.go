package sim

import (
	"iter"
	"slices"
)

// tieRule is one request's order of records that share a timestamp: a
// total order on record ids, applied within each run of equal times. The
// paging code walks the store in its own order and lets apply regroup the
// runs, so every way of paging (offset, filtered, keyset) follows
// Readings.Ties the same way.
type tieRule struct {
	order TieOrder
	desc  bool   // the request is newest first
	seed  uint64 // this request's shuffle
}

// tieRule returns the order of one request. Every shuffled request draws
// its own seed, so two identical requests, or two pages of one run, see
// the run in unrelated orders.
func (s *Store) tieRule(desc bool) tieRule {
	r := tieRule{order: s.ties, desc: desc}
	if r.order == TiesShuffled {
		r.seed = mix64(s.tieSeed ^ mix64(s.draws.Add(1)))
	}
	return r
}

// before reports whether, between two records of the same time, the one
// with id a is served before the one with id b.
func (r tieRule) before(a, b uint64) bool {
	if r.order == TiesShuffled {
		// mix64 is a bijection, so distinct ids never hash alike.
		return mix64(a^r.seed) < mix64(b^r.seed)
	}
	if r.desc != (r.order == TiesReversed) {
		return a > b
	}
	return a < b
}

func (r tieRule) cmp(x, y *rec) int {
	switch {
	case x.id == y.id:
		return 0
	case r.before(x.id, y.id):
		return -1
	}
	return 1
}

// apply returns seq, whose records come in the store's order for the
// request's direction, with every run of equal times in r's order. A run
// is held back until a later time (or the end of seq) shows it complete,
// which is why callers start seq at the beginning of a run.
func (r tieRule) apply(seq iter.Seq[*rec]) iter.Seq[*rec] {
	if r.order == TiesInsertionOrder {
		return seq
	}
	return func(yield func(*rec) bool) {
		eachRun(seq, func(run []*rec) bool {
			slices.SortFunc(run, r.cmp)
			for _, x := range run {
				if !yield(x) {
					return false
				}
			}
			return true
		})
	}
}

// eachRun calls f with every run of equal times in seq, in order, until f
// returns false. The slice is reused from one call to the next.
func eachRun(seq iter.Seq[*rec], f func(run []*rec) bool) {
	var run []*rec
	for x := range seq {
		if len(run) > 0 && run[0].t != x.t {
			if !f(run) {
				return
			}
			run = run[:0]
		}
		run = append(run, x)
	}
	if len(run) > 0 {
		f(run)
	}
}

// served yields the records ok accepts from index i on, in the request's
// direction: up to hi (exclusive), or down to lo when desc. The store's
// read lock must be held while it runs.
func (s *Store) served(i, lo, hi int, desc bool, ok func(*rec) bool) iter.Seq[*rec] {
	return func(yield func(*rec) bool) {
		step := 1
		if desc {
			step = -1
		}
		for ; i >= lo && i < hi; i += step {
			if x := &s.recs[i]; ok(x) && !yield(x) {
				return
			}
		}
	}
}

// walk is served over the whole of [lo, hi).
func (s *Store) walk(lo, hi int, desc bool, ok func(*rec) bool) iter.Seq[*rec] {
	if desc {
		return s.served(hi-1, lo, hi, desc, ok)
	}
	return s.served(lo, lo, hi, desc, ok)
}

// runStart returns where, in the request's direction, the run of equal
// times holding index p begins, and how many records ok accepts from
// there up to p: a page that starts inside a run must reorder the whole
// run and then skip that many.
func (s *Store) runStart(p, lo, hi int, desc bool, ok func(*rec) bool) (start, before int) {
	t := s.recs[p].t
	if desc {
		start = min(hi, s.upper(t)) - 1
		for i := start; i > p; i-- {
			if ok(&s.recs[i]) {
				before++
			}
		}
		return start, before
	}
	start = max(lo, s.lower(t))
	for i := start; i < p; i++ {
		if ok(&s.recs[i]) {
			before++
		}
	}
	return start, before
}

// offsetPage emits the records [offset, offset+limit) of seq in r's order
// and returns how many records seq holds. Only the runs the page touches
// are put in order: the walk counts the others.
func (r tieRule) offsetPage(seq iter.Seq[*rec], offset, limit int, emit func(json []byte)) (total int) {
	in := func(pos int) bool { return pos >= offset && pos-offset < limit }
	if r.order == TiesInsertionOrder {
		for x := range seq {
			if in(total) {
				emit(x.json)
			}
			total++
		}
		return total
	}
	eachRun(seq, func(run []*rec) bool {
		if total+len(run) > offset && total-offset < limit {
			slices.SortFunc(run, r.cmp)
			for i, x := range run {
				if in(total + i) {
					emit(x.json)
				}
			}
		}
		total += len(run)
		return true
	})
	return total
}
