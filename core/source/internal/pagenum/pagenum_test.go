package pagenum

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/source/internal/jsonpage"
	"github.com/auditpull/auditpull/internal/jsonscan"
)

func TestNextNeverAsksPastTheLastPageOrTheCap(t *testing.T) {
	cases := []struct {
		name                     string
		page, total, perPage, cp int
		want                     string
	}{
		{"more pages", 1, 250, 100, 10000, "2"},
		{"the last page", 3, 250, 100, 10000, ""},
		{"no records", 1, 0, 100, 10000, ""},
		{"pages of 100 reach the cap exactly", 99, 20000, 100, 10000, "100"},
		{"no page past the cap", 100, 20000, 100, 10000, ""},
		{"pages of 30: page 333 ends at 9,990", 332, 20000, 30, 10000, "333"},
		{"pages of 30: page 334 would straddle the cap", 333, 20000, 30, 10000, ""},
	}
	for _, c := range cases {
		if got := Next(c.page, c.total, c.perPage, c.cp); got != c.want {
			t.Errorf("%s: Next(%d, %d, %d, %d) = %q, want %q", c.name, c.page, c.total, c.perPage, c.cp, got, c.want)
		}
	}
	if got := Reachable(10000, 30); got != 9990 {
		t.Errorf("Reachable(10000, 30) = %d, want 9990", got)
	}
}

// Whichever way the API reads its bounds, [From, To) is inside what is
// asked for, and the request never spans more than the API allows.
func TestBoundsCoverTheWindowUnderEveryReading(t *testing.T) {
	from := time.Unix(1_700_000_000, 0)
	to := from.Add(MaxWindow(90 * 24 * time.Hour))
	f, tt := Bounds(core.Query{From: from, To: to})
	for _, fromExcl := range []bool{false, true} {
		for _, toExcl := range []bool{false, true} {
			lo, hi := f, tt // the first and last second the API returns
			if fromExcl {
				lo++
			}
			if toExcl {
				hi--
			}
			if lo > from.Unix() || hi < to.Unix()-1 {
				t.Errorf("from exclusive %v, to exclusive %v: the API returns [%d, %d], the window is [%d, %d)", fromExcl, toExcl, lo, hi, from.Unix(), to.Unix())
			}
		}
	}
	if span := time.Duration(tt-f+1) * time.Second; span > 90*24*time.Hour {
		t.Errorf("a longest window asks for %s, counting both bounds: more than 90 days", span)
	}
}

func TestABadRequestIsTransientOnlyWhenTheAPIsClockIsBehind(t *testing.T) {
	to := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		body      string
		date      time.Time
		transient bool
	}{
		{"the API says timestamp_to is in the future", `{"message":"Invalid request payload","reason":"timestamp_to is in the future"}`, to, true},
		{"no reason, the API's Date before timestamp_to", `{"message":"Invalid request payload"}`, to.Add(-time.Minute), true},
		{"no reason, the API's clock past timestamp_to", `{"message":"Invalid request payload"}`, to.Add(time.Minute), false},
		{"another reason", `{"message":"Invalid request payload","reason":"user_uuids array contains non existing user_uuid value"}`, to.Add(-time.Minute), false},
	}
	for _, c := range cases {
		r := &core.Response{Status: 400, Header: http.Header{"Date": {c.date.Format(http.TimeFormat)}}, Body: []byte(c.body)}
		err := BadRequest("op", r, to.Unix())
		var te *core.TransientError
		if got := errors.As(err, &te); got != c.transient {
			t.Errorf("%s: %v; transient %v, want %v", c.name, err, got, c.transient)
		}
	}
}

func TestAPageWithoutAUsableTotalIsNeverALastPage(t *testing.T) {
	event := func(s *jsonscan.Scanner) (core.Event, error) { return core.Event{}, s.Skip() }
	cases := []struct {
		name string
		meta string
		want int // -1: refused
	}{
		{"a count", `{"total":250}`, 250},
		{"a count as a string of digits", `{"total":"250"}`, 250},
		{"no total", `{"per_page":30,"total_pages":9}`, -1},
		{"null", `{"total":null,"total_pages":9}`, -1},
		{"a word", `{"total":"n/a","total_pages":9}`, -1},
		{"negative", `{"total":-1}`, -1},
		{"an object", `{"total":{"value":250}}`, -1},
		{"no metadata", `null`, -1},
	}
	for _, c := range cases {
		d, err := DecodeData([]byte(`{"data":[],"metadata":`+c.meta+`}`), "event", event)
		switch {
		case c.want < 0 && (err == nil || !strings.Contains(err.Error(), "no metadata.total that is a count")):
			t.Errorf("%s: total %d, %v; want it refused", c.name, d.Total, err)
		case c.want >= 0 && (err != nil || d.Total != c.want):
			t.Errorf("%s: total %d, %v; want %d", c.name, d.Total, err, c.want)
		}
	}
}

