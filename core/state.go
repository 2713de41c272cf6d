package core

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// stateVersion is the checkpoint format this build writes. It is bumped
// whenever the checkpoint's meaning or layout changes; every older version
// keeps a reader (version 1: state_v1.go), and a newer one is refused
// rather than guessed at. runState is saved as it is: a change to it is a
// new version, which freezes a copy of it for its predecessor's reader.
//
// Version 3 is version 2 with a window's runs of one timestamp to read
// again (recheck, checking), the last run of its previous page (trail) and
// its cross-group counts (cross). A release that reads version 2 ignores
// them: the last two only cost it duplicates, but it would never read the
// runs again, whose records on the following pages were not delivered,
// and would take a recheck's page for the window's. So a checkpoint with
// runs to read again is written as version 3, which such a release
// refuses; every other as version 2, which it reads.
const stateVersion = 3

// checkpointState is what a stream persists: everything a restart needs to
// continue exactly where delivery stopped. Every time in it is UTC and fits
// Unix nanoseconds (see checkState).
type checkpointState struct {
	Stream string
	// Cursor: every record older than this has been delivered.
	Cursor time.Time
	// Final: no record older than this is read again. Between it and
	// Cursor lie records a sweep re-reads for late arrivals. Zero in
	// checkpoints of releases that re-read the overlap at every poll:
	// Cursor - overlap then.
	Final time.Time
	// HighWater is the newest event time delivered (informational); zero
	// before the first.
	HighWater time.Time
	// Window is the unfinished window, if any.
	Window *windowState
	// Seen counts deliveries of records that a later read may return again
	// (the overlap regions); see stream.filter.
	Seen    []seenRecord
	Updated time.Time
}

type windowState struct {
	From time.Time
	To   time.Time
	// Reread ends the part of the window that a previous window already
	// read ([From, Reread) is the overlap).
	Reread time.Time
	// Pieces tile [Pieces[0].From, To): each starts where the previous one
	// ended.
	Pieces []pieceState
	// Partition and Page locate the next request inside Pieces[0].
	Partition int
	// Partitions is the source's number of partitions when a piece was
	// marked read by all of them (Part equal to it, see rereadOlder): a
	// restart keeps the mark only while the number is the same. 0 in
	// checkpoints of earlier releases, which read such a piece again.
	Partitions int
	Page       string
	// Total is what the first page of the current piece/partition reported;
	// a later page reporting more means records were inserted while paging.
	Total int
	// Live is set when To was the newest settled time at planning, so the
	// next window waits for the poll interval.
	Live bool
	// Final is the stream's Final once this window is read: records at or
	// after it may be read again, so their deliveries are counted in
	// Seen. Zero in checkpoints of earlier releases: To - overlap then.
	Final time.Time
	// Run counts the copies of identical records read at the newest
	// timestamp of the current piece, so numbering goes on across a
	// restart (see copyRun).
	Run *runState
	// Cross counts the copies of each record that a partition read before
	// the current one returned and a later one may return too (see
	// Event.AlsoIn).
	Cross []runCopy
	// TrailAt is the instant of the previous page's last records, whose run
	// the next page may go on with (see tieRuns).
	TrailAt time.Time
	// Narrow is where the piece's current query starts (Order 1: oldest
	// first) or ends (Order -1: newest first, Narrow's records included)
	// when it was narrowed to the instant a page ended on (see
	// stream.narrow); Order is 0 for a query of the whole piece.
	Narrow time.Time
	Order  int8
	// Recheck lists the instants whose records a page boundary split: each
	// is read again by itself once the partition's read of the piece ends.
	// Checking is set while that happens (Page is then the recheck's).
	Recheck  []time.Time
	Checking bool
}

type runState struct {
	T   int64     `json:"t"` // Unix milliseconds
	IDs []runCopy `json:"ids"`
}

type runCopy struct {
	ID string `json:"id"`
	N  int32  `json:"n"`
}

// pieceState is a part of a window read as one query (per partition),
// created when a window holds more records than the API can return.
type pieceState struct {
	From time.Time
	To   time.Time
	// Part is the first partition still to read in this piece.
	Part int
}

type seenRecord struct {
	ID string
	T  int64 // event time, Unix milliseconds
	N  int32 // copies delivered
	R  int32 // copies read in the current window
}

type seenEntry struct {
	t    int64
	n, r int32
}

