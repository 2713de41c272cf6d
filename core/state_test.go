package core

import (
	"fmt"
	"reflect"
	"strings"
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
	var seen seenSet
	for i := range 40 {
		seen.set(fmt.Sprintf("%032x", i*7919), seenEntry{t: from.UnixMilli() + int64(i), n: 1})
	}
	s := &stream{key: "nordpass-eu_nordpass_com"}
	return s, &snapshot{cursor: from, highWater: from.Add(time.Hour), window: w, seen: seen}
}

// BenchmarkEncodeCheckpoint is the save a stream makes after every
// acknowledged page, half-way through a backfill.
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

func TestCheckpointSavedIsLoadedUnchanged(t *testing.T) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	window := func(pieces ...pieceState) *windowState {
		return &windowState{From: day, To: pieces[len(pieces)-1].To, Reread: day.Add(5 * time.Minute), Pieces: pieces, Total: -1}
	}
	_, backfill := backfillSnapshot()
	tests := []struct {
		name string
		st   checkpointState
	}{
		{"a cursor only", checkpointState{Stream: "nordpass-eu", Cursor: day, Updated: day.Add(time.Second)}},
		{"no high water and no update time", checkpointState{Stream: "s", Cursor: day}},
		{"a high water at the Unix epoch", checkpointState{Stream: "s", Cursor: day, HighWater: time.Unix(0, 0).UTC()}},
		{"nanosecond times", checkpointState{Stream: "s", Cursor: day.Add(time.Nanosecond), HighWater: day.Add(123456789),
			Window: window(pieceState{From: day.Add(1), To: day.Add(999)}), Updated: day.Add(-1)}},
		{"times before 1970, as a first run from 1900 saved them", checkpointState{Stream: "s", Cursor: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
			Window: &windowState{From: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(1900, 4, 1, 0, 0, 0, 0, time.UTC), Reread: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
				Pieces: []pieceState{{From: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(1900, 4, 1, 0, 0, 0, 0, time.UTC)}}}}},
		{"the first and last times a checkpoint holds", checkpointState{Stream: "s", Cursor: maxStateTime.UTC(), HighWater: minStateTime.UTC(),
			Window: &windowState{From: minStateTime.UTC(), To: maxStateTime.UTC(), Reread: time.Unix(0, 0).UTC(), Pieces: []pieceState{
				{From: minStateTime.UTC(), To: time.Unix(0, 0).UTC()}, {From: time.Unix(0, 0).UTC(), To: maxStateTime.UTC(), Part: 1}}}}},
		{"a window whose pieces start on partition 0", checkpointState{Stream: "s", Cursor: day,
			Window: window(pieceState{From: day.Add(time.Hour), To: day.Add(2 * time.Hour)}, pieceState{From: day.Add(2 * time.Hour), To: day.Add(24 * time.Hour)})}},
		{"a window whose pieces start on other partitions", checkpointState{Stream: "s", Cursor: day,
			Window: &windowState{From: day, To: day.Add(3 * time.Hour), Reread: day, Partition: 3, Page: "7", Total: 0, Live: true,
				Pieces: []pieceState{{From: day, To: day.Add(time.Hour), Part: 2}, {From: day.Add(time.Hour), To: day.Add(2 * time.Hour)}, {From: day.Add(2 * time.Hour), To: day.Add(3 * time.Hour), Part: 1}}}}},
		{"a run of identical records", checkpointState{Stream: "s", Cursor: day,
			Window: &windowState{From: day, To: day.Add(time.Hour), Reread: day, Pieces: []pieceState{{From: day, To: day.Add(time.Hour)}}, Page: "2", Total: 250,
				Run: &runState{T: day.Add(time.Minute).UnixMilli(), IDs: []runCopy{{ID: "a", N: 3}, {ID: "b", N: 1}}}}}},
		{"records a later partition may return too", checkpointState{Stream: "s", Cursor: day,
			Window: &windowState{From: day, To: day.Add(time.Hour), Reread: day, Pieces: []pieceState{{From: day, To: day.Add(time.Hour)}}, Partition: 1, Page: "3", Total: 120,
				Cross: []runCopy{{ID: "a", N: 1}, {ID: "b", N: 2}}}}},
		{"a run of one instant split by a page boundary, read again", checkpointState{Stream: "s", Cursor: day,
			Window: &windowState{From: day, To: day.Add(time.Hour), Reread: day, Pieces: []pieceState{{From: day, To: day.Add(time.Hour)}}, Page: "4", Total: 400,
				TrailAt: day.Add(20 * time.Minute), Recheck: []time.Time{day.Add(50 * time.Minute), day.Add(40*time.Minute + time.Millisecond)}}}},
		{"a read narrowed to the instant a page ended on, oldest first", checkpointState{Stream: "s", Cursor: day,
			Window: &windowState{From: day, To: day.Add(time.Hour), Reread: day, Pieces: []pieceState{{From: day, To: day.Add(time.Hour)}}, Total: -1,
				TrailAt: day.Add(20 * time.Minute), Narrow: day.Add(20 * time.Minute), Order: 1}}},
		{"a narrowed read going on by its cursor, newest first", checkpointState{Stream: "s", Cursor: day,
			Window: &windowState{From: day, To: day.Add(time.Hour), Reread: day, Pieces: []pieceState{{From: day, To: day.Add(time.Hour)}}, Page: "k", Total: -1,
				TrailAt: day.Add(10 * time.Minute), Narrow: day.Add(20*time.Minute + time.Millisecond), Order: -1}}},
		{"reading an instant again", checkpointState{Stream: "s", Cursor: day,
			Window: &windowState{From: day, To: day.Add(time.Hour), Reread: day, Pieces: []pieceState{{From: day, To: day.Add(time.Hour)}}, Page: "2", Total: 140,
				Recheck: []time.Time{day.Add(50 * time.Minute)}, Checking: true}}},
		{"seen records with and without reads", checkpointState{Stream: "s", Cursor: day,
			Seen: []seenRecord{{ID: "3497a94f6d25dfe5", T: 1795319320000, N: 1}, {ID: "x-2", T: -5, N: 2, R: 1}}}},
		{"strings json must escape", checkpointState{Stream: "a\"b\\c<d>&e\u2028\x01é", Cursor: day,
			Window: window(pieceState{From: day, To: day.Add(time.Hour)}),
			Seen:   []seenRecord{{ID: "\t\n", N: 1}}}},
		{"a final time behind the cursor, and a window's", checkpointState{Stream: "s", Cursor: day, Final: day.Add(-6 * time.Minute),
			Window: &windowState{From: day.Add(-6 * time.Minute), To: day.Add(time.Minute), Reread: day, Final: day.Add(-4 * time.Minute),
				Pieces: []pieceState{{From: day.Add(-6 * time.Minute), To: day.Add(time.Minute)}}, Total: -1, Live: true}}},
		{"half-way through a 90-day backfill", checkpointState{Stream: "s", Cursor: backfill.cursor, HighWater: backfill.highWater, Window: backfill.window}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkState(&tt.st); err != nil {
				t.Fatalf("not a state a stream can have: %v", err)
			}
			b := encodeState(&tt.st)
			// Version 3 only for what a release reading version 2 would
			// misread: it refuses version 3, and reads all the rest.
			version := `{"version":2,`
			if w := tt.st.Window; w != nil && (len(w.Recheck) > 0 || w.Checking) {
				version = `{"version":3,`
			}
			if !strings.HasPrefix(string(b), version) {
				t.Fatalf("saved as %s, want %s…", b, version)
			}
			got, err := decodeState(b, tt.st.Stream)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if !reflect.DeepEqual(*got, tt.st) {
				t.Fatalf("saved %s\nloaded\n%s\nwant\n%s", b, dump(got), dump(&tt.st))
			}
		})
	}
}

