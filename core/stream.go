package core

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stream is one checkpointed read of one source. Its reading state is owned
// by the goroutine inside Poller.Next; its commit state (pending, committed,
// commitSnap) is guarded by Poller.mu.
type stream struct {
	p         *Poller
	key       string
	src       Source
	info      SourceInfo
	maxWindow time.Duration // 0: unlimited
	overlap   time.Duration
	sweep     time.Duration // between re-reads of the overlap; 0: every window

	// reading state
	cursor     time.Time
	final      time.Time // see checkpointState.Final
	highWater  time.Time
	win        *windowState
	seen       seenSet
	seenShared bool     // seen is referenced by a snapshot: copy before writing
	prevPage   []string // ids of the previous page, to detect shifted pages
	prevCursor string   // the cursor that read it, to read it again
	// readInside says a page of the current query held a record of its
	// piece (see passed); a restart forgets it, and TrailAt then tells.
	readInside bool
	run        copyRun   // copies read of each id at the newest timestamp read
	cross      crossRead // copies of records a later partition may return too
	trail      []string  // ids of the previous page's last run, at win.TrailAt (see tieRuns)
	again      time.Time // the instant a narrowed query serves again (see narrow), zero when none
	againIDs   []string  // ids of the records filter counted at again
	nextPlan   time.Time // earliest start of the next window (poll interval)
	nextSweep  time.Time // earliest start of the next sweep (zero: the first window is one)
	retryAt    time.Time // wall time: a failed poll is retried after a backoff
	read       bool      // a window has completed in this or an earlier run
	fetches    int64     // pages fetched in this run
	progress   progress
	tenant     *tenant // nil unless the input has tenants
	stopped    bool    // a fatal error stopped it until tenant_retry passed
	fails      int     // transient failures in a row (tenants only)
	detached   bool    // its tenant went to another replica: never written again (under Poller.mu)

	// commit state
	seq        uint64
	committed  uint64
	pending    map[uint64]*Batch
	commitSnap *snapshot
}

func (s *stream) restore(st *checkpointState) {
	s.cursor = st.Cursor
	s.final = st.Final
	if s.final.IsZero() {
		// Written by a release that re-read the overlap at every poll:
		// everything before it had been read for the last time.
		s.final = s.cursor.Add(-s.overlap)
	}
	s.highWater = st.HighWater
	s.win = st.Window
	s.read = true
	if w := s.win; w != nil && w.Final.IsZero() {
		w.Final = w.To.Add(-s.overlap)
	}
	if w := s.win; w != nil {
		for i := range w.Pieces {
			// Past the last partition: read by every one (rereadOlder),
			// if the partitioning is the one that marked it; otherwise
			// read again rather than skipped.
			read := w.Pieces[i].Part == s.info.Partitions && w.Partitions == s.info.Partitions
			if w.Pieces[i].Part >= s.info.Partitions && !read {
				w.Pieces[i].Part = 0
			}
		}
	}
	if w := s.win; w != nil && w.Partition >= s.info.Partitions {
		// The partitioning changed under an explicit stream name: re-read the
		// current piece rather than skip part of it.
		s.p.log.Warn("checkpoint partition out of range; re-reading the current piece", "stream", s.key)
		w.Partition, w.Page, w.Total = w.Pieces[0].Part%s.info.Partitions, "", -1
		w.Cross = nil
	}
	for _, r := range st.Seen {
		s.seen.set(r.ID, seenEntry{t: r.T, n: r.N, r: r.R})
	}
	if w := s.win; w != nil {
		s.run.restore(w.Run)
		s.cross.restore(w.Cross)
		w.Run, w.Cross = nil, nil
	}
}

func (s *stream) snapshot() *snapshot {
	s.seenShared = true
	w := s.win.clone()
	if w != nil {
		w.Run, w.Cross = s.run.state(), s.cross.state()
	}
	return &snapshot{cursor: s.cursor, final: s.final, highWater: s.highWater, window: w, seen: s.seen}
}

// ownSeen copies the seen set if a snapshot holds it, before a write.
func (s *stream) ownSeen() {
	if s.seenShared {
		s.seen, s.seenShared = s.seen.clone(), false
	}
}

func (s *stream) setSeen(id string, e seenEntry) {
	s.ownSeen()
	s.seen.set(id, e)
}

// editSeen applies fn to every seen record, dropping those it does not
// keep; a set a snapshot holds is copied first, and only when fn changes
// something.
func (s *stream) editSeen(fn func(seenEntry) (seenEntry, bool)) {
	if s.seenShared && !s.seen.changes(fn) {
		return
	}
	s.ownSeen()
	s.seen.edit(fn)
}

