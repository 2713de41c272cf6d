package jsonpage

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestCanonicalDropsOnlyInsignificantWhitespace(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"compact JSON is kept as it is", `{"a":1,"b":[true,null]}`, `{"a":1,"b":[true,null]}`},
		{"spaces inside strings are content", `{"name":"John Doe","path":"a\tb"}`, `{"name":"John Doe","path":"a\tb"}`},
		{"an escaped quote does not end the string", `{"q":"say \" hi","n":1}`, `{"q":"say \" hi","n":1}`},
		{"an escaped backslash ends before the quote", `{"q":"dir\\" , "n":1}`, `{"q":"dir\\","n":1}`},
		{"spaces between tokens go", "{ \"a\" : [1, 2],\n\t\"b\":\"x y\" }", `{"a":[1,2],"b":"x y"}`},
		{"invalid JSON is left alone", `{"a": `, `{"a": `},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Canonical(tc.in); got != tc.want {
				t.Errorf("string: got %s, want %s", got, tc.want)
			}
			if got := Canonical([]byte(tc.in)); string(got) != tc.want {
				t.Errorf("bytes: got %s, want %s", got, tc.want)
			}
		})
	}
	in := []byte(`{"a":"b c"}`)
	if out := Canonical(in); &out[0] != &in[0] {
		t.Error("compact input must be returned without a copy")
	}
}

// FuzzCanonicalIsCompact: for any valid JSON, Canonical is what
// json.Compact makes of it, and the input itself when that is the same.
func FuzzCanonicalIsCompact(f *testing.F) {
	for _, s := range []string{`{"a":"b c"}`, `{ "a" : 1 }`, `["\\\"", " "]`, `"x\\\\" `, `[1,{"k":"v\"w"}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var buf bytes.Buffer
		if json.Compact(&buf, []byte(in)) != nil {
			return
		}
		if got := Canonical(in); got != buf.String() {
			t.Fatalf("Canonical(%q) = %q, json.Compact gives %q", in, got, buf.String())
		}
	})
}
