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
	"math"

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

// Found is what stood where a page's array of events was expected.
type Found int

const (
	// Missing: no such member, or a value that is neither an array nor
	// null.
	Missing Found = iota
	// Array: an array, the events.
	Array
	// Null: null, which backends that render an empty list as null (a Go
	// nil slice, a Jackson null list) send for a page without events. The
	// caller decides, from the rest of the page, whether that is all it
	// says.
	Null
)

// Events reads an array of event objects with decode, which is called at
// each object (s.Mark() is its first byte). A null reads as no events and
// found Null; any other value that is not an array is skipped, and found
// is Missing. noun names an element in errors.
func Events(s *jsonscan.Scanner, noun string, decode func(s *jsonscan.Scanner) (core.Event, error)) (events []core.Event, found Found, err error) {
	switch s.Kind() {
	case '[':
	case 'n':
		return nil, Null, s.Skip()
	default:
		return nil, Missing, s.Skip()
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
	return events, Array, err
}

// Token reads the token of the next page, named name in errors: a string,
// or null for none. Any other value is an error, never "no more pages": a
// number or an object may be a token this reader does not know how to send
// back, and taking it for the end would lose the pages after it silently.
// An absent member is the caller's to judge (it is not read).
func Token(s *jsonscan.Scanner, name string) (string, error) {
	switch s.Kind() {
	case '"':
		return s.Str()
	case 'n':
		return "", s.Skip()
	}
	raw, err := s.Raw()
	if err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s is not a string: %s", name, core.Snippet(raw))
}

// Data is a page of both NordPass APIs as read:
// {"data": [event…], "metadata": {"total": n, "per_page": n}}.
type Data struct {
	Events []core.Event
	// Found says what data held (never Missing: that is an error).
	Found Found
	// Total is metadata.total, or -1 when it is absent or not a count.
	Total int
	// PerPage is metadata.per_page, or 0 when it is absent or not a
	// positive count.
	PerPage int
}

// DataPage reads a page of both NordPass APIs, the first of repeated keys
// counting. A total or per_page that is not a number (null, a word, a
// negative number) reads as absent, never as 0: a total of 0 would pass for
// the window's last page.
func DataPage(b []byte, noun string, decode func(s *jsonscan.Scanner) (core.Event, error)) (Data, error) {
	d := Data{Total: -1}
	err := ParsePage(b, func(s *jsonscan.Scanner) error {
		return s.FirstMembers([]string{"data", "metadata"}, func(i int) (err error) {
			if i == 0 {
				d.Events, d.Found, err = Events(s, noun, decode)
				return err
			}
			return s.FirstMembers([]string{"total", "per_page"}, func(i int) error {
				n, ok, err := s.Int()
				switch {
				case !ok || n < 0 || n > math.MaxInt32:
				case i == 0:
					d.Total = int(n)
				case n > 0:
					d.PerPage = int(n)
				}
				return err
			})
		})
	})
	if err == nil && d.Found == Missing {
		err = fmt.Errorf("response has no data array: %s", core.Snippet(b))
	}
	if err != nil {
		return Data{}, err
	}
	return d, nil
}

// Texts reads the first member of each of keys in an object as text (see
// jsonscan.Scanner.Text) into the dst of the same index.
func Texts(s *jsonscan.Scanner, keys []string, dst ...*string) error {
	return s.FirstMembers(keys, func(i int) (err error) {
		*dst[i], err = s.Text()
		return err
	})
}
