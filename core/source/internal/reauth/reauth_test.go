package reauth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
)

func TestOnce(t *testing.T) {
	expired := &core.AuthError{Op: "op", Status: 401, Reason: "token expired", Expired: true}
	refused := &core.AuthError{Op: "op", Status: 403, Reason: "forbidden"}
	other := errors.New("connection reset")
	for _, tc := range []struct {
		name      string
		answers   []error // one per try
		wantTries int
		wantDrops []string
		wantErr   string // "" for success
		wantFinal bool   // the error is a final (not renewable) AuthError
	}{
		{"a success is returned as it is", []error{nil}, 1, nil, "", false},
		{"an error other than an expired token is not retried", []error{other}, 1, nil, "connection reset", false},
		{"a refusal not marked expired is not retried", []error{refused}, 1, nil, "forbidden", true},
		{"an expired token is dropped and the request sent again", []error{expired, nil}, 2, []string{"cred1"}, "", false},
		{"the second try's other error is returned as it is", []error{expired, other}, 2, []string{"cred1"}, "connection reset", false},
		{"a fresh token refused too is final and says what to check", []error{expired, expired}, 2, []string{"cred1"}, "token expired: check the key", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tries int
			var drops []string
			r := Renewal{
				Log:  core.NopLogger{},
				Note: "renewing",
				Drop: func(cred string) { drops = append(drops, cred) },
				Hint: func(string) string { return "check the key" },
			}
			got, err := Once(r, func() (int, string, error) {
				err := tc.answers[tries]
				tries++
				if err != nil {
					return 0, "cred" + string(rune('0'+tries)), err
				}
				return 42, "cred" + string(rune('0'+tries)), nil
			})
			if tries != tc.wantTries || strings.Join(drops, ",") != strings.Join(tc.wantDrops, ",") {
				t.Errorf("%d tries, drops %v; want %d, %v", tries, drops, tc.wantTries, tc.wantDrops)
			}
			if tc.wantErr == "" {
				if err != nil || got != 42 {
					t.Errorf("got %d, %v; want 42", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got != 0 {
				t.Fatalf("got %d, %v; want an error with %q", got, err, tc.wantErr)
			}
			var ae *core.AuthError
			if final := errors.As(err, &ae) && !ae.Expired; final != tc.wantFinal {
				t.Errorf("final AuthError: %v; want %v", final, tc.wantFinal)
			}
		})
	}
}

func TestLifetimeReadsSecondsAsNumberOrString(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want time.Duration
	}{
		{"a whole number", 3600.0, time.Hour},
		{"a fraction", 90.5, 90500 * time.Millisecond},
		{"a string", "3600", time.Hour},
		{"a string with a fraction and spaces", " 3600.0 ", time.Hour},
		{"absent", nil, 0},
		{"zero", 0.0, 0},
		{"negative", -5.0, 0},
		{"not a number", "soon", 0},
		{"NaN", "NaN", 0},
		{"beyond a year", 1e12, 0},
		{"an object", map[string]any{"seconds": 3600.0}, 0},
	} {
		if got := Lifetime(tc.v); got != tc.want {
			t.Errorf("%s: Lifetime(%#v) = %s, want %s", tc.name, tc.v, got, tc.want)
		}
	}
}
