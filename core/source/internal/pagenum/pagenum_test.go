package pagenum

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
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
