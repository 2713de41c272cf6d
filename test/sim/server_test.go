package sim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestServerMountsVendorsUnderPrefixes(t *testing.T) {
	np := NewNordPass(NordPassConfig{Seed: 1, Count: 10, Clock: NewFakeClock(t0)})
	np.AddToken(testToken, TokenValid)
	srv := httptest.NewServer(NewServer().Mount(NordPassPrefix, np))
	defer srv.Close()

	post := func(path string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(`{}`))
		req.Header.Set("Authorization", testToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		path   string
		status int
	}{
		{"/nordpass/activities/query", 200},
		{"/activities/query", 404},
		{"/nordpass/activities/query/", 404},
		{"/oloid/filterActivity", 404},
	}
	for _, tt := range tests {
		if got := post(tt.path); got != tt.status {
			t.Errorf("POST %s: got %d, want %d", tt.path, got, tt.status)
		}
	}
	if np.Requests() != 1 {
		t.Errorf("data endpoint counted %d requests, want 1", np.Requests())
	}

	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "/nordpass\n") {
		t.Fatalf("index: %d %q", resp.StatusCode, b)
	}
}

func TestServerRejectsBadPrefixes(t *testing.T) {
	for _, p := range []string{"", "nordpass", "/nordpass/"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Mount(%q) did not panic", p)
				}
			}()
			NewServer().Mount(p, http.NotFoundHandler())
		}()
	}
}
