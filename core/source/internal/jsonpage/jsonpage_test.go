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
