package jsonpage

import (
	"errors"
	"strings"
	"testing"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/internal/jsonscan"
)

func TestParsePageNamesWhereTheBodyBreaks(t *testing.T) {
	walk := func(s *jsonscan.Scanner) error { return s.Skip() }
	cases := []struct{ body, want string }{
		{`{"data":[1,2`, "unparsable response: unexpected end of JSON at offset 12"},
		{`{"data":[1 2]}`, "unparsable response: invalid character '2' at offset 11"},
		{`{"a":1} trailing`, "unparsable response: invalid character 't' at offset 8 (after the document)"},
	}
	for _, c := range cases {
		err := ParsePage([]byte(c.body), walk)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: got %v, want prefix %q", c.body, err, c.want)
		}
	}
	own := errors.New("event without timestamp")
	if err := ParsePage([]byte(`{}`), func(s *jsonscan.Scanner) error { _ = s.Skip(); return own }); err != own {
		t.Errorf("a walker's own error must come back as it is, got %v", err)
	}
}

func TestTextsTakesTheFirstOfEachKeyAndLeavesMissingOnesEmpty(t *testing.T) {
	for _, tc := range []struct {
		name, body, wantA, wantB string
	}{
		{"both keys", `{"a":"x","b":"y"}`, "x", "y"},
		{"the first of a repeated key", `{"a":"x","a":"z","b":"y"}`, "x", "y"},
		{"a missing key", `{"b":"y","c":"w"}`, "", "y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a, b string
			err := jsonscan.Scan([]byte(tc.body), func(s *jsonscan.Scanner) error {
				return Texts(s, []string{"a", "b"}, &a, &b)
			})
			if err != nil || a != tc.wantA || b != tc.wantB {
				t.Errorf("%q, %q, %v; want %q, %q", a, b, err, tc.wantA, tc.wantB)
			}
		})
	}
}

func TestEventsTellsAnArrayFromNullAndFromAnythingElse(t *testing.T) {
	decode := func(s *jsonscan.Scanner) (core.Event, error) { return core.Event{}, s.Skip() }
	for _, tc := range []struct {
		name, body string
		found      Found
		events     int
	}{
		{"an array", `[{},{}]`, Array, 2},
		{"an empty array", `[]`, Array, 0},
		{"null: no events, said so", `null`, Null, 0},
		{"an object", `{"a":[{}]}`, Missing, 0},
		{"a string", `"[]"`, Missing, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var evs []core.Event
			var found Found
			err := jsonscan.Scan([]byte(tc.body), func(s *jsonscan.Scanner) (err error) {
				evs, found, err = Events(s, "event", decode)
				return err
			})
			if err != nil || found != tc.found || len(evs) != tc.events {
				t.Errorf("%d events, found %d, %v; want %d, %d", len(evs), found, err, tc.events, tc.found)
			}
		})
	}
}

func TestATokenIsAStringOrNullAndAnythingElseIsAnError(t *testing.T) {
	for _, tc := range []struct {
		name, body, want, err string
	}{
		{"a string", `"tok-2"`, "tok-2", ""},
		{"an empty string: no more pages", `""`, "", ""},
		{"null: no more pages", `null`, "", ""},
		{"a number", `42`, "", "nextToken is not a string: 42"},
		{"an object", `{"id":"a1"}`, "", `nextToken is not a string: {"id":"a1"}`},
		{"false", `false`, "", "nextToken is not a string: false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			err := jsonscan.Scan([]byte(tc.body), func(s *jsonscan.Scanner) (err error) {
				got, err = Token(s, "nextToken")
				return err
			})
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Errorf("%q, %v; want the error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("%q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
