package core

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// A stream saves its checkpoint after every acknowledged page, and half-way
// through a backfill the checkpoint holds the window's pieces: ~90 of them
// for a 90-day NordPass backfill, 180 timestamps. encoding/json spends
// ~140 µs on that (each time.Time goes through MarshalJSON and a validating
// compact), about 8 % of a whole Benthos pipeline's CPU. appendJSON writes
// the same bytes with appends; FuzzCheckpoint and TestStateJSONMatches
// check it against json.Marshal, which decodeState still reads it with.

// appendJSON appends st exactly as json.Marshal renders it. ok is false
// when a time cannot be rendered (a year outside 0–9999, which json.Marshal
// refuses too). pc, if not nil, remembers the rendered pieces: they change
// once per finished piece (~90 pages), not per save.
func (st *checkpointState) appendJSON(b []byte, pc *piecesCache) (_ []byte, ok bool) {
	e := stateEncoder{b: b, ok: true}
	e.raw(`{"version":`)
	e.int(int64(st.Version))
	e.raw(`,"stream":`)
	e.str(st.Stream)
	e.raw(`,"cursor":`)
	e.time(st.Cursor)
	if !st.HighWater.IsZero() {
		e.raw(`,"high_water":`)
		e.time(st.HighWater)
	}
	if w := st.Window; w != nil {
		e.raw(`,"window":{"from":`)
		e.time(w.From)
		e.raw(`,"to":`)
		e.time(w.To)
		e.raw(`,"reread":`)
		e.time(w.Reread)
		e.raw(`,"pieces":`)
		e.pieces(w.Pieces, pc)
		e.raw(`,"partition":`)
		e.int(int64(w.Partition))
		if w.Page != "" {
			e.raw(`,"page":`)
			e.str(w.Page)
		}
		e.raw(`,"total":`)
		e.int(int64(w.Total))
		if w.Live {
			e.raw(`,"live":true`)
		}
		if r := w.Run; r != nil {
			e.raw(`,"run":{"t":`)
			e.int(r.T)
			e.raw(`,"ids":[`)
			for i, c := range r.IDs {
				if i > 0 {
					e.raw(",")
				}
				e.raw(`{"id":`)
				e.str(c.ID)
				e.raw(`,"n":`)
				e.int(int64(c.N))
				e.raw("}")
			}
			e.raw("]}")
		}
		e.raw("}")
	}
	if len(st.Seen) > 0 {
		e.raw(`,"seen":[`)
		for i, r := range st.Seen {
			if i > 0 {
				e.raw(",")
			}
			e.raw(`{"id":`)
			e.str(r.ID)
			e.raw(`,"t":`)
			e.int(r.T)
			e.raw(`,"n":`)
			e.int(int64(r.N))
			if r.R != 0 {
				e.raw(`,"r":`)
				e.int(int64(r.R))
			}
			e.raw("}")
		}
		e.raw("]")
	}
	e.raw(`,"updated":`)
	e.time(st.Updated)
	e.raw("}")
	return e.b, e.ok
}

// piecesCache is a window's pieces and their JSON as last rendered.
type piecesCache struct {
	key []pieceState
	b   []byte
}

func (e *stateEncoder) pieces(ps []pieceState, pc *piecesCache) {
	if ps == nil {
		e.raw("null")
		return
	}
	if pc != nil && len(ps) > 0 && len(pc.b) > 0 && slices.Equal(pc.key, ps) {
		e.b = append(e.b, pc.b...)
		return
	}
	start := len(e.b)
	e.raw("[")
	for i, p := range ps {
		if i > 0 {
			e.raw(",")
		}
		e.raw(`{"from":`)
		e.time(p.From)
		e.raw(`,"to":`)
		e.time(p.To)
		if p.Part != 0 {
			e.raw(`,"part":`)
			e.int(int64(p.Part))
		}
		e.raw("}")
	}
	e.raw("]")
	if pc != nil && e.ok {
		pc.key = append(pc.key[:0], ps...)
		pc.b = append(pc.b[:0], e.b[start:]...)
	}
}

type stateEncoder struct {
	b  []byte
	ok bool
}

func (e *stateEncoder) raw(s string) { e.b = append(e.b, s...) }

func (e *stateEncoder) int(n int64) { e.b = strconv.AppendInt(e.b, n, 10) }

// time renders t as time.Time.MarshalJSON does (strict RFC 3339).
func (e *stateEncoder) time(t time.Time) {
	e.b = append(e.b, '"')
	var err error
	if e.b, err = t.AppendText(e.b); err != nil {
		e.ok = false
	}
	e.b = append(e.b, '"')
}

// str writes ids, stream keys and page tokens, which are plain ASCII, as
// they are; anything json.Marshal would escape (quotes, controls, HTML
// characters, non-ASCII) goes through json.Marshal.
func (e *stateEncoder) str(s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string: cannot fail
			e.b = append(e.b, q...)
			return
		}
	}
	e.b = append(e.b, '"')
	e.b = append(e.b, s...)
	e.b = append(e.b, '"')
}
