package oloid

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
	`{"data":{"activities":[{"id":"act-123","timestamp":1662388800000,"activityType":"LOGIN","details":{"userId":"u","userName":"J"}}],"nextToken":"t"},"message":"ok"}`,
	`{"data":{"activities":[{"id":7,"timestamp":"2022-09-05T12:00:00Z"}]}}`,
	`{"activities":[{"timestamp":1}],"nextToken":null}`,
	`{"data":{"activities":[{"id":"x","timestamp":`,
}
