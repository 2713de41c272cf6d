package tokenpage

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
)

var (
	t0       = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	window   = core.Query{From: t0, To: t0.Add(time.Hour)}
	refused  = &core.RequestError{Op: "op", Status: 400, Reason: "invalid nextToken"}
	notFound = &core.RequestError{Op: "op", Status: 404, Reason: "no such endpoint"}
)

func ev(id string, at time.Duration) core.Event { return core.Event{ID: id, Time: t0.Add(at)} }

func ids(evs []core.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

// answer is what the vendor says to one request.
type answer struct {
	cursor string // the cursor the request must carry
	events []core.Event
	err    error
}

func TestFetch(t *testing.T) {
	type step struct {
		cursor  string
		answers []answer
		want    []string // ids delivered; nil with wantErr
		wantErr error
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"records outside the window are dropped, its bounds as the window's", []step{
			{"", []answer{{"", []core.Event{ev("before", -time.Millisecond), ev("from", 0), ev("last", time.Hour-time.Millisecond), ev("to", time.Hour)}, nil}}, []string{"from", "last"}, nil},
		}},
		{"a record already on the previous page is dropped", []step{
			{"", []answer{{"", []core.Event{ev("a", 1), ev("b", 2)}, nil}}, []string{"a", "b"}, nil},
			{"p2", []answer{{"p2", []core.Event{ev("b", 2), ev("c", 3)}, nil}}, []string{"c"}, nil},
			{"p3", []answer{{"p3", []core.Event{ev("a", 1)}, nil}}, []string{"a"}, nil},
		}},
		{"a content hash on the previous page is another genuine copy, kept", []step{
			{"", []answer{{"", []core.Event{ev("a", 1), ev("hash:x", 2)}, nil}}, []string{"a", "hash:x"}, nil},
			{"p2", []answer{{"p2", []core.Event{ev("a", 1), ev("hash:x", 2)}, nil}}, []string{"hash:x"}, nil},
		}},
		{"a window's first page forgets the previous window's last page", []step{
			{"", []answer{{"", []core.Event{ev("a", 1)}, nil}}, []string{"a"}, nil},
			{"", []answer{{"", []core.Event{ev("a", 1)}, nil}}, []string{"a"}, nil},
		}},
		{"a refused token restarts the window from its first page", []step{
			{"", []answer{{"", []core.Event{ev("a", 1)}, nil}}, []string{"a"}, nil},
			{"stale", []answer{{"stale", nil, refused}, {"", []core.Event{ev("a", 1), ev("b", 2)}, nil}}, []string{"a", "b"}, nil},
		}},
		{"a window is restarted once, then the refusal is reported", []step{
			{"stale", []answer{{"stale", nil, refused}, {"", []core.Event{ev("a", 1)}, nil}}, []string{"a"}, nil},
			{"stale2", []answer{{"stale2", nil, refused}}, nil, refused},
		}},
		{"a refused first page is reported, not restarted", []step{
			{"", []answer{{"", nil, refused}}, nil, refused},
		}},
		{"other errors while continuing are reported, not restarted", []step{
			{"p2", []answer{{"p2", nil, notFound}}, nil, notFound},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Reader{Log: core.NopLogger{}, Refused: "the vendor refused the stored token",
				ContentID: func(id string) bool { return strings.HasPrefix(id, "hash:") }}
			for i, st := range tc.steps {
				q := window
				q.Cursor = st.cursor
				n := 0
				page, err := r.Fetch(context.Background(), q, func(_ context.Context, cursor string) (core.Page, error) {
					if n >= len(st.answers) {
						t.Fatalf("step %d: request %d is one too many", i, n+1)
					}
					a := st.answers[n]
					n++
					if cursor != a.cursor {
						t.Errorf("step %d: request with cursor %q; want %q", i, cursor, a.cursor)
					}
					return core.Page{Events: slices.Clone(a.events)}, a.err
				})
				if n != len(st.answers) {
					t.Errorf("step %d: %d requests; want %d", i, n, len(st.answers))
				}
				if !errors.Is(err, st.wantErr) || !slices.Equal(ids(page.Events), st.want) {
					t.Errorf("step %d: %v, %v; want %v, %v", i, ids(page.Events), err, st.want, st.wantErr)
				}
			}
		})
	}
}
