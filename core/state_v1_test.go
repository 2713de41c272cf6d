package core

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// days cuts [from, from+n days) into n one-day pieces, each to be read from
// partition part on.
func days(from time.Time, n, part int) []pieceState {
	ps := make([]pieceState, n)
	for i := range ps {
		ps[i] = pieceState{From: from.AddDate(0, 0, i), To: from.AddDate(0, 0, i+1), Part: part}
	}
	return ps
}

// v1Checkpoints are checkpoints as the release with format version 1 wrote
// them (testdata/checkpoints/v1), each with the state it was written from:
// one per shape a stream's state takes. They are kept so that every later
// build is shown to resume from them.
var v1Checkpoints = []struct {
	file string
	want checkpointState
}{
	{"live-cursor-only.json", checkpointState{Stream: "nordpass-eu_nordpass_com",
		Cursor:  utc("2026-03-01T10:00:00Z"),
		Updated: utc("2026-03-01T10:05:03.123456789Z")}},
	{"live-between-windows.json", checkpointState{Stream: "nordpass-eu_nordpass_com-7f3a09c2",
		Cursor:    utc("2026-03-01T10:00:00Z"),
		HighWater: utc("2026-03-01T09:59:41Z"),
		Seen: []seenRecord{
			{ID: "0b9d4c5e6f7a8b9c0d1e2f3a4b5c6d7e", T: utc("2026-03-01T09:56:12Z").UnixMilli(), N: 1},
			{ID: "3497a94f6d25dfe5a0c1b2d3e4f5a6b7", T: utc("2026-03-01T09:59:41Z").UnixMilli(), N: 2},
			{ID: "f00dfeedbeef00112233445566778899", T: utc("2026-03-01T09:55:00Z").UnixMilli(), N: 1},
		},
		Updated: utc("2026-03-01T10:05:03.5Z")}},
	{"live-window-unread.json", checkpointState{Stream: "nordpass-eu_nordpass_com",
		Cursor:    utc("2026-03-01T10:00:00Z"),
		HighWater: utc("2026-03-01T09:59:41Z"),
		Window: &windowState{From: utc("2026-03-01T09:55:00Z"), To: utc("2026-03-01T10:01:00Z"), Reread: utc("2026-03-01T10:00:00Z"),
			Pieces: []pieceState{{From: utc("2026-03-01T09:55:00Z"), To: utc("2026-03-01T10:01:00Z")}},
			Total:  -1, Live: true},
		Seen:    []seenRecord{{ID: "3497a94f6d25dfe5a0c1b2d3e4f5a6b7", T: utc("2026-03-01T09:59:41Z").UnixMilli(), N: 1}},
		Updated: utc("2026-03-01T10:06:00.000000001Z")}},
	{"live-window-reading.json", checkpointState{Stream: "Audit–Prod (EU)",
		Cursor:    utc("2026-03-01T10:00:00Z"),
		HighWater: utc("2026-03-01T10:00:59Z"),
		Window: &windowState{From: utc("2026-03-01T09:55:00Z"), To: utc("2026-03-01T10:01:00Z"), Reread: utc("2026-03-01T10:00:00Z"),
			Pieces: []pieceState{{From: utc("2026-03-01T09:55:00Z"), To: utc("2026-03-01T10:01:00Z")}},
			Page:   "3", Total: 412, Live: true,
			Run: &runState{T: utc("2026-03-01T10:00:17Z").UnixMilli(), IDs: []runCopy{{ID: "9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f", N: 2}}}},
		Seen: []seenRecord{
			{ID: "0b9d4c5e6f7a8b9c0d1e2f3a4b5c6d7e", T: utc("2026-03-01T09:56:12Z").UnixMilli(), N: 1, R: 1},
			{ID: "3497a94f6d25dfe5a0c1b2d3e4f5a6b7", T: utc("2026-03-01T09:59:41Z").UnixMilli(), N: 2, R: 1},
			{ID: "c0ffee00c0ffee00c0ffee00c0ffee00", T: utc("2026-03-01T10:00:59Z").UnixMilli(), N: 1},
		},
		Updated: utc("2026-03-01T10:06:02.25Z")}},
	{"backfill-90-pieces.json", checkpointState{Stream: "nordpass-eu_nordpass_com",
		Cursor:    utc("2025-12-31T00:00:00Z"),
		HighWater: utc("2025-12-31T23:59:58Z"),
		Window: &windowState{From: utc("2025-12-01T00:00:00Z"), To: utc("2026-03-01T00:00:00Z"), Reread: utc("2025-12-01T00:00:00Z"),
			Pieces: days(utc("2025-12-31T00:00:00Z"), 60, 0),
			Page:   "84", Total: 9020},
		Updated: utc("2026-03-01T10:06:02.987654321Z")}},
	{"backfill-partitions.json", checkpointState{Stream: "nordpass-eu_nordpass_com-users-2f9e",
		Cursor:    utc("2026-02-10T10:12:51Z"),
		HighWater: utc("2026-02-10T20:29:03Z"),
		Window: &windowState{From: utc("2026-02-09T23:55:00Z"), To: utc("2026-02-13T00:00:00Z"), Reread: utc("2026-02-10T00:00:00Z"),
			// The window was split while its partition 1 was read: each
			// piece is read from partition 1 on, and the first one is on
			// partition 2 now.
			Pieces: []pieceState{
				{From: utc("2026-02-10T10:12:51Z"), To: utc("2026-02-10T20:30:42Z"), Part: 1},
				{From: utc("2026-02-10T20:30:42Z"), To: utc("2026-02-11T06:48:34Z"), Part: 1},
				{From: utc("2026-02-11T06:48:34Z"), To: utc("2026-02-11T17:06:25Z"), Part: 1},
				{From: utc("2026-02-11T17:06:25Z"), To: utc("2026-02-12T03:24:17Z"), Part: 1},
				{From: utc("2026-02-12T03:24:17Z"), To: utc("2026-02-12T13:42:08Z"), Part: 1},
				{From: utc("2026-02-12T13:42:08Z"), To: utc("2026-02-13T00:00:00Z"), Part: 1},
			},
			Partition: 2, Page: "5", Total: 7311},
		Seen:    []seenRecord{{ID: "aa11bb22cc33dd44ee55ff6600112233", T: utc("2026-02-09T23:58:00Z").UnixMilli(), N: 1, R: 1}},
		Updated: utc("2026-03-01T10:06:03Z")}},
	{"backfill-run-of-identical-records.json", checkpointState{Stream: "nordpass-eu_nordpass_com",
		Cursor:    utc("2026-01-15T00:00:00Z"),
		HighWater: utc("2026-01-15T23:59:50Z"),
		Window: &windowState{From: utc("2026-01-01T00:00:00Z"), To: utc("2026-03-01T00:00:00Z"), Reread: utc("2026-01-01T00:00:00Z"),
			Pieces: append([]pieceState{{From: utc("2026-01-15T00:00:00Z"), To: utc("2026-01-16T00:00:00Z")}}, days(utc("2026-01-16T00:00:00Z"), 44, 0)...),
			Page:   "12", Total: 1200,
			Run: &runState{T: utc("2026-01-15T11:42:07Z").UnixMilli(), IDs: []runCopy{
				{ID: "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", N: 3},
				{ID: "d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2", N: 1},
			}}},
		Updated: utc("2026-03-01T10:06:04.000001Z")}},
	{"qualtrics-milliseconds.json", checkpointState{Stream: "qualtrics-fra1_qualtrics_com-login",
		Cursor:    utc("2026-02-27T23:59:59.999Z"),
		HighWater: utc("2026-02-28T00:04:12.123456Z"),
		Window: &windowState{From: utc("2026-02-27T23:54:59.999Z"), To: utc("2026-02-28T00:05:00.001Z"), Reread: utc("2026-02-27T23:59:59.999Z"),
			Pieces: []pieceState{{From: utc("2026-02-27T23:54:59.999Z"), To: utc("2026-02-28T00:05:00.001Z")}},
			Page:   "https://fra1.qualtrics.com/API/v3/logs?activityType=login&skipToken=ZXlKMFlYSm5aWFFpT2pFd01IMD0%3D&endDate=2026-02-28T00%3A05%3A00.001Z",
			Total:  -1, Live: true},
		Seen:    []seenRecord{{ID: "UR_3kx9a8Zq<b>&\"x\"", T: utc("2026-02-27T23:58:01.5Z").UnixMilli(), N: 1, R: 1}},
		Updated: utc("2026-02-28T00:06:00.000000999Z")}},
	{"oloid-token-page.json", checkpointState{Stream: "oloid-api_oloid_com",
		Cursor:    utc("2026-02-20T08:00:00.250Z"),
		HighWater: utc("2026-02-20T08:00:00.249Z"),
		Window: &windowState{From: utc("2026-02-20T08:00:00.250Z"), To: utc("2026-02-27T08:00:00.250Z"), Reread: utc("2026-02-20T08:00:00.250Z"),
			Pieces: []pieceState{{From: utc("2026-02-20T08:00:00.250Z"), To: utc("2026-02-27T08:00:00.250Z")}},
			Page:   "eyJsYXN0S2V5Ijp7ImlkIjoiYWJjIiwidHMiOjE3NzE1NzQ0MDAyNTB9fQ==", Total: -1},
		Updated: utc("2026-02-20T08:00:07Z")}},
}

