package core

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// FuzzParseConfig: whatever a host hands over (here as JSON decoded to a
// map, as hosts and tenant files hand their values over), parsing returns a
// config or an error — never a panic.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"source":"nordpass","nordpass":{"token":"x"},"checkpoint":{"type":"memory"}}`,
		`{"source":"nordpass","nordpass":{"token":"x","user_uuids":["a"]},"page_size":"7","overlap":"3d"}`,
		`{"source":"nordpass","rate_limit":{"requests":-1},"retry":{"max_attempts":0}}`,
		`{"source":7,"stream":[1,2],"http":{"proxy_url":":"}}`,
		`{"source":"nordpass","tenants":[{"stream":"a","nordpass":{"token":"x"}},{"stream":"b","-1":{}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]any
		if json.Unmarshal(data, &m) != nil {
			return
		}
		_, _ = ParseMap(m)
	})
}

// FuzzCheckpoint: a checkpoint file with any content is either accepted as
// consistent or refused with an error — never a panic. An accepted one, of
// any version, is saved (as version 2, or 3 with runs to read again) and
// loads again as the same state, and it can be restored and planned from.
func FuzzCheckpoint(f *testing.F) {
	f.Add([]byte(`{"version":1,"stream":"s","cursor":"2026-01-01T00:00:00Z","window":{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z","reread":"2026-01-01T00:00:00Z","pieces":[{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z","part":3}],"partition":5,"page":"2","total":10},"seen":[{"id":"a","t":1,"n":2,"r":1}],"updated":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"version":1,"stream":"s","cursor":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"version":2,"stream":"s","cursor":1767225600000000000,"high_water":0,"window":{"unit":1000000000,"from":1767225600,"to":1767312000,"reread":1767225600,"pieces":[1767225600,1767229200],"parts":[3,0],"partition":5,"page":"2","total":10,"run":{"t":1767225600000,"ids":[{"id":"a","n":2}]}},"seen":{"ids":["a","b"],"t":[1,2],"n":[2,1],"r":[1,0]},"updated":1767225600000000001}`))
	f.Add([]byte(`{"version":2,"stream":"s","cursor":-9223372036854775808}`))
	f.Add([]byte(`{"version":3,"stream":"s","cursor":1767225600000000000,"window":{"unit":1000000000,"from":1767225600,"to":1767312000,"reread":1767225600,"pieces":[1767225600],"partition":1,"page":"2","total":10,"cross":[{"id":"a","n":2}],"trail":1767229200000000000,"recheck":[1767226000000000000],"checking":true}}`))
	f.Add([]byte(`{"version":2,"stream":"s","cursor":1767225600000000000,"window":{"unit":1000000000,"from":1767225600,"to":1767312000,"reread":1767225600,"pieces":[1767225600],"total":-1,"trail":1767229200000000000,"narrow":1767229200000000000,"order":-1}}`))
	f.Add([]byte(`{"version":4}`))
	v1, _ := filepath.Glob(v1Path("*.json"))
	for _, name := range v1 {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var key struct {
			Stream string `json:"stream"`
		}
		_ = json.Unmarshal(data, &key) // whichever stream it claims
		st, err := decodeState(data, key.Stream)
		if err != nil {
			return
		}
		b := encodeState(st)
		again, err := decodeState(b, key.Stream)
		if err != nil || !reflect.DeepEqual(again, st) {
			t.Fatalf("saved as %s, which loads as %v, %v\nwant %s", b, again, err, dump(st))
		}
		cfg := defaultConfig()
		p := &Poller{cfg: &cfg, log: NopLogger{}, metrics: &Metrics{}, clock: RealClock}
		s := &stream{p: p, key: key.Stream, info: SourceInfo{Partitions: 2, Precision: time.Second}, pending: map[uint64]*Batch{}}
		s.restore(st)
		if s.win == nil {
			s.plan(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		}
		_ = s.encode(s.snapshot(), time.Now())
	})
}
