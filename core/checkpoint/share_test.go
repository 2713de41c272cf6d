package checkpoint_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core/checkpoint"
	"github.com/auditpull/auditpull/internal/testkit"
)

func items(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("tenant-%03d", i)
	}
	return out
}

// owners counts, for each item, the members that take it as theirs.
func owners(shares []*checkpoint.Share, list []string) (perItem map[string]int, perShare []int) {
	perItem = map[string]int{}
	perShare = make([]int, len(shares))
	for _, it := range list {
		for i, s := range shares {
			if s.Mine(it) {
				perItem[it]++
				perShare[i]++
			}
		}
	}
	return perItem, perShare
}

func TestMembersDivideTheItemsAndTakeOverThoseOfOneThatLeaves(t *testing.T) {
	kv := checkpoint.NewMemoryKV()
	const ttl = 400 * time.Millisecond
	list := items(300)
	ctx := context.Background()
	cut := &testkit.CutKV{KV: kv}
	shares := []*checkpoint.Share{
		checkpoint.NewShare(kv, "g", ttl, checkpoint.ShareOptions{}),
		checkpoint.NewShare(cut, "g", ttl, checkpoint.ShareOptions{}),
		checkpoint.NewShare(kv, "g", ttl, checkpoint.ShareOptions{}),
	}
	for _, s := range shares {
		if err := s.Join(ctx); err != nil {
			t.Fatal(err)
		}
		defer s.Close()
	}
	// A different group in the same store is not a member.
	other := checkpoint.NewShare(kv, "other", ttl, checkpoint.ShareOptions{})
	if err := other.Join(ctx); err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	testkit.WaitFor(t, 2*time.Second, "every member to see three", func() bool {
		for _, s := range shares {
			if s.Members() != 3 {
				return false
			}
		}
		return true
	})
	perItem, perShare := owners(shares, list)
	for _, it := range list {
		if perItem[it] != 1 {
			t.Fatalf("%s is taken by %d members, want exactly 1", it, perItem[it])
		}
	}
	for i, n := range perShare {
		if n < 60 || n > 140 {
			t.Errorf("member %d takes %d of 300 items; want a fair share (about 100)", i, n)
		}
	}
	before := map[string]bool{}
	for _, it := range list {
		before[it] = shares[0].Mine(it)
	}

	// Member 1 dies without a word: its slot expires and the two others
	// take all its items, each keeping its own.
	cut.Cut()
	testkit.WaitFor(t, 4*ttl, "the others to see member 1 gone", func() bool {
		return shares[0].Members() == 2 && shares[2].Members() == 2
	})
	perItem, _ = owners([]*checkpoint.Share{shares[0], shares[2]}, list)
	for _, it := range list {
		if perItem[it] != 1 {
			t.Fatalf("after the departure %s is taken by %d members, want 1", it, perItem[it])
		}
		if before[it] && !shares[0].Mine(it) {
			t.Fatalf("%s moved away from member 0, which stayed: a departure must only move the leaver's items", it)
		}
	}
}

func TestAClaimedItemIsHeldByOneMemberUntilReleased(t *testing.T) {
	kv := checkpoint.NewMemoryKV()
	ctx := context.Background()
	a := checkpoint.NewShare(kv, "g", time.Second, checkpoint.ShareOptions{})
	b := checkpoint.NewShare(kv, "g", time.Second, checkpoint.ShareOptions{})
	for _, s := range []*checkpoint.Share{a, b} {
		if err := s.Join(ctx); err != nil {
			t.Fatal(err)
		}
		defer s.Close()
	}
	if held, _, err := a.Claim(ctx, "acme"); err != nil || !held {
		t.Fatalf("a: held=%v err=%v, want the free lease", held, err)
	}
	held, holder, err := b.Claim(ctx, "acme")
	if err != nil || held || holder != a.Owner() {
		t.Fatalf("b: held=%v holder=%q err=%v, want refused and a named as holder", held, holder, err)
	}
	if !a.Holds("acme") || b.Holds("acme") {
		t.Fatal("Holds disagrees with the claims")
	}
	if err := a.Release(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if held, _, err := b.Claim(ctx, "acme"); err != nil || !held {
		t.Fatalf("b after release: held=%v err=%v, want the lease at once", held, err)
	}
}

func TestALeaseThatCannotBeRenewedIsLostAloneAndReported(t *testing.T) {
	kv := checkpoint.NewMemoryKV()
	cut := &testkit.CutKV{KV: kv}
	ctx := context.Background()
	const ttl = 400 * time.Millisecond
	a := checkpoint.NewShare(cut, "g", ttl, checkpoint.ShareOptions{})
	if err := a.Join(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, it := range []string{"acme", "globex"} {
		if held, _, err := a.Claim(ctx, it); err != nil || !held {
			t.Fatalf("claim %s: held=%v err=%v", it, held, err)
		}
	}
	epoch := a.Epoch()
	cut.Cut()
	testkit.WaitFor(t, 3*ttl, "both leases to be reported lost", func() bool { return a.Lost("acme") && a.Lost("globex") })
	if a.Epoch() == epoch {
		t.Error("losing leases did not change the epoch readers watch")
	}
	if a.Holds("acme") {
		t.Error("a lost lease still counts as held")
	}
	// Another process takes the item once the entry expired.
	b := checkpoint.NewShare(kv, "g", ttl, checkpoint.ShareOptions{})
	if err := b.Join(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	testkit.WaitFor(t, 3*ttl, "the lease to be free", func() bool {
		held, _, err := b.Claim(ctx, "acme")
		return err == nil && held
	})
}

// A writer killed while it rewrote its lease in a store that writes in
// place (the Benthos file cache) leaves the entry torn for good. Torn for
// two TTLs on end, it is taken over; torn for a moment (a write in
// progress), it is not.
func TestATornLeaseEntryIsTakenOverAfterTwoTTLs(t *testing.T) {
	kv := checkpoint.NewMemoryKV()
	ctx := context.Background()
	const ttl = 300 * time.Millisecond
	if err := kv.Set(ctx, "share:lease:acme", []byte(`{"owner":"vm/1/de`), 0); err != nil {
		t.Fatal(err)
	}
	s := checkpoint.NewShare(kv, "g", ttl, checkpoint.ShareOptions{})
	if err := s.Join(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	if held, holder, err := s.Claim(ctx, "acme"); err != nil || held || holder == "" {
		t.Fatalf("first claim: held=%v holder=%q err=%v; want refused while the entry may be a write in progress", held, holder, err)
	}
	testkit.WaitFor(t, 4*ttl, "the torn entry to be taken over", func() bool {
		held, _, err := s.Claim(ctx, "acme")
		return err == nil && held
	})
	if waited := time.Since(start); waited < 2*ttl {
		t.Fatalf("taken over after %s; want at least two TTLs (%s)", waited, 2*ttl)
	}
}
