// Package jsonpage reads the response shape every source shares: one JSON
// document holding an array of events. Scanner validates the document in
// the same pass that reads it (a truncated or broken body is an error the
// core retries, never a short page), and each event's raw JSON is kept as
// a slice of the body, so events are passed on verbatim and a page's
// events share one buffer.
package jsonpage
