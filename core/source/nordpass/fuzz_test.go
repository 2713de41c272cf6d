package nordpass

import "testing"

// FuzzDecodePage: any response body decodes to a page or an error (which
// the core retries) — never a panic, never an event without a time.
func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"data":[{"type":"user","action":"login","timestamp":1700000000,"organization_uuid":"o","user":{"uuid":"u","email":"e@x"},"initiator":null,"metadata":[]}],"metadata":{"total":1,"per_page":100,"current_page":1,"total_pages":1}}`))
	f.Add([]byte(`{"data":[{"timestamp":1,"metadata":{"msp":{"user_uuid":"x"}}}],"metadata":{}}`))
	f.Add([]byte(`{"data":[1,"x",null]}`))
	f.Add([]byte(`{"data":[{"type":"user","timestamp":`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodePage(body)
		if err != nil {
			return
		}
		for _, e := range p.Events {
			if e.Time.IsZero() || e.ID == "" || len(e.Raw) == 0 {
				t.Fatalf("incomplete event %+v", e)
			}
		}
	})
}
