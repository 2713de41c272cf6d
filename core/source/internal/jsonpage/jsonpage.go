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