func (w *windowState) clone() *windowState {
	if w == nil {
		return nil
	}
	c := *w
	c.Pieces = append([]pieceState(nil), w.Pieces...)
	c.Recheck = slices.Clone(w.Recheck)
	return &c
}

// stateV2 is the checkpoint as saved. A stream saves it after every
// acknowledged page, and half-way through a backfill the window holds ~90
// pieces. Version 1 rendered each time as RFC 3339 through
// time.Time.MarshalJSON, slow enough in encoding/json to need a
// hand-written encoder. Here every time is an integer and the long lists
// are arrays of integers, which encoding/json renders without a method
// call or a key per value.
type stateV2 struct {
	Version int    `json:"version"`
	Stream  string `json:"stream"`
	// Times outside the window are Unix nanoseconds, which keeps event
	// times and the clock exact. They are pointers: the zero time.Time
	// has no Unix nanoseconds (0 is 1970), so it is an absent field, and a
	// missing cursor is told from one.
	Cursor    *int64    `json:"cursor"`
	Final     *int64    `json:"final,omitempty"`
	HighWater *int64    `json:"high_water,omitempty"`
	Window    *windowV2 `json:"window,omitempty"`
	Seen      *seenV2   `json:"seen,omitempty"`
	Updated   *int64    `json:"updated,omitempty"`
}

type windowV2 struct {
	// Unit is the nanoseconds in one unit of From, To, Reread and Pieces:
	// the coarsest of a second, a millisecond, a microsecond and a
	// nanosecond that keeps them exact: the source's precision, as a rule.
	Unit   int64 `json:"unit"`
	From   int64 `json:"from"`
	To     int64 `json:"to"`
	Reread int64 `json:"reread"`
	// Pieces holds where each piece starts; a piece ends where the next
	// one starts, the last one at To.
	Pieces []int64 `json:"pieces"`
	// Parts holds each piece's first partition to read, when any is not 0.
	Parts     []int `json:"parts,omitempty"`
	Partition int   `json:"partition,omitempty"`
	// Partitions: see windowState.
	Partitions int       `json:"partitions,omitempty"`
	Page       string    `json:"page,omitempty"`
	Total      int       `json:"total"`
	Live       bool      `json:"live,omitempty"`
	Final      *int64    `json:"final,omitempty"` // in Unit, like From and To
	Run        *runState `json:"run,omitempty"`
	Cross      []runCopy `json:"cross,omitempty"`
	// Trail and Recheck are Unix nanoseconds.
	Held     *int64  `json:"trail,omitempty"`
	Recheck  []int64 `json:"recheck,omitempty"`
	Checking bool    `json:"checking,omitempty"`
	// Narrow (Unix nanoseconds) and Order: see windowState. A release of
	// version 3 that does not know them reads the piece from its start
	// again: duplicates, never a loss.
	Narrow *int64 `json:"narrow,omitempty"`
	Order  int8   `json:"order,omitempty"`
}

// seenV2 holds the seen records column by column: a record is an id and
// three small numbers, and a key for each would cost more than the number.
// Most records were delivered once and not read again yet: N is absent
// when all are 1, R when all are 0.
type seenV2 struct {
	IDs []string `json:"ids"`
	T   []int64  `json:"t"` // Unix milliseconds, as in seenRecord
	N   []int32  `json:"n,omitempty"`
	R   []int32  `json:"r,omitempty"`
}

var units = []int64{1e9, 1e6, 1e3, 1}

// windowUnit is the coarsest unit in which all of w's times are whole.
func windowUnit(w *windowState) int64 {
	for _, u := range units[:len(units)-1] {
		whole := func(t time.Time) bool { return t.UnixNano()%u == 0 }
		ok := whole(w.From) && whole(w.To) && whole(w.Reread) && (w.Final.IsZero() || whole(w.Final))
		for i := 0; ok && i < len(w.Pieces); i++ {
			ok = whole(w.Pieces[i].From)
		}
		if ok {
			return u
		}
	}
	return 1
}

