package qualtrics

import (
	"strings"
	"testing"
	"time"
)

func TestEventTimestampsAreReadInEveryISO8601FormThatNamesItsZone(t *testing.T) {
	want := time.Date(2020, 11, 13, 19, 13, 40, 793_000_000, time.UTC)
	s := &Source{typ: "login"}
	for _, tc := range []struct {
		name, ts string
		err      string // "" when read as want
	}{
		{"the document's example", `"2020-11-13T19:13:40.793Z"`, ""},
		{"an extended offset", `"2020-11-13T21:13:40.793+02:00"`, ""},
		{"a basic offset", `"2020-11-13T19:13:40.793+0000"`, ""},
		{"a basic negative offset", `"2020-11-13T14:13:40.793-0500"`, ""},
		{"an offset in hours", `"2020-11-13T21:13:40.793+02"`, ""},
		{"no zone", `"2020-11-13T19:13:40.793"`, `event "e1": timestamp "2020-11-13T19:13:40.793" has no time zone: reading it as UTC would be a guess`},
		{"a date alone", `"2020-11-13"`, `event "e1": timestamp "2020-11-13" is not an ISO-8601 date-time with a time zone, such as 2020-11-13T19:13:40.793Z`},
		{"a number", `1605294820793`, `event "e1": timestamp "1605294820793" is not an ISO-8601 date-time with a time zone`},
		{"null", `null`, `event "e1": timestamp "" is not an ISO-8601 date-time`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.decodePage([]byte(`{"result":{"nextPage":null,"elements":[{"id":"e1","timestamp":` + tc.ts + `,"descriptor":{"userId":"u"}}]}}`))
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("%+v, %v; want an error starting %q", p, err, tc.err)
				}
				return
			}
			if err != nil || !p.Events[0].Time.Equal(want) || p.Events[0].Time.Location() != time.UTC {
				t.Fatalf("%+v, %v; want %s", p, err, want)
			}
		})
	}
}
