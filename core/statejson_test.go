package core

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// backfillSnapshot is a stream's state half-way through a 90-day backfill:
// one window cut into 90 pieces, with a few overlap records.
func backfillSnapshot() (*stream, *snapshot) {
	from := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	w := &windowState{From: from, To: from.Add(90 * 24 * time.Hour), Reread: from.Add(5 * time.Minute), Page: "84", Total: 9020}
	for i := range 90 {
		w.Pieces = append(w.Pieces, pieceState{From: from.Add(time.Duration(i) * 24 * time.Hour), To: from.Add(time.Duration(i+1) * 24 * time.Hour)})
	}
	seen := map[string]seenEntry{}
	for i := range 40 {
		seen[fmt.Sprintf("%032x", i*7919)] = seenEntry{t: from.UnixMilli() + int64(i), n: 1}
	}
	s := &stream{key: "nordpass-eu_nordpass_com"}
	return s, &snapshot{cursor: from, highWater: from.Add(time.Hour), window: w, seen: seen}
}

func BenchmarkEncodeCheckpoint(b *testing.B) {
	s, sn := backfillSnapshot()
	now := time.Now()
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(s.encode(sn, now))
	}
	b.ReportMetric(float64(n), "bytes")
}

func TestCheckpointJSONIsWhatEncodingJSONWrites(t *testing.T) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	east := time.FixedZone("", 5*3600+30*60)
	tests := []struct {
		name string
		st   checkpointState
	}{
		{"no window, no seen", checkpointState{Version: 1, Stream: "nordpass-eu", Cursor: day, Updated: day.Add(time.Second)}},
		{"zero high water is omitted", checkpointState{Version: 1, Stream: "s", Cursor: day}},
		{"window with pieces, parts, page and live", checkpointState{Version: 1, Stream: "s", Cursor: day, HighWater: day.Add(time.Nanosecond),
			Window: &windowState{From: day, To: day.Add(48 * time.Hour), Reread: day.Add(time.Minute), Partition: 2, Page: "84", Total: 9020, Live: true,
				Pieces: []pieceState{{From: day, To: day.Add(24 * time.Hour), Part: 3}, {From: day.Add(24 * time.Hour), To: day.Add(48 * time.Hour)}}},
			Updated: day.Add(123456789 * time.Nanosecond)}},
		{"nil pieces", checkpointState{Version: 1, Stream: "s", Cursor: day, Window: &windowState{From: day, To: day.Add(time.Hour)}}},
		{"empty pieces", checkpointState{Version: 1, Stream: "s", Cursor: day, Window: &windowState{From: day, To: day.Add(time.Hour), Pieces: []pieceState{}}}},
		{"seen with and without reads", checkpointState{Version: 1, Stream: "s", Cursor: day,
			Seen: []seenRecord{{ID: "3497a94f6d25dfe5", T: 1795319320000, N: 1}, {ID: "x-2", T: -5, N: 2, R: 1}}}},
		{"strings json must escape", checkpointState{Version: 1, Stream: "a\"b\\c<d>&e\u2028\x01é\xff", Cursor: day,
			Window: &windowState{From: day, To: day.Add(time.Hour), Page: "tok/en+=<>", Pieces: []pieceState{{From: day, To: day.Add(time.Hour)}}},
			Seen:   []seenRecord{{ID: "\t\n", N: 1}}}},
		{"times with a zone offset", checkpointState{Version: 1, Stream: "s", Cursor: day.In(east), Updated: day.In(east).Add(1500 * time.Millisecond)}},
		{"negative numbers", checkpointState{Version: -1, Stream: "s", Cursor: day, Window: &windowState{From: day, To: day, Partition: -3, Total: -1, Pieces: []pieceState{{Part: -2}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(&tt.st)
			if err != nil {
				t.Fatal(err)
			}
			var cache piecesCache
			for range 2 { // the second time from the cache
				got, ok := tt.st.appendJSON(nil, &cache)
				if !ok || string(got) != string(want) {
					t.Fatalf("appendJSON = %s, %v\njson.Marshal = %s", got, ok, want)
				}
			}
		})
	}
}

func TestCheckpointJSONRefusesWhatEncodingJSONRefuses(t *testing.T) {
	st := checkpointState{Version: 1, Stream: "s", Cursor: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := json.Marshal(&st); err == nil {
		t.Fatal("json.Marshal accepted year 10000")
	}
	if _, ok := st.appendJSON(nil, nil); ok {
		t.Fatal("appendJSON accepted year 10000")
	}
}

func TestCheckpointJSONCacheFollowsThePieces(t *testing.T) {
	_, sn := backfillSnapshot()
	st := checkpointState{Version: 1, Stream: "s", Cursor: sn.cursor, Window: sn.window.clone()}
	var cache piecesCache
	for st.Window.Pieces[0].Part = 0; len(st.Window.Pieces) > 1; st.Window.Pieces = st.Window.Pieces[1:] {
		for part := range 2 {
			st.Window.Pieces[0].Part = part
			want, _ := json.Marshal(&st)
			if got, _ := st.appendJSON(nil, &cache); string(got) != string(want) {
				t.Fatalf("with %d pieces, part %d: a stale rendering\n got %s\nwant %s", len(st.Window.Pieces), part, got, want)
			}
		}
	}
}