// encodeState renders st in the current format. st must pass checkState,
// as every state read or built by a stream does.
func encodeState(st *checkpointState) []byte {
	f := stateV2{Version: 2, Stream: st.Stream, Cursor: optNanos(st.Cursor), Final: optNanos(st.Final),
		HighWater: optNanos(st.HighWater), Updated: optNanos(st.Updated)}
	if w := st.Window; w != nil {
		u := windowUnit(w)
		fw := &windowV2{Unit: u, From: w.From.UnixNano() / u, To: w.To.UnixNano() / u, Reread: w.Reread.UnixNano() / u,
			Pieces: make([]int64, len(w.Pieces)), Partition: w.Partition, Partitions: w.Partitions, Page: w.Page, Total: w.Total, Live: w.Live, Run: w.Run,
			Cross: w.Cross, Held: optNanos(w.TrailAt), Checking: w.Checking, Narrow: optNanos(w.Narrow), Order: w.Order}
		for _, t := range w.Recheck {
			fw.Recheck = append(fw.Recheck, t.UnixNano())
		}
		if len(fw.Recheck) > 0 || fw.Checking {
			f.Version = stateVersion
		}
		if !w.Final.IsZero() {
			v := w.Final.UnixNano() / u
			fw.Final = &v
		}
		for i, p := range w.Pieces {
			fw.Pieces[i] = p.From.UnixNano() / u
			if p.Part != 0 && fw.Parts == nil {
				fw.Parts = make([]int, len(w.Pieces))
			}
			if fw.Parts != nil {
				fw.Parts[i] = p.Part
			}
		}
		f.Window = fw
	}
	if n := len(st.Seen); n > 0 {
		fs := &seenV2{IDs: make([]string, n), T: make([]int64, n)}
		for i, r := range st.Seen {
			fs.IDs[i], fs.T[i] = r.ID, r.T
			if r.N != 1 && fs.N == nil {
				fs.N = slices.Repeat([]int32{1}, n)
			}
			if fs.N != nil {
				fs.N[i] = r.N
			}
			if r.R != 0 && fs.R == nil {
				fs.R = make([]int32, n)
			}
			if fs.R != nil {
				fs.R[i] = r.R
			}
		}
		f.Seen = fs
	}
	b, _ := json.Marshal(&f) // integers, strings and bools: cannot fail
	return b
}

func optNanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromOptNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return fromNanos(*n)
}

func decodeV2(b []byte) (*checkpointState, error) {
	var f stateV2
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("corrupt (not valid checkpoint JSON: %v)", err)
	}
	st := &checkpointState{Stream: f.Stream, Cursor: fromOptNanos(f.Cursor), Final: fromOptNanos(f.Final), HighWater: fromOptNanos(f.HighWater),
		Updated: fromOptNanos(f.Updated)}
	if fw := f.Window; fw != nil {
		if !slices.Contains(units, fw.Unit) {
			return nil, fmt.Errorf("corrupt (a window time unit of %d ns)", fw.Unit)
		}
		if len(fw.Parts) != 0 && len(fw.Parts) != len(fw.Pieces) {
			return nil, fmt.Errorf("corrupt (%d window pieces, %d parts)", len(fw.Pieces), len(fw.Parts))
		}
		u, outside := fw.Unit, false
		at := func(v int64) time.Time {
			if v > math.MaxInt64/u || v < math.MinInt64/u {
				outside = true
				return time.Time{}
			}
			return fromNanos(v * u)
		}
		w := &windowState{From: at(fw.From), To: at(fw.To), Reread: at(fw.Reread), Pieces: make([]pieceState, len(fw.Pieces)),
			Partition: fw.Partition, Partitions: fw.Partitions, Page: fw.Page, Total: fw.Total, Live: fw.Live, Run: fw.Run, Cross: fw.Cross,
			TrailAt: fromOptNanos(fw.Held), Checking: fw.Checking, Narrow: fromOptNanos(fw.Narrow), Order: fw.Order}
		if len(w.Cross) == 0 {
			w.Cross = nil // "cross":[] is none, as saving it writes
		}
		for _, n := range fw.Recheck {
			w.Recheck = append(w.Recheck, fromNanos(n))
		}
		if fw.Final != nil {
			w.Final = at(*fw.Final)
		}
		for i, start := range fw.Pieces {
			w.Pieces[i].From = at(start)
			w.Pieces[i].To = w.To
			if i > 0 {
				w.Pieces[i-1].To = w.Pieces[i].From
			}
			if len(fw.Parts) > 0 {
				w.Pieces[i].Part = fw.Parts[i]
			}
		}
		if outside {
			// Unix nanoseconds hold every time a stream can have.
			return nil, fmt.Errorf("corrupt (a window time outside %d–%d)", minStateTime.Year(), maxStateTime.Year())
		}
		st.Window = w
	}
	if fs := f.Seen; fs != nil {
		n := len(fs.IDs)
		if len(fs.T) != n || len(fs.N) != 0 && len(fs.N) != n || len(fs.R) != 0 && len(fs.R) != n {
			return nil, fmt.Errorf("corrupt (seen records of unequal columns)")
		}
		for i := range n {
			r := seenRecord{ID: fs.IDs[i], T: fs.T[i], N: 1}
			if len(fs.N) > 0 {
				r.N = fs.N[i]
			}
			if len(fs.R) > 0 {
				r.R = fs.R[i]
			}
			st.Seen = append(st.Seen, r)
		}
	}
	return st, nil
}