// plan opens the next window, or reports that none is due yet. A window is
// [from, to) with to = now - settle_delay, fixed before its first page so
// page numbers cannot drift while new records arrive.
//
// Most windows start at the cursor: they read only new time. An event may
// become visible up to overlap after settle_delay, so once per
// sweep_interval a sweep starts at final instead, re-reading everything
// that a late event could still join; the seen set keeps what was already
// delivered from repeating. After a sweep reaching now - settle_delay at
// end, every event older than end - overlap has been read at a time when it
// was visible: that becomes final. A sweep at every poll (sweep_interval
// 0) re-reads exactly the overlap, as polls did before sweeps; sweeping
// less often spends one request per poll on new events, where re-reading
// the overlap each time cost as many requests as the overlap holds pages.
func (s *stream) plan(now time.Time) bool {
	prec := s.info.Precision
	end := now.Add(-s.p.cfg.SettleDelay.D() - s.p.api.Behind()).UTC().Truncate(prec)
	from, reread := s.cursor, s.cursor
	sweep := s.read && s.final.Before(s.cursor) && !now.Before(s.nextSweep)
	if sweep {
		from = s.final
	}
	to := end
	live := true
	if s.maxWindow > 0 && to.Sub(from) > s.maxWindow {
		to, live = from.Add(s.maxWindow).Truncate(prec), false
	}
	if to.Sub(s.cursor) < prec && !(sweep && to.Before(s.cursor)) {
		s.nextPlan = s.nextPoll(now)
		return false
	}
	// A window that starts at final moves it; one that starts later
	// leaves a stretch only a sweep may finalise.
	final := s.final
	if !from.After(s.final) {
		final = maxTime(s.final, minTime(to, end.Add(-s.overlap)))
	}
	s.win = &windowState{From: from, To: to, Reread: reread, Pieces: []pieceState{{From: from, To: to}}, Total: -1, Live: live, Final: final}
	s.prevPage = nil
	s.run.reset(time.Time{})
	if sweep && !to.Before(s.cursor) {
		s.nextSweep = now.Add(s.sweep)
	}
	if live {
		s.nextPlan = s.nextPoll(now)
		if pr := &s.progress; !pr.lastLive.IsZero() {
			pr.interval = now.Sub(pr.lastLive)
		}
		s.progress.lastLive = now
	}
	return true
}

