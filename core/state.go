package core

import (
	"encoding/json"
	"fmt"
	"time"
)

// stateVersion is bumped whenever the checkpoint's meaning changes; an
// unknown version is refused rather than guessed at.
const stateVersion = 1

// checkpointState is what a stream persists: everything a restart needs to
// continue exactly where delivery stopped.
type checkpointState struct {
	Version int    `json:"version"`
	Stream  string `json:"stream"`
	// Cursor: every record older than this has been delivered.
	Cursor time.Time `json:"cursor"`
	// HighWater is the newest event time delivered (informational).
	HighWater time.Time `json:"high_water,omitzero"`
	// Window is the unfinished window, if any.
	Window *windowState `json:"window,omitempty"`
	// Seen counts deliveries of records that a later read may return again
	// (the overlap regions); see stream.filter.
	Seen    []seenRecord `json:"seen,omitempty"`
	Updated time.Time    `json:"updated"`
}

type windowState struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Reread ends the part of the window that a previous window already
	// read ([From, Reread) is the overlap).
	Reread time.Time    `json:"reread"`
	Pieces []pieceState `json:"pieces"`
	// Partition and Page locate the next request inside Pieces[0].
	Partition int    `json:"partition"`
	Page      string `json:"page,omitempty"`
	// Total is what the first page of the current piece/partition reported;
	// a later page reporting more means records were inserted while paging.
	Total int `json:"total"`
	// Live is set when To was the newest settled time at planning, so the
	// next window waits for the poll interval.
	Live bool `json:"live,omitempty"`
	// Run counts the copies of identical records read at the newest
	// timestamp of the current piece, so numbering goes on across a
	// restart (see copyRun).
	Run *runState `json:"run,omitempty"`
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
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Part is the first partition still to read in this piece.
	Part int `json:"part,omitempty"`
}

type seenRecord struct {
	ID string `json:"id"`
	T  int64  `json:"t"`           // event time, Unix milliseconds
	N  int32  `json:"n"`           // copies delivered
	R  int32  `json:"r,omitempty"` // copies read in the current window
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
	return &c
}

func decodeState(b []byte, stream string) (*checkpointState, error) {
	var st checkpointState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("corrupt (not valid checkpoint JSON: %v)", err)
	}
	switch {
	case st.Version != stateVersion:
		return nil, fmt.Errorf("unsupported checkpoint version %d (this build reads version %d)", st.Version, stateVersion)
	case st.Stream != stream:
		return nil, fmt.Errorf("belongs to stream %q, not %q", st.Stream, stream)
	case st.Cursor.IsZero():
		return nil, fmt.Errorf("corrupt (no cursor)")
	}
	if w := st.Window; w != nil {
		if len(w.Pieces) == 0 || !w.From.Before(w.To) || w.Partition < 0 {
			return nil, fmt.Errorf("corrupt (inconsistent window)")
		}
		for _, p := range w.Pieces {
			if !p.From.Before(p.To) || p.Part < 0 {
				return nil, fmt.Errorf("corrupt (inconsistent window piece)")
			}
		}
	}
	return &st, nil
}