// A saved time is int64 Unix nanoseconds: 1677-09-21 to 2262-04-11.
var (
	minStateTime = time.Unix(0, math.MinInt64)
	maxStateTime = time.Unix(0, math.MaxInt64)
)

func fitsState(t time.Time) bool { return !t.Before(minStateTime) && !t.After(maxStateTime) }

// decodeState reads a checkpoint of any version this build knows.
func decodeState(b []byte, stream string) (*checkpointState, error) {
	var v struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("corrupt (not valid checkpoint JSON: %v)", err)
	}
	var st *checkpointState
	var err error
	switch {
	case v.Version == 1:
		st, err = decodeV1(b)
	case v.Version == 2 || v.Version == stateVersion:
		st, err = decodeV2(b)
	case v.Version > stateVersion:
		return nil, fmt.Errorf("written by a newer release (checkpoint version %d; this build reads versions 1 to %d)", v.Version, stateVersion)
	default:
		return nil, fmt.Errorf("corrupt (checkpoint version %d)", v.Version)
	}
	if err != nil {
		return nil, err
	}
	if st.Stream != stream {
		return nil, fmt.Errorf("belongs to stream %q, not %q", st.Stream, stream)
	}
	if err := checkState(st); err != nil {
		return nil, err
	}
	return st, nil
}

// checkState refuses a state a stream cannot continue from, or that the
// current format cannot save exactly.
func checkState(st *checkpointState) error {
	switch {
	case st.Cursor.IsZero():
		return fmt.Errorf("corrupt (no cursor)")
	case st.Final.After(st.Cursor):
		return fmt.Errorf("corrupt (the final time is after the cursor)")
	case !fitsState(st.Cursor) || !fitsState(st.HighWater) && !st.HighWater.IsZero() || !fitsState(st.Updated) && !st.Updated.IsZero() ||
		!fitsState(st.Final) && !st.Final.IsZero():
		return fmt.Errorf("corrupt (a time outside %d–%d)", minStateTime.Year(), maxStateTime.Year())
	}
	w := st.Window
	if w == nil {
		return nil
	}
	switch {
	case len(w.Pieces) == 0 || !w.From.Before(w.To) || w.Partition < 0:
		return fmt.Errorf("corrupt (inconsistent window)")
	case !fitsState(w.From) || !fitsState(w.To) || !fitsState(w.Reread) || !w.Final.IsZero() && !fitsState(w.Final):
		return fmt.Errorf("corrupt (a window time outside %d–%d)", minStateTime.Year(), maxStateTime.Year())
	case w.Pieces[0].From.Before(w.From):
		return fmt.Errorf("corrupt (a window piece starts before the window)")
	case !w.Pieces[len(w.Pieces)-1].To.Equal(w.To):
		return fmt.Errorf("corrupt (the window's pieces do not end with it)")
	}
	for i, p := range w.Pieces {
		if !p.From.Before(p.To) || p.Part < 0 || i > 0 && !p.From.Equal(w.Pieces[i-1].To) {
			return fmt.Errorf("corrupt (inconsistent window piece)")
		}
	}
	if w.Checking && len(w.Recheck) == 0 {
		return fmt.Errorf("corrupt (rechecking no instant)")
	}
	if w.Order < -1 || w.Order > 1 || (w.Order != 0) != !w.Narrow.IsZero() ||
		w.Order != 0 && (w.Narrow.Before(w.Pieces[0].From) || !w.Narrow.Before(w.Pieces[0].To)) {
		return fmt.Errorf("corrupt (a read narrowed to an instant outside its piece)")
	}
	for _, c := range w.Cross {
		if c.ID == "" || c.N < 1 {
			return fmt.Errorf("corrupt (a record counted %d times)", c.N)
		}
	}
	return nil
}
