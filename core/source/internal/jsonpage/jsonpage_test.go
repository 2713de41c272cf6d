package jsonpage

import (
	"errors"
	"strings"
	"testing"

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
