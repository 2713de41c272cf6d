package nordpassmsp

import "testing"

// FuzzDecodePage: any response body decodes to a page or an error (which
// the core retries) — never a panic, never an event without a time or id.
func FuzzDecodePage(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add([]byte(seed))
	}
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

var fuzzSeeds = []string{
	`{"data":[{"category":"msp_access","action":"login","timestamp":1700000000,"initiator":{"email":"a@b"},"ip_address":"1.2.3.4"}],"metadata":{"total":1,"per_page":100,"current_page":1,"total_pages":1}}`,
	`{"data":[{"timestamp":1}],"metadata":{}}`,
	`{"data":[null,1],"metadata":{"total":2}}`,
	`{"data":[{"timestamp":`,
}