// nextPoll is when a caught-up stream polls next: poll_interval on, moved
// to the nearest moment its window end (now − settle_delay, by the API's
// clock) crosses a whole unit of the API's precision. A window ends on such
// a boundary anyway, so a poll just before one waits a whole unit for
// events it could have had: with whole seconds (NordPass), polling on the
// boundary takes up to a second off the time from an event to its delivery.
// The nearest boundary, not the next: a poll loop that runs late (a
// thousand tenants on one budget) would otherwise add up to a unit to every
// interval.
func (s *stream) nextPoll(now time.Time) time.Time {
	next := now.Add(s.p.cfg.PollInterval.D())
	prec := s.info.Precision
	if prec < time.Second {
		return next
	}
	// The API's clock estimate already errs late (see apiClock), so the
	// boundary itself is safe; within 50 ms past it is close enough.
	end := next.Add(-s.p.cfg.SettleDelay.D() - s.p.api.Behind())
	// Never earlier than half a poll_interval on: with a poll_interval
	// shorter than the precision, rounding down could land before now and
	// spin until the boundary passed.
	poll := s.p.cfg.PollInterval.D()
	switch off := end.Sub(end.Truncate(prec)); {
	case off <= 50*time.Millisecond:
	case off < prec/2 && off <= poll/2:
		next = next.Add(-off)
	default:
		next = next.Add(prec - off)
	}
	return next
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// replanUnread shortens a window that failed before its first page, when
// the API's clock (learnt from the failed answer's Date) says the window
// ends in the API's future: nothing of it was read, so it may change, and
// the API would refuse it (NordPass: "timestamp_to is in the future") or
// not yet hold its newest events until its clock caught up.
func (s *stream) replanUnread(now time.Time) {
	w := s.win
	if w == nil || w.Page != "" || w.Checking || w.Partition != w.Pieces[0].Part || len(w.Pieces) != 1 ||
		!w.Pieces[0].From.Equal(w.From) || !w.Pieces[0].To.Equal(w.To) {
		return
	}
	end := now.Add(-s.p.cfg.SettleDelay.D() - s.p.api.Behind()).UTC().Truncate(s.info.Precision)
	if !end.Before(w.To) {
		return
	}
	if end.Sub(s.cursor) < s.info.Precision {
		s.win, s.nextPlan = nil, now.Add(s.p.cfg.PollInterval.D())
		return
	}
	w.To, w.Pieces[0].To, w.Live = end, end, true
	if !w.From.After(s.final) {
		w.Final = maxTime(s.final, minTime(end, end.Add(-s.overlap)))
	}
}

// dueAt is when, by the poller's clock, the stream next has work: at once
// inside a window, else at the next poll; never before a failed poll's
// backoff (kept in wall time, since it paces requests, not data) is over.
func (s *stream) dueAt(now time.Time) time.Time {
	due := now.Add(time.Until(s.retryAt))
	if s.win == nil && s.nextPlan.After(due) {
		due = s.nextPlan
	}
	return due
}

// step reads one page. It returns a batch for the host, or nil when the page
// only moved the position (empty, all duplicates, or a window split).
func (s *stream) step(ctx context.Context) (*Batch, error) {
	p := s.p
	if s.win == nil && !s.plan(p.clock.Now()) {
		return nil, nil
	}
	w := s.win
	pc := w.Pieces[0]
	narrowed := s.narrowed()
	switch {
	case w.Checking:
		at := w.Recheck[0]
		pc = pieceState{From: at, To: at.Add(s.info.Precision), Part: w.Partition}
	case w.Order > 0:
		pc.From = w.Narrow
	case w.Order < 0:
		pc.To = w.Narrow.Add(s.info.Precision)
	}
	if !w.Live {
		ctx = withBackfill(ctx)
	}
	if s.tenant != nil {
		ctx = withoutRetryWaits(ctx)
	}
	page, err := s.src.Fetch(ctx, Query{From: pc.From, To: pc.To, Partition: w.Partition, Cursor: w.Page})
	if err != nil {
		return nil, err
	}
	s.fetches++
	defer func() {
		s.updateProgress(p.clock.Now())
		p.publishProgress()
	}()
	first, cursor := w.Page == "", w.Page
	// The piece was under the cap at its first page and records that became
	// visible since took it past: the API stops at the cap, and its oldest
	// records would be on no page.
	grewPastCap := !first && !w.Checking && s.info.Cap > 0 && w.Total >= 0 && w.Total < s.info.Cap && page.Total >= s.info.Cap
	// At the cap, not only above it: a vendor may cap metadata.total itself
	// (NordPass does not say), and then a total of exactly the cap is all a
	// window holding more can show. Splitting a window that held exactly
	// the cap costs a few requests; not splitting one that held more loses
	// records without a word.
	// A recheck reads again an instant of a piece read already: the piece's
	// first page did what follows for it.
	// A narrowed query goes on with a read the API paged (it gave a
	// cursor), so a full last page is no sign of the cap.
	if first && !w.Checking && !narrowed && s.info.Cap > 0 && page.Total >= s.info.Cap {
		if pieces := s.split(pc, page.Total); pieces != nil {
			for i := range pieces {
				pieces[i].Part = w.Partition
			}
			w.Pieces = append(pieces, w.Pieces[1:]...)
			p.metrics.WindowSplits.Add(1)
			p.log.Debug("window holds more records than the API returns; split before reading",
				"stream", s.key, "from", pc.From.Format(time.RFC3339), "to", pc.To.Format(time.RFC3339),
				"total", page.Total, "pieces", len(pieces))
			return nil, nil
		}
		// An instant the API's finest unit cannot split: its reachable
		// records are read, and what the cap hid is reported once the
		// read ends (reportCapped).
	}
	if w.Checking && first {
		s.restartCount(pc.From, nil)
	}
	skip, err := s.shift(ctx, page, pc, first)
	if err != nil {
		return nil, err
	}
	var oldest time.Time
	if grewPastCap {
		oldest = oldestIn(page.Events, pc)
	}
	// Read before filter drops the records outside the piece.
	reachedAll := passed(page.Events, pc, s.readInside || !w.TrailAt.IsZero())
	s.readInside = s.readInside || slices.ContainsFunc(page.Events, pc.holds)
	if reachedAll && s.info.PageNumbered && page.Next != "" {
		// The pages after this one hold older records only: the previous
		// second's, which sources ask for where the API's bound may be
		// exclusive. Reading on would drop them all, up to the cap.
		page.Next = ""
	}
	reachedAll = reachedAll && page.Next == ""
	order := 0
	if s.info.KeyCursor {
		order = timeOrder(page.Events) // before filter reuses the page
	}
	events := s.filter(page, pc, skip, narrowed)
	s.prevCursor = cursor
	if first {
		w.Total = page.Total
	}
	switch {
	case grewPastCap && !oldest.IsZero():
		s.rereadOlder(pc, oldest, page.Total)
	case page.Next != "" && s.narrow(order):
		// The rest of the piece is the next query (see narrow).
		w.Page = ""
	case page.Next != "":
		w.Page = page.Next
	case w.Checking:
		// The instant is read again whole: the next one, or the read is
		// over.
		s.forget(w.Recheck[0], nil)
		w.Recheck = w.Recheck[1:]
		s.restartRead()
		if len(w.Recheck) == 0 {
			w.Checking = false
			s.finishPartition()
		}
	case len(w.Recheck) > 0:
		s.reportCapped(pc, reachedAll)
		s.restartRead()
		w.Checking = true
	default:
		s.reportCapped(pc, reachedAll)
		s.finishPartition()
	}
	b := p.newBatch(s, events)
	if len(events) == 0 {
		p.ack(b) // nothing to deliver: the position moves in order with the rest
		return nil, nil
	}
	return b, nil
}

// rereadOlder ends the read of the current piece's partition at this page,
// whose records are the piece's oldest read so far (pages are newest
// first), and reads the rest of it, from the piece's start to the end of
// this page's oldest second, as a piece of its own: its first page splits
// it if it is still over the cap. The records of that last second that
// were already delivered come again (at-least-once, with the same ids);
// the other partitions of the piece are read whole as before.
func (s *stream) rereadOlder(pc pieceState, oldest time.Time, total int) {
	w := s.win
	prec := s.info.Precision
	to := minTime(oldest.Truncate(prec).Add(prec), pc.To)
	rest := []pieceState{{From: pc.From, To: to, Part: w.Partition}}
	if to.Before(pc.To) {
		// Pieces are contiguous (the checkpoint keeps only where each
		// starts): the part this partition has read stays, to be read by
		// the next partitions only. After the last partition, its Part is
		// past them all: finishPartition passes it by, and so does a
		// restart while the number of partitions is the one saved with it.
		rest = append(rest, pieceState{From: to, To: pc.To, Part: w.Partition + 1})
		w.Partitions = s.info.Partitions
	}
	w.Pieces = append(rest, w.Pieces[1:]...)
	s.restartRead()
	s.p.metrics.WindowSplits.Add(1)
	s.p.log.Info("records that became visible while a window was read took it past what the API returns; reading its older part again",
		"stream", s.key, "from", pc.From.Format(time.RFC3339), "to", to.Format(time.RFC3339), "total", total, "cap", s.info.Cap)
}

// reportCapped reports, once a partition's read of a piece has ended,
// the records of an instant (the API's finest unit, so not split) that
// the API's cap put out of reach. Sources ask one unit wider than the
// piece where the API's bounds may be exclusive, so the total can count
// the neighbouring instants' records, which the pieces beside this one
// read; when the last page shows that only those were cut (reachedAll,
// see passed), nothing is reported. Otherwise the count is the total
// beyond the cap: it may include a neighbour's records, and is too low,
// even 0, when the API caps the total itself.
func (s *stream) reportCapped(pc pieceState, reachedAll bool) {
	w := s.win
	if s.info.Cap <= 0 || w.Total < s.info.Cap || pc.To.Sub(pc.From) > s.info.Precision || reachedAll {
		return
	}
	lost := w.Total - s.info.Cap
	s.p.metrics.Unreachable.Add(int64(lost))
	s.p.log.Error("the API holds at least as many records at this instant (its finest time unit) as one query returns; "+
		"the reachable ones were delivered", "stream", s.key, "at", pc.From.Format(time.RFC3339Nano), "total", w.Total,
		"cap", s.info.Cap, "unreachable", lost)
}

// passed reports whether a page, evs, shows that every record of pc that
// its query returns came on it or before it. APIs serve records in time
// order, one way or the other, so the piece's records are one stretch of
// the answer: a last record outside the piece, after a record on the
// piece's side of it (inside the piece, or beyond it the other way), shows
// that stretch is behind. inBefore says an earlier page of the query held
// a record of the piece. A page whose records all lie on one side of the
// piece shows nothing by itself.
func passed(evs []Event, pc pieceState, inBefore bool) bool {
	if len(evs) == 0 {
		return false
	}
	last := evs[len(evs)-1].Time
	switch {
	case last.Before(pc.From):
		return inBefore || slices.ContainsFunc(evs, func(e Event) bool { return !e.Time.Before(pc.From) })
	case !last.Before(pc.To):
		return inBefore || slices.ContainsFunc(evs, func(e Event) bool { return e.Time.Before(pc.To) })
	}
	return false
}

// holds reports whether e is inside the piece.
func (pc pieceState) holds(e Event) bool { return !e.Time.Before(pc.From) && e.Time.Before(pc.To) }

// oldestIn is the time of the oldest of evs inside pc; zero if none is.
func oldestIn(evs []Event, pc pieceState) time.Time {
	var oldest time.Time
	for _, e := range evs {
		if pc.holds(e) && (oldest.IsZero() || e.Time.Before(oldest)) {
			oldest = e.Time
		}
	}
	return oldest
}

// restartRead resets what paging one query keeps, for a new query.
func (s *stream) restartRead() {
	w := s.win
	w.Page, w.Total, s.prevPage, s.prevCursor, s.readInside = "", -1, nil, "", false
	w.Narrow, w.Order = time.Time{}, 0
	s.run.reset(time.Time{})
	if !w.TrailAt.IsZero() {
		// Only a grown window's re-read ends a read after a page with more
		// to follow, and it reads the instant again.
		s.forget(w.TrailAt, s.trail)
		w.TrailAt, s.trail = time.Time{}, nil
	}
}

// recheck adds instant t to those read again at the end of the read.
func (s *stream) recheck(t time.Time) {
	w := s.win
	if !slices.ContainsFunc(w.Recheck, t.Equal) {
		w.Recheck = append(slices.Clone(w.Recheck), t)
		s.p.log.Debug("a run of one timestamp went on across a page boundary; it is read again by itself once this read ends",
			"stream", s.key, "at", t.Format(time.RFC3339Nano))
	}
}

// narrowed reports whether the next page is the first of a query narrowed
// to the instant the last page ended on (see narrow).
func (s *stream) narrowed() bool {
	w := s.win
	return w.Order != 0 && w.Page == "" && !w.Checking && w.TrailAt.Equal(w.Narrow)
}

// narrow makes the rest of the piece, after a page with more to follow, a
// new query that starts (or, newest first, ends) at the instant the page
// ended on, where the source's cursor may name a record (KeyCursor): an
// API that serves records of one instant in a new order at each request
// can leave such a cursor past records of its instant that the next page
// then never shows, with nothing on that page to tell. The new query
// serves the instant's run whole instead, and filter delivers the records
// the page did not hold. It costs no request. A run longer than a page
// goes on by the cursor and is read again by itself (recheck), as for
// every source; so does a page out of time order (see timeOrder), whose
// last instant says nothing of where the rest of the piece is. It reports
// whether it narrowed.
func (s *stream) narrow(order int) bool {
	w := s.win
	if !s.info.KeyCursor || w.Checking || w.TrailAt.IsZero() {
		return false
	}
	if w.Order != 0 && w.Narrow.Equal(w.TrailAt) {
		// The page got no further than the instant its query starts at
		// (records beyond the piece filled the rest): the same query
		// would serve it again.
		return false
	}
	if order == 0 || order < 0 && !w.TrailAt.Truncate(s.info.Precision).Equal(w.TrailAt) {
		// All one instant (or, newest first, an instant between two of
		// the API's units, which a query cannot end just after).
		return false
	}
	w.Narrow, w.Order = w.TrailAt, int8(order)
	return true
}

// timeOrder is 1 when the records of a page come oldest first, -1 when
// newest first, and 0 when they are all of one instant or out of order
// (then the cursor alone knows what follows). Records outside the piece
// count too: those of the unit a source asks beyond it come in the same
// order, and tell it where the piece holds a single instant.
func timeOrder(evs []Event) int {
	order := 0
	var last time.Time
	for _, e := range evs {
		if c := e.Time.Compare(last); !last.IsZero() && c != 0 {
			if order != 0 && c != order {
				return 0
			}
			order = c
		}
		last = e.Time
	}
	return order
}

func (s *stream) finishPartition() {
	w := s.win
	s.restartRead()
	w.Partition++
	if w.Partition < s.info.Partitions {
		return
	}
	// A sweep re-reads time behind the cursor: the cursor never moves back.
	s.cursor = maxTime(s.cursor, w.Pieces[0].To)
	w.Pieces = w.Pieces[1:]
	for len(w.Pieces) > 0 && w.Pieces[0].Part >= s.info.Partitions {
		s.cursor = maxTime(s.cursor, w.Pieces[0].To) // read by every partition already (rereadOlder)
		w.Pieces = w.Pieces[1:]
	}
	if len(w.Pieces) > 0 {
		w.Partition = w.Pieces[0].Part
		if w.Partition == 0 {
			// A piece of its own, not the rest of one whose partitions
			// were read before it was cut: its records are new to all.
			s.cross = crossRead{}
		}
		return
	}
	s.cross = crossRead{}
	// Window done: keep only what a later sweep may read again.
	s.final = w.Final
	cut := s.final.UnixMilli()
	s.editSeen(func(e seenEntry) (seenEntry, bool) {
		e.r = 0
		return e, e.t >= cut
	})
	s.win, s.read = nil, true
}

// split cuts a piece holding total records into pieces expected to hold at
// most 80 % of the cap each (room for uneven density), sized from the total
// instead of blind halving. Nil when the piece cannot be cut further.
func (s *stream) split(pc pieceState, total int) []pieceState {
	prec := s.info.Precision
	span := pc.To.Sub(pc.From)
	if span <= prec {
		return nil
	}
	target := max(1, s.info.Cap*8/10)
	n := (total + target - 1) / target
	n = max(2, min(n, int(span/prec)))
	out := make([]pieceState, 0, n)
	from := pc.From
	for i := 1; i <= n; i++ {
		to := pc.From.Add(span * time.Duration(i) / time.Duration(n)).Truncate(prec)
		if i == n {
			to = pc.To
		}
		if to.After(from) {
			out = append(out, pieceState{From: from, To: to})
			from = to
		}
	}
	return out
}

// filter decides which records of a page are delivered:
//   - records outside the piece belong to another piece or window: sources
//     ask one unit wider than the piece where the API's bounds may be
//     exclusive, and APIs whose bounds are inclusive return the records on
//     them twice otherwise;
//   - on newest-first numbered pages, records inserted while paging push
//     the previous page's tail onto this page: those repeats are skipped;
//   - records in the overlap regions are counted per id: a copy is
//     delivered only if this read has seen more copies of it than were
//     delivered before. Counting (not a plain seen-set) matters because
//     content-hash ids are not unique: two genuine events can be identical.
func (s *stream) filter(page Page, pc pieceState, skip int, narrowed bool) []Event {
	w := s.win
	evs := page.Events[skip:]
	s.p.metrics.DuplicatesSuppressed.Add(int64(skip))
	if s.info.PageNumbered {
		s.prevPage = s.prevPage[:0]
		for _, e := range page.Events {
			s.prevPage = append(s.prevPage, e.ID)
		}
	}
	var trailAt time.Time
	if !w.Checking {
		evs, trailAt = s.tieRuns(evs, pc, page.Next != "", narrowed)
	}
	out := evs[:0] // filtered in place: the page is ours
	dups := 0
	for _, e := range evs {
		if !pc.holds(e) {
			continue
		}
		copyNo := int32(1)
		if s.info.ContentIDs {
			copyNo = s.run.next(e)
		}
		if e.AlsoIn > 0 && s.cross.returned(e, copyNo, w.Partition) {
			dups++
			continue
		}
		again := e.Time.Equal(s.again)
		if again {
			s.againIDs = append(s.againIDs, e.ID)
		}
		if w.Checking || again || e.Time.Equal(trailAt) || s.counted(e.Time) {
			en, _ := s.seen.get(e.ID)
			en.r++
			if en.r <= en.n {
				s.setSeen(e.ID, en)
				dups++
				continue
			}
			en.n++
			en.t = e.Time.UnixMilli()
			s.setSeen(e.ID, en)
			copyNo = en.n // counts copies delivered by earlier reads too
		}
		if e.Time.After(s.highWater) {
			s.highWater = e.Time
		}
		if copyNo > 1 && s.info.ContentIDs {
			e.ID += "-" + strconv.Itoa(int(copyNo))
		}
		out = append(out, e)
	}
	if dups > 0 {
		s.p.metrics.DuplicatesSuppressed.Add(int64(dups))
	}
	if !s.again.IsZero() {
		// The narrowed query served the run whole: its counts are done.
		s.forget(s.again, s.againIDs)
		s.again, s.againIDs = time.Time{}, nil
	}
	return out
}

// tieRuns keeps a run of records of one instant whole across a page
// boundary. An API may serve such records in a different order at each
// request (a search engine with several replicas can): a run split between
// two pages then repeats some of its records and skips others. So the
// records of a page's last instant, when more pages follow, are counted as
// they are delivered (seen), and the instant is kept (TrailAt). If the next
// page starts with the same instant, its records of that instant are
// dropped, and the instant is read again by itself once the read ends
// (Recheck), in one request where the run fits a page: that read delivers
// the copies not delivered yet. Where the page comes from a query narrowed
// to that instant (see narrow), the run comes whole at its start instead,
// and filter counts it in place of a recheck. more says pages follow this
// one. It returns the records left to filter, and the instant whose
// records filter counts (zero: none).
func (s *stream) tieRuns(evs []Event, pc pieceState, more, narrowed bool) ([]Event, time.Time) {
	w := s.win
	if !w.TrailAt.IsZero() {
		first := slices.IndexFunc(evs, pc.holds)
		end := first // where the run at TrailAt ends on this page
		for first >= 0 && end < len(evs) && (!pc.holds(evs[end]) || evs[end].Time.Equal(w.TrailAt)) {
			end++
		}
		switch {
		case first < 0 && more:
			return evs, time.Time{} // nothing of the piece on this page
		case narrowed && first >= 0 && evs[first].Time.Equal(w.TrailAt) && (end < len(evs) || !more):
			// A narrowed query starts with the whole run: filter counts
			// its records against the copies delivered, so those the last
			// page did not hold go out now.
			s.again, s.againIDs = w.TrailAt, s.trail
			s.restartCount(w.TrailAt, s.trail)
		case first >= 0 && evs[first].Time.Equal(w.TrailAt):
			s.recheck(w.TrailAt)
			if end == len(evs) && more {
				return nil, time.Time{} // the page is all the run, which may go on
			}
			evs = evs[end:]
		case !slices.ContainsFunc(w.Recheck, w.TrailAt.Equal):
			// The run ended with the page: nothing to read again. (Had
			// it gone on, its counts wait for the recheck.)
			s.forget(w.TrailAt, s.trail)
		}
		w.TrailAt, s.trail = time.Time{}, nil
	}
	if !more {
		return evs, time.Time{}
	}
	last := len(evs) - 1
	for last >= 0 && !pc.holds(evs[last]) {
		last--
	}
	if last < 0 {
		return evs, time.Time{}
	}
	at := evs[last].Time
	for i := last; i >= 0 && (!pc.holds(evs[i]) || evs[i].Time.Equal(at)); i-- {
		if pc.holds(evs[i]) {
			s.trail = append(s.trail, evs[i].ID)
		}
	}
	w.TrailAt = at
	return evs, at
}

// counted reports whether the seen set counts the deliveries of records at
// t anyway: in the overlap regions a sweep reads again (before Reread, and
// from the window's Final on).
func (s *stream) counted(t time.Time) bool {
	return t.Before(s.win.Reread) || !t.Before(s.win.Final)
}

// forget drops what the seen set counted of the records ids at t only
// because a page boundary fell there (nil ids, as after a restart: every
// record at t).
func (s *stream) forget(t time.Time, ids []string) {
	if s.counted(t) {
		return
	}
	ms := t.UnixMilli()
	if ids == nil {
		s.editSeen(func(e seenEntry) (seenEntry, bool) { return e, e.t != ms })
		return
	}
	for _, id := range ids {
		if e, ok := s.seen.get(id); ok && e.t == ms {
			s.ownSeen()
			s.seen.delete(id)
		}
	}
}

// restartCount makes the records ids at t (every record at t when ids is
// nil: a recheck's, or a narrowed query's after a restart) count from zero
// against the copies delivered, for a read that serves them again.
func (s *stream) restartCount(t time.Time, ids []string) {
	ms := t.UnixMilli()
	if ids == nil {
		s.editSeen(func(e seenEntry) (seenEntry, bool) {
			if e.t == ms {
				e.r = 0
			}
			return e, true
		})
		return
	}
	for _, id := range ids {
		if e, ok := s.seen.get(id); ok && e.t == ms && e.r != 0 {
			e.r = 0
			s.setSeen(id, e)
		}
	}
}

// copyRun numbers identical records (content ids): it counts the copies
// of each id read so far at the newest timestamp of this piece's read.
// Pages come sorted by time, so identical records are neighbours, but a
// run of them may straddle a page boundary, or a restart: the run is kept
// across pages and saved with the window.
type copyRun struct {
	t   time.Time
	ids map[string]int32
}

// next counts e and returns its copy number.
func (r *copyRun) next(e Event) int32 {
	if !e.Time.Equal(r.t) || r.ids == nil {
		r.reset(e.Time)
	}
	r.ids[e.ID]++
	return r.ids[e.ID]
}

func (r *copyRun) reset(t time.Time) {
	r.t = t
	r.ids = map[string]int32{}
}

// state renders the run for a checkpoint; nil when empty.
func (r *copyRun) state() *runState {
	if len(r.ids) == 0 {
		return nil
	}
	st := &runState{T: r.t.UnixMilli(), IDs: make([]runCopy, 0, len(r.ids))}
	for id, n := range r.ids {
		st.IDs = append(st.IDs, runCopy{ID: id, N: n})
	}
	slices.SortFunc(st.IDs, func(a, b runCopy) int { return strings.Compare(a.ID, b.ID) })
	return st
}

func (r *copyRun) restore(st *runState) {
	r.reset(time.Time{})
	if st == nil {
		return
	}
	r.t = time.UnixMilli(st.T).UTC()
	for _, c := range st.IDs {
		r.ids[c.ID] = c.N
	}
}

// crossRead remembers, for a piece read partition by partition, the
// records an earlier partition returned that a later one may return too
// (Event.AlsoIn): how many copies of each id. Whether the vendor's filter
// returns such a record from one partition or from both is undocumented,
// so a later partition delivers the copies the earlier one did not return.
type crossRead struct{ n map[string]int32 }

// returned reports whether an earlier partition returned this copy of e;
// if e's other partition comes later, it remembers the copy instead.
func (c *crossRead) returned(e Event, copyNo int32, part int) bool {
	if other := e.AlsoIn - 1; other < part {
		return copyNo <= c.n[e.ID]
	}
	if c.n == nil {
		c.n = map[string]int32{}
	}
	c.n[e.ID] = max(c.n[e.ID], copyNo)
	return false
}

// state renders the set for a checkpoint, sorted; nil when empty.
func (c *crossRead) state() []runCopy {
	if len(c.n) == 0 {
		return nil
	}
	out := make([]runCopy, 0, len(c.n))
	for id, n := range c.n {
		out = append(out, runCopy{ID: id, N: n})
	}
	slices.SortFunc(out, func(a, b runCopy) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (c *crossRead) restore(st []runCopy) {
	c.n = nil
	for _, r := range st {
		if c.n == nil {
			c.n = make(map[string]int32, len(st))
		}
		c.n[r.ID] = r.N
	}
}

// shift returns how many leading records of a numbered page repeat the
// previous page's tail, pushed onto it by records inserted ahead of the
// read position (the total grew).
//
// With content ids, identical records are one id: a genuine copy that
// starts this page looks like a repeat of the previous page's last record
// when the records that made the total grow landed behind the read
// position, and skipping it would lose it. Reading the previous page again
// tells the two apart: a shift changed it. A previous page of identical
// records only can't tell, nor can a total that moved again between the
// two reads; both are taken as no shift, so the doubt costs a duplicate,
// never a record.
func (s *stream) shift(ctx context.Context, page Page, pc pieceState, first bool) (int, error) {
	w := s.win
	if first || !s.info.PageNumbered || w.Total < 0 || page.Total <= w.Total {
		return 0, nil
	}
	skip := shifted(s.prevPage, page.Events, page.Total-w.Total)
	if skip > 0 && s.info.ContentIDs {
		again, err := s.src.Fetch(ctx, Query{From: pc.From, To: pc.To, Partition: w.Partition, Cursor: s.prevCursor})
		if err != nil {
			return 0, err
		}
		s.fetches++
		// Records added between the two reads make the comparison say
		// nothing: taken as no shift too.
		if again.Total != page.Total || slices.EqualFunc(again.Events, s.prevPage, func(e Event, id string) bool { return e.ID == id }) {
			skip = 0
		}
	}
	w.Total = page.Total
	return skip, nil
}

// shifted returns how many leading records of cur repeat the tail of prev,
// at most grown: the number of records inserted since the previous page.
func shifted(prev []string, cur []Event, grown int) int {
	for k := min(grown, len(prev), len(cur)); k > 0; k-- {
		match := true
		for i := 0; i < k; i++ {
			if cur[i].ID != prev[len(prev)-k+i] {
				match = false
				break
			}
		}
		if match {
			return k
		}
	}
	return 0
}
