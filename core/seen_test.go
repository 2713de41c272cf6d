package core

import (
	"fmt"
	"slices"
	"testing"
)

func TestSeenSetGivesBackEveryIDExactlyAsGiven(t *testing.T) {
	ids := []string{
		"0123456789abcdef0123456789abcdef", // a content hash: kept as bytes
		"ffffffffffffffffffffffffffffffff",
		"00000000000000000000000000000000",
		"0123456789ABCDEF0123456789ABCDEF", // upper case: a different id from its lower case
		"0123456789abcdef0123456789abcdeF",
		"0123456789abcdef0123456789abcde",   // 31 digits
		"0123456789abcdef0123456789abcdef0", // 33
		"0123456789abcdef0123456789abcdeg",
		"sha256:0123456789abcdef0123456789abcdef",
		"0123456789abcdef0123456789abcdef-2",
		"8f14e45f-ceea-467f-a0f8-ad8a1b5b2f34", // a UUID (Qualtrics' ids): kept as bytes
		"0ce7eda1-f815-4320-8fa7-fe0e3fd49412", // the same bytes as the next two, in other forms
		"0ce7eda1f81543208fa7fe0e3fd49412",
		"0CE7EDA1-F815-4320-8FA7-FE0E3FD49412",  // upper case
		"0ce7eda1-f815-4320-8fa7-fe0e3fd4941",   // 35
		"0ce7eda1-f815-4320-8fa7-fe0e3fd494123", // 37
		"0ce7eda1f-815-4320-8fa7-fe0e3fd49412",  // a hyphen moved
		"0ce7eda1-f815-4320-8fa7_fe0e3fd49412",
		"{0ce7eda1-f815-4320-8fa7-fe0e3fd494}",
		"",
		"ñ",
	}
	var s seenSet
	for i, id := range ids {
		s.set(id, seenEntry{t: int64(i), n: 1})
	}
	if s.len() != len(ids) {
		t.Fatalf("len %d, want %d", s.len(), len(ids))
	}
	for i, id := range ids {
		if e, ok := s.get(id); !ok || e.t != int64(i) {
			t.Errorf("get(%q) = %+v, %v; want t %d", id, e, ok, i)
		}
	}
	var got []string
	for _, r := range s.records() {
		got = append(got, r.ID)
		if want := int64(slices.Index(ids, r.ID)); r.T != want {
			t.Errorf("record %q has t %d, want %d", r.ID, r.T, want)
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) {
		t.Errorf("records hold ids\n%q\nwant\n%q", got, want)
	}
	for _, id := range ids {
		s.delete(id)
		if _, ok := s.get(id); ok {
			t.Errorf("%q still there after delete", id)
		}
	}
	if s.len() != 0 {
		t.Errorf("len %d after deleting every id", s.len())
	}
}

func TestSeenSetEditsInPlaceAndReportsWhetherAnEditChangesAnything(t *testing.T) {
	build := func() seenSet {
		var s seenSet
		for i := range 10 {
			s.set(fmt.Sprintf("%032x", i), seenEntry{t: int64(i % 2), n: 1})
			s.set(fmt.Sprintf("id-%d", i), seenEntry{t: int64(i % 2), n: 1, r: 1})
			s.set(fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), seenEntry{t: int64(i % 2), n: 2})
		}
		return s
	}
	tests := []struct {
		name    string
		fn      func(seenEntry) (seenEntry, bool)
		changes bool
		left    int
	}{
		{"keeping everything as it is", func(e seenEntry) (seenEntry, bool) { return e, true }, false, 30},
		{"dropping one instant", func(e seenEntry) (seenEntry, bool) { return e, e.t != 0 }, true, 15},
		{"dropping an instant none is at", func(e seenEntry) (seenEntry, bool) { return e, e.t != 5 }, false, 30},
		{"resetting reads", func(e seenEntry) (seenEntry, bool) { e.r = 0; return e, true }, true, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := build()
			orig := s.clone()
			if got := s.changes(tt.fn); got != tt.changes {
				t.Errorf("changes = %v, want %v", got, tt.changes)
			}
			s.edit(tt.fn)
			if s.len() != tt.left {
				t.Errorf("%d records left, want %d", s.len(), tt.left)
			}
			for _, r := range s.records() {
				e, _ := orig.get(r.ID)
				if want, _ := tt.fn(e); want != (seenEntry{t: r.T, n: r.N, r: r.R}) {
					t.Errorf("%s: %+v, want %+v", r.ID, r, want)
				}
			}
			if orig.len() != 30 {
				t.Errorf("the clone changed with the set: %d records", orig.len())
			}
		})
	}
}

// BenchmarkSeenSetRecords is what a save pays for the seen set of a
// stream holding 500 content-hash ids.
func BenchmarkSeenSetRecords(b *testing.B) {
	var s seenSet
	for i := range 500 {
		s.set(fmt.Sprintf("%032x", i*7919), seenEntry{t: int64(i), n: 1})
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n += len(s.records())
	}
	if n == 0 {
		b.Fatal("no records")
	}
}
