package sim

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Record is one event of a simulated history, as a test sees it.
type Record struct {
	// Time is the event's own timestamp: what the API reports and filters on.
	Time time.Time
	// VisibleAt is when the API starts serving the record. It equals Time
	// unless the event arrives late (its timestamp already in the past when
	// it becomes readable), which is what a settle delay must absorb.
	VisibleAt time.Time
	// UserUUID is the user the event is filed under (for user filters).
	UserUUID string
	// InitiatorUUID is who acted on that user, if someone else did (an
	// admin): a user filter may match it too (Query.Match).
	InitiatorUUID string
	// JSON is the record exactly as the API serves it, byte for byte. It is
	// shared with the store and must not be modified.
	JSON []byte
}

// rec is a Record as stored: integer times keep the slice small and the
// binary searches cheap, which matters at a million records.
type rec struct {
	t, vis int64 // Unix nanoseconds
	id     uint64
	user   string
	init   string // the initiator, where a filter may match it
	json   []byte
}

// lateRef remembers a record that became visible after its own timestamp.
// Only these records can be hidden inside a range whose end is in the past,
// so a query needs to look at them, not at the whole range.
type lateRef struct {
	t, vis int64
	id     uint64
}

// Store is the ground truth of one simulated API: every record, sorted by
// time, with visibility. Vendors serve pages from it; tests compare what a
// client delivered with Truth. Records with equal times keep insertion
// order, so paging is stable unless the API's Readings.Ties says
// otherwise. It is safe for concurrent use.
type Store struct {
	clock Clock

	// ties and tieSeed are the order pages serve ties in; draws counts the
	// requests that drew a shuffle.
	ties    TieOrder
	tieSeed uint64
	draws   atomic.Uint64

	mu     sync.RWMutex
	recs   []rec // sorted by t; equal t in insertion order
	late   []lateRef
	maxVis int64 // the latest VisibleAt among late records
	nextID uint64
}

// NewStore returns an empty store whose visibility follows clock.
func NewStore(clock Clock) *Store {
	if clock == nil {
		clock = RealClock{}
	}
	return &Store{clock: clock}
}

// Add inserts r. A zero VisibleAt means "visible from r.Time"; a record is
// never visible before its own Time, so an earlier VisibleAt counts as Time
// (an API does not serve events from its future). Among records
// with the same Time, r goes after those already present (so it is served
// first by a newest-first API).
func (s *Store) Add(r Record) {
	x := rec{t: r.Time.UnixNano(), user: r.UserUUID, init: r.InitiatorUUID, json: r.JSON}
	x.vis = x.t
	if !r.VisibleAt.IsZero() {
		x.vis = max(x.t, r.VisibleAt.UnixNano())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x.id = s.nextID
	s.nextID++
	i := s.upper(x.t)
	s.recs = slices.Insert(s.recs, i, x)
	s.noteLate(x)
}

// load appends records that are already sorted and not older than anything
// stored, taking ownership of rs. Generators use it to build a large history
// without per-record inserts.
func (s *Store) load(rs []rec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.recs); n > 0 && len(rs) > 0 && rs[0].t < s.recs[n-1].t {
		panic("sim: Store.load with records older than the stored ones")
	}
	for i := range rs {
		rs[i].vis = max(rs[i].vis, rs[i].t)
		rs[i].id = s.nextID
		s.nextID++
		s.noteLate(rs[i])
	}
	if len(s.recs) == 0 {
		s.recs = rs
		return
	}
	s.recs = append(s.recs, rs...)
}

func (s *Store) noteLate(x rec) {
	if x.vis <= x.t {
		return
	}
	s.late = append(s.late, lateRef{t: x.t, vis: x.vis, id: x.id})
	s.maxVis = max(s.maxVis, x.vis)
}

// lower returns the index of the first record with time >= t.
func (s *Store) lower(t int64) int {
	i, _ := slices.BinarySearchFunc(s.recs, t, func(x rec, t int64) int {
		if x.t < t {
			return -1
		}
		return 1
	})
	return i
}

// upper returns the index of the first record with time > t.
func (s *Store) upper(t int64) int {
	i, _ := slices.BinarySearchFunc(s.recs, t, func(x rec, t int64) int {
		if x.t <= t {
			return -1
		}
		return 1
	})
	return i
}

// Len returns the number of stored records, visible or not.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.recs)
}

// All returns every stored record, visible or not, oldest first.
func (s *Store) All() []Record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Record, len(s.recs))
	for i, x := range s.recs {
		out[i] = x.record()
	}
	return out
}

// Truth returns the raw JSON of every record with Time in [from, to) that
// is visible now: exactly what a correct client reading that range must
// deliver (as a multiset: byte-identical events appear once per copy).
// The slices are shared with the store and must not be modified.
func (s *Store) Truth(from, to time.Time) [][]byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.clock.Now().UnixNano()
	lo, hi := s.lower(from.UnixNano()), s.lower(to.UnixNano())
	if lo >= hi {
		return nil
	}
	out := make([][]byte, 0, hi-lo)
	for _, x := range s.recs[lo:hi] {
		if x.vis <= now {
			out = append(out, x.json)
		}
	}
	return out
}

