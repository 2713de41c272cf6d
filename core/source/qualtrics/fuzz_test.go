package qualtrics

import "testing"

// FuzzDecodePage: any List Events body decodes to a page or an error (which
// the core retries) — never a panic, never an event without a time or id.
func FuzzDecodePage(f *testing.F) {
	for _, seed := range []string{
		`{"result":{"nextPage":null,"elements":[{"id":"0ce7eda1-f815-4320-8fa7-fe0e3fd49412","timestamp":"2020-11-13T19:13:40.793Z","datacenter":"ST3","descriptor":{"userId":"UR_1","username":"a@b"}}]},"meta":{"httpStatus":"200 - OK"}}`,
		`{"result":{"nextPage":"https://x/API/v3/logs?skipToken=a","elements":[{"id":"1","timestamp":"bad"}]}}`,
		`{"result":{"elements":[1,null,{}]}}`,
		`{"result":{"elements":[{"id":"1","timestamp":"2020-`,
	} {
		f.Add([]byte(seed))
	}
	s := &Source{typ: "login"}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := s.decodePage(body)
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