func TestCheckpointFromANewerReleaseIsRefused(t *testing.T) {
	for _, v := range []int{4, 99} {
		_, err := decodeState(fmt.Appendf(nil, `{"version":%d,"stream":"s","cursor":"2030-01-01T00:00:00Z","format":"unknown"}`, v), "s")
		if err == nil || !strings.Contains(err.Error(), "newer release") || !strings.Contains(err.Error(), fmt.Sprint(v)) {
			t.Errorf("version %d: want an error naming a newer release, got %v", v, err)
		}
	}
}

func TestCorruptCheckpointIsRefusedSayingWhy(t *testing.T) {
	const v2 = `{"version":2,"stream":"s","cursor":1772359200000000000,`
	tests := []struct {
		name, data, want string
	}{
		{"not JSON", `{not json`, "not valid checkpoint JSON"},
		{"cut short", v2 + `"window":{"unit":1,"from":17723592`, "not valid checkpoint JSON"},
		{"no version", `{"stream":"s","cursor":1}`, "version 0"},
		{"a negative version", `{"version":-1,"stream":"s","cursor":1}`, "version -1"},
		{"a version that is no number", `{"version":"2","stream":"s","cursor":1}`, "not valid checkpoint JSON"},
		{"another stream's", `{"version":2,"stream":"t","cursor":1}`, `belongs to stream "t"`},
		{"no cursor", `{"version":2,"stream":"s"}`, "no cursor"},
		{"a version 1 time that is no time", `{"version":1,"stream":"s","cursor":"yesterday"}`, "not valid checkpoint JSON"},
		{"a version 1 cursor Unix nanoseconds cannot hold", `{"version":1,"stream":"s","cursor":"1600-01-01T00:00:00Z"}`, "time outside"},
		{"version 1 pieces with a gap", `{"version":1,"stream":"s","cursor":"2026-01-01T00:00:00Z","window":{"from":"2026-01-01T00:00:00Z","to":"2026-01-03T00:00:00Z","reread":"2026-01-01T00:00:00Z","pieces":[{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z"},{"from":"2026-01-02T01:00:00Z","to":"2026-01-03T00:00:00Z"}]}}`, "inconsistent window piece"},
		{"version 1 pieces short of the window's end", `{"version":1,"stream":"s","cursor":"2026-01-01T00:00:00Z","window":{"from":"2026-01-01T00:00:00Z","to":"2026-01-03T00:00:00Z","reread":"2026-01-01T00:00:00Z","pieces":[{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z"}]}}`, "do not end with it"},
		{"a window ending before it starts", v2 + `"window":{"unit":1,"from":20,"to":10,"reread":10,"pieces":[20]}}`, "inconsistent window"},
		{"a window without pieces", v2 + `"window":{"unit":1,"from":10,"to":20,"reread":10,"pieces":[]}}`, "inconsistent window"},
		{"a piece starting before the window", v2 + `"window":{"unit":1,"from":10,"to":20,"reread":10,"pieces":[9]}}`, "starts before the window"},
		{"a piece starting at the window's end", v2 + `"window":{"unit":1,"from":10,"to":20,"reread":10,"pieces":[10,20]}}`, "inconsistent window piece"},
		{"a piece starting after the window", v2 + `"window":{"unit":1,"from":10,"to":20,"reread":10,"pieces":[10,21]}}`, "inconsistent window piece"},
		{"rechecking no instant", v2 + `"window":{"unit":1,"from":10,"to":20,"reread":10,"pieces":[10],"checking":true}}`, "rechecking no instant"},
		{"a record counted no times", v2 + `"window":{"unit":1,"from":10,"to":20,"reread":10,"pieces":[10],"cross":[{"id":"a","n":0}]}}`, "a record counted 0 times"},
		{"pieces out of order", v2 + `"window":{"unit":1,"from":10,"to":20,"reread":10,"pieces":[15,12]}}`, "inconsistent window piece"},
		{"a part for some pieces only", v2 + `"window":{"unit":1,"from":10,"to":20,"reread":10,"pieces":[10,15],"parts":[1]}}`, "2 window pieces, 1 parts"},
		{"a negative part", v2 + `"window":{"unit":1,"from":10,"to":20,"reread":10,"pieces":[10],"parts":[-1]}}`, "inconsistent window piece"},
		{"a window time unit that is no power of 1000", v2 + `"window":{"unit":60000000000,"from":10,"to":20,"reread":10,"pieces":[10]}}`, "unit of 60000000000 ns"},
		{"a window time past 2262", v2 + `"window":{"unit":1000000000,"from":10,"to":9300000000,"reread":10,"pieces":[10]}}`, "window time outside"},
		{"seen columns of unequal length", v2 + `"seen":{"ids":["a","b"],"t":[1,2],"n":[1]}}`, "unequal columns"},
		{"seen reads for some records only", v2 + `"seen":{"ids":["a","b"],"t":[1,2],"n":[1,1],"r":[1]}}`, "unequal columns"},
		{"a narrowed read without its instant", v2 + `"window":{"unit":1,"from":10,"to":20,"reread":10,"pieces":[10],"order":1}}`, "narrowed to an instant outside its piece"},
		{"a narrowed read of no order", v2 + `"window":{"unit":1,"from":10,"to":20,"reread":10,"pieces":[10],"narrow":15}}`, "narrowed to an instant outside its piece"},
		{"a narrowed read of an order that is none", v2 + `"window":{"unit":1,"from":10,"to":20,"reread":10,"pieces":[10],"narrow":15,"order":2}}`, "narrowed to an instant outside its piece"},
		{"a read narrowed past its piece", v2 + `"window":{"unit":1,"from":10,"to":20,"reread":10,"pieces":[10,15],"narrow":16,"order":-1}}`, "narrowed to an instant outside its piece"},
		{"a negative partition", v2 + `"window":{"unit":1,"from":10,"to":20,"reread":10,"pieces":[10],"partition":-1}}`, "inconsistent window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := decodeState([]byte(tt.data), "s")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error saying %q, got %v (%+v)", tt.want, err, st)
			}
		})
	}
}