// visibleFrom returns r made visible from v, or from r.Time when v is
// earlier (zero included), so that the Record a test gets back says what
// the Store will do with it.
func (r Record) visibleFrom(v time.Time) Record {
	r.VisibleAt = v.UTC()
	if r.VisibleAt.Before(r.Time) {
		r.VisibleAt = r.Time
	}
	return r
}

func (x rec) record() Record {
	return Record{
		Time:          time.Unix(0, x.t).UTC(),
		VisibleAt:     time.Unix(0, x.vis).UTC(),
		UserUUID:      x.user,
		InitiatorUUID: x.init,
		JSON:          x.json,
	}
}

// Query is one read of a Store, shaped like a paged API request.
type Query struct {
	// From and To bound the records' Time: [From, To).
	From, To time.Time
	// Users, when not nil, keeps only records filed under these users, as
	// Match says.
	Users map[string]bool
	Match UserMatch
	// Ascending serves oldest first; the default is newest first.
	Ascending bool
	// Offset and Limit select the page among the matching records.
	Offset, Limit int
}

// UserMatch is what a user filter matches a record by.
type UserMatch int

const (
	// MatchUser keeps the records filed under one of the users.
	MatchUser UserMatch = iota
	// MatchUserOrInitiator keeps them and those one of the users initiated
	// (an admin's action on another member).
	MatchUserOrInitiator
	// MatchActor keeps the records of what one of the users did: the
	// initiator's where there is one, else the user's.
	MatchActor
)

func (m UserMatch) keeps(users map[string]bool, x *rec) bool {
	switch {
	case m == MatchUserOrInitiator:
		return users[x.user] || x.init != "" && users[x.init]
	case m == MatchActor && x.init != "":
		return users[x.init]
	}
	return users[x.user]
}

// Query calls emit with the JSON of each record of the requested page, in
// order, and returns how many visible records match in total. emit runs
// under the store's read lock: it must not call back into the store.
//
// Without a user filter a page costs a binary search plus the page itself
// (and, when ties are reordered, the runs at its edges), whatever the size
// of the range: only the few late records can be hidden inside a range,
// and they are skipped by position.
func (s *Store) Query(q Query, emit func(json []byte)) (total int) {
	desc := !q.Ascending
	rule := s.tieRule(desc)
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.clock.Now().UnixNano()
	from, to := q.From.UnixNano(), q.To.UnixNano()
	// Records stamped after now are not visible yet; they sit at the end.
	lo, hi := s.lower(from), min(s.lower(to), s.upper(now))
	if lo >= hi {
		return 0
	}
	visible := func(x *rec) bool { return x.vis <= now }
	if q.Users != nil {
		// Filters are rare and narrow, so a per-user index is not worth its
		// upkeep: walk the range.
		match := func(x *rec) bool { return x.vis <= now && q.Match.keeps(q.Users, x) }
		return rule.offsetPage(s.walk(lo, hi, desc, match), q.Offset, q.Limit, emit)
	}
	hidden := s.hidden(from, to, now)
	total = hi - lo - len(hidden)
	if q.Limit <= 0 || q.Offset >= total {
		return total
	}
	p := s.nth(lo, hi, hidden, q.Offset, desc)
	skip := 0
	if rule.order != TiesInsertionOrder {
		p, skip = s.runStart(p, lo, hi, desc, visible)
	}
	n := 0
	for x := range rule.apply(s.served(p, lo, hi, desc, visible)) {
		if skip > 0 {
			skip--
			continue
		}
		emit(x.json)
		if n++; n == q.Limit {
			break
		}
	}
	return total
}

// nth returns the index of the visible record at offset in [lo, hi), in
// the request's direction, stepping over the hidden positions instead of
// counting the records before it.
func (s *Store) nth(lo, hi int, hidden []int, offset int, desc bool) int {
	if !desc {
		p, j := lo+offset, 0
		for j < len(hidden) && hidden[j] <= p {
			p, j = p+1, j+1
		}
		return p
	}
	p, j := hi-1-offset, len(hidden)-1
	for j >= 0 && hidden[j] >= p {
		p, j = p-1, j-1
	}
	return p
}

// hidden returns, ascending, the positions of records in [from, to) that
// are not visible at now although their Time has passed.
func (s *Store) hidden(from, to, now int64) []int {
	if s.maxVis <= now {
		return nil
	}
	var out []int
	for _, l := range s.late {
		if l.vis <= now || l.t < from || l.t >= to || l.t > now {
			continue
		}
		for i := s.lower(l.t); i < len(s.recs) && s.recs[i].t == l.t; i++ {
			if s.recs[i].id == l.id {
				out = append(out, i)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}
