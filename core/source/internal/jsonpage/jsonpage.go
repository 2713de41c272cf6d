// Package jsonpage reads the response shape every source shares: one JSON
// document holding an array of events, read with jsonscan.Scanner, which
// validates the document in the same pass (a truncated or broken body is
// an error the core retries, never a short page). Each event's raw JSON is
// kept as a slice of the body, so events are passed on verbatim and a
// page's events share one buffer.
package jsonpage

import (
	"errors"
	"fmt"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/internal/jsonscan"
)

// ParsePage reads a whole response with walk. A syntax error reads
// "unparsable response" and quotes the start of the body; errors of walk's
// own are returned as they are.
func ParsePage(b []byte, walk func(s *jsonscan.Scanner) error) error {
	err := jsonscan.Scan(b, walk)
	if se := (*jsonscan.SyntaxError)(nil); errors.As(err, &se) {
		return fmt.Errorf("unparsable response: %w: %s", err, core.Snippet(b))
	}
	return err
}

// Events reads an array of event objects with decode, which is called at
// each object (s.Mark() is its first byte). A value that is not an array
// is skipped, and isArray is false; noun names an element in errors.
func Events(s *jsonscan.Scanner, noun string, decode func(s *jsonscan.Scanner) (core.Event, error)) (events []core.Event, isArray bool, err error) {
	if s.Kind() != '[' {
		return nil, false, s.Skip()
	}
	events = make([]core.Event, 0, 100)
	err = s.Array(func() error {
		if s.Kind() != '{' {
			raw, err := s.Raw()
			if err != nil {
				return err
			}
			return fmt.Errorf("%s is not an object: %s", noun, core.Snippet(raw))
		}
		e, err := decode(s)
		events = append(events, e)
		return err
	})
	return events, true, err
}

// DataPage reads the page both NordPass APIs answer with:
// {"data": [event…], "metadata": {"total": n}}, the first of repeated
// keys counting. hasTotal tells whether metadata.total was there.
func DataPage(b []byte, noun string, decode func(s *jsonscan.Scanner) (core.Event, error)) (p core.Page, hasTotal bool, err error) {
	var isArray bool
	err = ParsePage(b, func(s *jsonscan.Scanner) error {
		return s.FirstMembers([]string{"data", "metadata"}, func(i int) (err error) {
			if i == 0 {
				p.Events, isArray, err = Events(s, noun, decode)
				return err
			}
			return s.FirstMembers([]string{"total"}, func(int) error {
				n, _, err := s.Int()
				p.Total, hasTotal = int(n), true
				return err
			})
		})
	})
	if err == nil && !isArray {
		err = fmt.Errorf("response has no data array: %s", core.Snippet(b))
	}
	if err != nil {
		return core.Page{}, false, err
	}
	return p, hasTotal, nil
}

// Texts reads the first member of each of keys in an object as text (see
// jsonscan.Scanner.Text) into the dst of the same index.
func Texts(s *jsonscan.Scanner, keys []string, dst ...*string) error {
	return s.FirstMembers(keys, func(i int) (err error) {
		*dst[i], err = s.Text()
		return err
	})
}
