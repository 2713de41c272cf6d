package core_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core"
)

func TestTokenCacheRenewsEarlyAndAfterARefusal(t *testing.T) {
	c := &clock{t: t0}
	fetches := 0
	tc := &core.TokenCache{Clock: c, Fetch: func(context.Context) (string, time.Duration, error) {
		fetches++
		return fmt.Sprintf("tok-%d", fetches), time.Hour, nil
	}}
	ctx := context.Background()
	steps := []struct {
		name    string
		advance time.Duration
		drop    string
		want    string
	}{
		{"first use fetches", 0, "", "tok-1"},
		{"reused while fresh", 50 * time.Minute, "", "tok-1"},
		{"renewed a tenth of the lifetime (capped at 2 min) before expiry", 8*time.Minute + time.Second, "", "tok-2"},
		{"a stale drop does not discard the new token", 0, "tok-1", "tok-2"},
		{"a refused token is replaced", 0, "tok-2", "tok-3"},
	}
	for _, st := range steps {
		c.Advance(st.advance)
		if st.drop != "" {
			tc.Drop(st.drop)
		}
		got, err := tc.Token(ctx)
		if err != nil || got != st.want {
			t.Fatalf("%s: got %q, %v; want %q", st.name, got, err, st.want)
		}
	}
}