func TestWindowTimesAreSavedInTheCoarsestUnitThatKeepsThemExact(t *testing.T) {
	sec := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		from  time.Time
		piece time.Duration // where the second piece starts, after from
		want  int64
	}{
		{"seconds (NordPass)", sec, time.Hour, 1e9},
		{"milliseconds (Qualtrics, Oloid)", sec.Add(250 * time.Millisecond), time.Hour, 1e6},
		{"a piece finer than the window", sec, time.Hour + time.Microsecond, 1e3},
		{"nanoseconds", sec.Add(1), time.Hour, 1},
		{"seconds before 1970", time.Date(1900, 1, 1, 0, 0, 1, 0, time.UTC), time.Hour, 1e9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			to := tt.from.Add(24 * time.Hour)
			st := checkpointState{Stream: "s", Cursor: tt.from, Window: &windowState{From: tt.from, To: to, Reread: tt.from,
				Pieces: []pieceState{{From: tt.from, To: tt.from.Add(tt.piece)}, {From: tt.from.Add(tt.piece), To: to}}}}
			b := encodeState(&st)
			if !strings.Contains(string(b), fmt.Sprintf(`"unit":%d,`, tt.want)) {
				t.Fatalf("want unit %d: %s", tt.want, b)
			}
			if got, err := decodeState(b, "s"); err != nil || !reflect.DeepEqual(*got, st) {
				t.Fatalf("loaded %v, %v\nwant %s", got, err, dump(&st))
			}
		})
	}
}