func TestPagesAreCountedInTheSizeTheAPIServes(t *testing.T) {
	evs := func(n int) []core.Event { return make([]core.Event, n) }
	cases := []struct {
		name        string
		page, asked int
		d           jsonpage.Data
		next        string
		total       int    // the total reported to the planner
		err         string // a part of the error; "" for none
	}{
		{"served as asked", 1, 100, jsonpage.Data{Events: evs(100), Total: 250, PerPage: 100}, "2", 250, ""},
		{"served as asked, no per_page", 1, 100, jsonpage.Data{Events: evs(100), Total: 250}, "2", 250, ""},
		{"fewer served: pages of metadata.per_page", 4, 100, jsonpage.Data{Events: evs(50), Total: 250, PerPage: 50}, "5", 250, ""},
		{"fewer served: the last page", 5, 100, jsonpage.Data{Events: evs(50), Total: 250, PerPage: 50}, "", 250, ""},
		{"a short last page", 3, 100, jsonpage.Data{Events: evs(50), Total: 250}, "", 250, ""},
		{"a short page with more to come, no per_page: the size cannot be told", 1, 100, jsonpage.Data{Events: evs(50), Total: 250},
			"", 0, "fewer than the 100 asked, though metadata.total 250 says more follow it, and the answer has no metadata.per_page to count pages by: if the API serves at most 50 records a page, set page_size to 50"},
		{"a page short of its metadata.per_page with more to come", 1, 100, jsonpage.Data{Events: evs(40), Total: 250, PerPage: 50}, "", 0, "fewer than metadata.per_page 50"},
		{"more records than the page size", 1, 30, jsonpage.Data{Events: evs(31), Total: 250}, "", 0, "page 1 holds 31 records, more than the page size 30 asked"},
		{"more records than metadata.per_page", 1, 100, jsonpage.Data{Events: evs(60), Total: 250, PerPage: 50}, "", 0, "more than the page size 50 of metadata.per_page"},
		{"no page past the cap in the size served", 333, 100, jsonpage.Data{Events: evs(30), Total: 20000, PerPage: 30}, "", 20000, ""},
		{"pages of 30 reach 9,990 of a cap the asked pages of 100 reach whole: the planner is told 10 more", 1, 100,
			jsonpage.Data{Events: evs(30), Total: 9995, PerPage: 30}, "2", 10005, ""},
		{"a total beyond the cap is raised the same", 1, 100, jsonpage.Data{Events: evs(30), Total: 20000, PerPage: 30}, "2", 20010, ""},
		{"only the first page is raised", 2, 100, jsonpage.Data{Events: evs(30), Total: 9995, PerPage: 30}, "3", 9995, ""},
		{"data null with no records", 1, 100, jsonpage.Data{Found: jsonpage.Null, Total: 0}, "", 0, ""},
		{"data null on a page past the records", 3, 30, jsonpage.Data{Found: jsonpage.Null, Total: 60}, "", 60, ""},
		{"data null where records should be", 2, 30, jsonpage.Data{Found: jsonpage.Null, Total: 60}, "", 0, "page 2 has data null, but metadata.total 60 puts records on it"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.d.Found == jsonpage.Missing {
				c.d.Found = jsonpage.Array
			}
			p, err := Turn(c.page, c.asked, Cap, c.d)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("%+v, %v; want an error with %q", p, err, c.err)
				}
				return
			}
			if err != nil || p.Next != c.next || p.Total != c.total {
				t.Fatalf("next %q total %d, %v; want %q, %d", p.Next, p.Total, err, c.next, c.total)
			}
		})
	}
}

func TestRecordTimestampsAreSecondsOrMilliseconds(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		ts   int64
		want time.Time
		err  string
	}{
		{"Unix seconds", at.Unix(), at, ""},
		{"milliseconds", at.UnixMilli() + 250, at.Add(250 * time.Millisecond), ""},
		{"the first second of 1973 in milliseconds is still read as milliseconds", 100_000_000_000, time.UnixMilli(100_000_000_000).UTC(), ""},
		{"microseconds", at.UnixMicro(), time.Time{}, "with timestamp " + strconv.FormatInt(at.UnixMicro(), 10) + ", neither Unix seconds nor milliseconds"},
		{"zero", 0, time.Time{}, "without timestamp"},
		{"negative", -5, time.Time{}, "without timestamp"},
	}
	for _, c := range cases {
		got, err := Time(c.ts)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%s: %s, %v; want the error %q", c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%s: %s, %v; want %s", c.name, got, err, c.want)
		}
	}
}

// A one-second query is asked again without the next second only on proof
// that timestamp_to takes that second in, and only when the answer runs to
// more than one page: under an exclusive timestamp_to the narrower query
// would leave the second asked for out.
func TestASecondIsAskedWithoutTheNextOneOnlyOnProofOfAnInclusiveTimestampTo(t *testing.T) {
	to := time.Unix(1_800_000_001, 0)
	at := func(d time.Duration) core.Event { return core.Event{Time: to.Add(d)} }
	for _, c := range []struct {
		name   string
		events []core.Event
		next   string
		want   bool
	}{
		{"a record of the next second, in seconds", []core.Event{at(0), at(-time.Second)}, "2", true},
		{"a record within the next second, in milliseconds", []core.Event{at(250 * time.Millisecond), at(-time.Second)}, "2", true},
		{"a record at the next second's start beside one with a fraction", []core.Event{at(0), at(-time.Second + time.Millisecond)}, "2", false},
		{"records of the asked second only", []core.Event{at(-time.Second), at(-time.Second)}, "2", false},
		{"a record past the next second", []core.Event{at(time.Second)}, "2", false},
		{"one page", []core.Event{at(0), at(-time.Second)}, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := narrows(core.Page{Events: c.events, Next: c.next}, to); got != c.want {
				t.Errorf("narrows = %v, want %v", got, c.want)
			}
		})
	}
}
