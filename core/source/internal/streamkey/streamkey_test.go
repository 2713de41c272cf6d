package streamkey

import "testing"

func TestSafeKeepsFileNameCharactersAndFoldsTheRest(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"api.example.com", "api.example.com"},
		{"127.0.0.1:8080", "127.0.0.1_8080"},
		{"host/msp//activity-log", "host_msp_activity-log"},
		{"a b\tc", "a_b_c"},
	} {
		if got := Safe(tc.in); got != tc.want {
			t.Errorf("Safe(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestDigestNamesEqualFiltersAlikeAndOthersApart(t *testing.T) {
	a, b := Digest([]byte("userId=u1&")), Digest([]byte("userId=u2&"))
	if a != Digest([]byte("userId=u1&")) || a == b {
		t.Errorf("digests %q, %q", a, b)
	}
	// Pinned: a changed digest would orphan every filtered checkpoint.
	if got := Digest([]byte("")); got != "-e3b0c442" {
		t.Errorf("Digest(\"\") = %q; want -e3b0c442", got)
	}
}
