package core

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	ucfgjson "github.com/elastic/go-ucfg/json"
)

// FuzzParseConfig: whatever a host hands over, parsing returns a config or
// an error — never a panic.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"source":"nordpass","nordpass":{"token":"x"},"checkpoint":{"type":"memory"}}`,
		`{"source":"nordpass","nordpass":{"token":"x","user_uuids":["a"]},"page_size":"7","overlap":"3d"}`,
		`{"source":"nordpass","rate_limit":{"requests":-1},"retry":{"max_attempts":0}}`,
		`{"source":7,"stream":[1,2],"http":{"proxy_url":":"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, err := ucfgjson.NewConfig(data, UcfgOptions...)
		if err != nil {
			return
		}
		_, _ = Parse(raw)
	})
}

// FuzzCheckpoint: a checkpoint file with any content is either accepted as
// consistent or refused with an error — never a panic. An accepted one is
// saved again exactly as encoding/json would write it, and can be restored
// and planned from.
func FuzzCheckpoint(f *testing.F) {
	f.Add([]byte(`{"version":1,"stream":"s","cursor":"2026-01-01T00:00:00Z","window":{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z","reread":"2026-01-01T00:00:00Z","pieces":[{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z","part":3}],"partition":5,"page":"2","total":10},"seen":[{"id":"a","t":1,"n":2,"r":1}],"updated":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"version":1,"stream":"s","cursor":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeState(data, "s")
		if err != nil {
			return
		}
		// What is saved is exactly what encoding/json would write.
		want, merr := json.Marshal(st)
		var cache piecesCache
		for range 2 {
			if got, ok := st.appendJSON(nil, &cache); ok != (merr == nil) || ok && !bytes.Equal(got, want) {
				t.Fatalf("appendJSON = %s, %v; json.Marshal = %s, %v", got, ok, want, merr)
			}
		}
		cfg := defaultConfig()
		p := &Poller{cfg: &cfg, log: NopLogger{}, metrics: &Metrics{}, clock: RealClock}
		s := &stream{p: p, key: "s", info: SourceInfo{Partitions: 2, Precision: time.Second}, seen: map[string]seenEntry{}, pending: map[uint64]*Batch{}}
		s.restore(st)
		if s.win == nil {
			s.plan(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		}
		_ = s.encode(s.snapshot(), time.Now())
	})
}
