package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// discardWriter is the cheapest ResponseWriter, so the benchmark measures
// the simulator rather than a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkNordPassServePage serves 100-record pages from the middle of a
// one-million-event history, in process.
func BenchmarkNordPassServePage(b *testing.B) {
	np := NewNordPass(NordPassConfig{Seed: 1, Count: 1_000_000, From: t0.Add(-30 * 24 * time.Hour), To: t0,
		Clock: NewFakeClock(t0), RateLimit: -1})
	np.AddToken(testToken, TokenValid)
	body := []byte(`{"timestamp_from":` + strconv.FormatInt(t0.Add(-20*24*time.Hour).Unix(), 10) +
		`,"timestamp_to":` + strconv.FormatInt(t0.Add(-10*24*time.Hour).Unix(), 10) + `,"per_page":100,"page":50}`)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, NordPassPath, bytes.NewReader(body))
		req.Header.Set("Authorization", testToken)
		req.Header.Set("Content-Type", "application/json")
		np.ServeHTTP(w, req)
	}
	b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkNordPassPullOverHTTP pulls a whole one-million-event history over
// loopback HTTP the way a client does: hour-long windows (each well under
// the cap), every page of 100, one request at a time. One op is the full
// million. The client decodes only the metadata, so the figure is the
// simulator's and HTTP's cost, not encoding/json's.
func BenchmarkNordPassPullOverHTTP(b *testing.B) {
	from, to := t0.Add(-30*24*time.Hour), t0
	np := NewNordPass(NordPassConfig{Seed: 1, Count: 1_000_000, From: from, To: to, Clock: NewFakeClock(t0), RateLimit: -1})
	np.AddToken(testToken, TokenValid)
	srv := httptest.NewServer(np)
	defer srv.Close()
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 4
	events := 0
	for b.Loop() {
		for w := from; w.Before(to); w = w.Add(time.Hour) {
			for page := 1; ; page++ {
				body := `{"timestamp_from":` + strconv.FormatInt(w.Unix(), 10) + `,"timestamp_to":` +
					strconv.FormatInt(w.Add(time.Hour).Unix()-1, 10) + `,"per_page":100,"page":` + strconv.Itoa(page) + `}`
				req, _ := http.NewRequest(http.MethodPost, srv.URL+NordPassPath, bytes.NewReader([]byte(body)))
				req.Header.Set("Authorization", testToken)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				raw, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("status %d, %v", resp.StatusCode, err)
				}
				// Decode only the metadata: the client's JSON work is not
				// what this benchmark measures.
				var meta struct {
					Total      int `json:"total"`
					TotalPages int `json:"total_pages"`
				}
				tail := raw[bytes.LastIndex(raw, []byte(`"metadata":`))+len(`"metadata":`) : len(raw)-1]
				if err := json.Unmarshal(tail, &meta); err != nil {
					b.Fatal(err)
				}
				events += min(100, meta.Total-(page-1)*100)
				if page >= meta.TotalPages {
					break
				}
			}
		}
	}
	if events != b.N*1_000_000 {
		b.Fatalf("pulled %d events, want %d", events, b.N*1_000_000)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkNewNordPass1M generates a one-million-event history.
func BenchmarkNewNordPass1M(b *testing.B) {
	for b.Loop() {
		NewNordPass(NordPassConfig{Seed: 1, Count: 1_000_000, From: t0.Add(-90 * 24 * time.Hour), To: t0, Clock: NewFakeClock(t0)})
	}
}