func v1Path(file string) string { return filepath.Join("testdata", "checkpoints", "v1", file) }

func TestReleaseV1CheckpointsLoadAsTheStateTheyWereWrittenFromAndSaveAsV2Unchanged(t *testing.T) {
	for _, tc := range v1Checkpoints {
		t.Run(strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			b, err := os.ReadFile(v1Path(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeState(b, tc.want.Stream)
			if err != nil {
				t.Fatal(err)
			}
			// The seen set is saved in map order.
			slices.SortFunc(got.Seen, func(a, b seenRecord) int { return strings.Compare(a.ID, b.ID) })
			if !reflect.DeepEqual(*got, tc.want) {
				t.Fatalf("loaded\n%s\nwant\n%s", dump(got), dump(&tc.want))
			}
			v2 := encodeState(got)
			if again, err := decodeState(v2, tc.want.Stream); err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("saved again as %s, which loads as %v, %v", v2, again, err)
			}
		})
	}
}

func dump(st *checkpointState) string {
	s := fmt.Sprintf("%+v", *st)
	if w := st.Window; w != nil {
		s += fmt.Sprintf("\nwindow %+v", *w)
		if w.Run != nil {
			s += fmt.Sprintf("\nrun %+v", *w.Run)
		}
	}
	return s
}
