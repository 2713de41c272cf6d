package testkit

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB whose Fatalf records the message instead of
// ending the test.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.msg = fmt.Sprintf(format, args...) }

func TestSameMultisetCountsEveryCopy(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want []string
		fails     string // "" passes; else a part of the message
	}{
		{"the same events in another order pass", []string{"b", "a", "a"}, []string{"a", "b", "a"}, ""},
		{"nothing of nothing passes", nil, nil, ""},
		{"a lost event fails", []string{"a"}, []string{"a", "b"}, "missing (1): b"},
		{"a doubled event fails", []string{"a", "b", "a"}, []string{"a", "b"}, "extra or doubled (1): a"},
		{"a lost copy of a repeated event fails", []string{"a", "b"}, []string{"a", "a", "b"}, "missing (1): a"},
		{"a swap fails both ways", []string{"a", "c"}, []string{"a", "b"}, "missing (1): b\nextra or doubled (1): c"},
		{"a long list is cut after three", []string{}, []string{"1", "2", "3", "4", "5"}, "missing (5): 1\n  2\n  3\n  …"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			SameMultiset(r, tc.got, tc.want)
			if tc.fails == "" && r.msg != "" || !strings.Contains(r.msg, tc.fails) {
				t.Errorf("message %q, want one containing %q", r.msg, tc.fails)
			}
		})
	}
}

func TestMinusTakesOneCopyPerMatch(t *testing.T) {
	got := Minus([]string{"a", "a", "a", "b"}, []string{"a", "c"})
	if strings.Join(got, ",") != "a,a,b" {
		t.Errorf("got %v, want [a a b]", got)
	}
}
