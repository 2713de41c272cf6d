package core

import (
	"encoding/json"
	"fmt"
	"time"
)

// stateV1 is checkpoint format version 1, as releases before version 2
// wrote it: times in RFC 3339, each piece with both its ends. It is only
// read, and must not change: testdata/checkpoints/v1 holds what those
// releases wrote.
type stateV1 struct {
	Version   int       `json:"version"`
	Stream    string    `json:"stream"`
	Cursor    time.Time `json:"cursor"`
	HighWater time.Time `json:"high_water"`
	Window    *struct {
		From   time.Time `json:"from"`
		To     time.Time `json:"to"`
		Reread time.Time `json:"reread"`
		Pieces []struct {
			From time.Time `json:"from"`
			To   time.Time `json:"to"`
			Part int       `json:"part"`
		} `json:"pieces"`
		Partition int    `json:"partition"`
		Page      string `json:"page"`
		Total     int    `json:"total"`
		Live      bool   `json:"live"`
		Run       *struct {
			T   int64 `json:"t"`
			IDs []struct {
				ID string `json:"id"`
				N  int32  `json:"n"`
			} `json:"ids"`
		} `json:"run"`
	} `json:"window"`
	Seen []struct {
		ID string `json:"id"`
		T  int64  `json:"t"`
		N  int32  `json:"n"`
		R  int32  `json:"r"`
	} `json:"seen"`
	Updated time.Time `json:"updated"`
}

// decodeV1 reads a version 1 checkpoint into the state it was written
// from. Its times were UTC when written; a hand-edited offset is kept as
// the same instant.
func decodeV1(b []byte) (*checkpointState, error) {
	var f stateV1
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("corrupt (not valid checkpoint JSON: %v)", err)
	}
	st := &checkpointState{Stream: f.Stream, Cursor: f.Cursor.UTC(), HighWater: f.HighWater.UTC(), Updated: f.Updated.UTC()}
	if fw := f.Window; fw != nil {
		w := &windowState{From: fw.From.UTC(), To: fw.To.UTC(), Reread: fw.Reread.UTC(), Pieces: make([]pieceState, len(fw.Pieces)),
			Partition: fw.Partition, Page: fw.Page, Total: fw.Total, Live: fw.Live}
		for i, p := range fw.Pieces {
			w.Pieces[i] = pieceState{From: p.From.UTC(), To: p.To.UTC(), Part: p.Part}
		}
		if r := fw.Run; r != nil {
			w.Run = &runState{T: r.T, IDs: make([]runCopy, len(r.IDs))}
			for i, c := range r.IDs {
				w.Run.IDs[i] = runCopy{ID: c.ID, N: c.N}
			}
		}
		st.Window = w
	}
	for _, r := range f.Seen {
		st.Seen = append(st.Seen, seenRecord{ID: r.ID, T: r.T, N: r.N, R: r.R})
	}
	return st, nil
}
