package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"unsafe"
)

// skipAll reads one whole document the way a page decoder does.
func skipAll(b []byte) error {
	s := NewScanner(b)
	if err := s.Skip(); err != nil {
		return err
	}
	return s.End()
}

func TestScannerAcceptsExactlyWhatEncodingJSONAccepts(t *testing.T) {
	cases := []string{
		`{}`, `[]`, `""`, `0`, `-0`, `1.5e+3`, `-12.25E-2`, `true`, `false`, `null`,
		` { "a" : [ 1 , "x" , { } , [ ] ] } `, "\t\n\r[1]\n",
		`"esc \" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00"`, `"raw é and ☃ and invalid \xff utf-8 pass as in encoding/json"`,
		// Broken documents.
		``, ` `, `{`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{1:2}`, `[1 2]`, `{"a":1}}`, `[1]x`, `{} {}`,
		`01`, `1.`, `.5`, `1e`, `1e+`, `-`, `+1`, `0x10`, `NaN`, `tru`, `nul`, `True`,
		`"unterminated`, `"bad \x escape"`, `"\u12g4"`, `"\u123"`, "\"tab\tinside\"", "\"nl\ninside\"",
		`{"data":[{"type":"user","timestamp":`, `[1,2` + "\x00" + `]`,
	}
	for _, c := range cases {
		want := json.Valid([]byte(c))
		if got := skipAll([]byte(c)) == nil; got != want {
			t.Errorf("%q: scanner accepts = %v, encoding/json.Valid = %v", c, got, want)
		}
	}
}

func TestScannerRefusesDeepNestingWithAnError(t *testing.T) {
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	err := skipAll([]byte(deep))
	var se *SyntaxError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "nested too deep") {
		t.Fatalf("got %v, want a syntax error for nesting", err)
	}
	ok := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if err := skipAll([]byte(ok)); err != nil {
		t.Fatalf("nesting of exactly %d: %v", maxDepth, err)
	}
}

func TestScannerReadsValuesAsAPIsSendThem(t *testing.T) {
	doc := `{"plain":"abc","esc":"a\"b\u00e9\n","int":1700000000,"neg":-5,"float":1.7e9,"frac":12.9,` +
		`"digits":"42","word":"x42","huge":1e300,"bool":true,"raw":{ "k" : [1, "a b"] },"compact":{"k":[1,"a b"]}}`
	got := map[string]any{}
	err := Scan([]byte(doc), func(s *Scanner) error {
		return s.Object(func(k string) error {
			switch k {
			case "plain", "esc":
				v, err := s.Str()
				got[k] = v
				return err
			case "raw", "compact":
				start := s.Mark()
				v, err := s.Compact()
				got[k] = v
				got[k+" verbatim"] = string(s.Since(start))
				return err
			default:
				n, ok, err := s.Int()
				got[k] = n
				got[k+" ok"] = ok
				return err
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"plain": "abc", "esc": "a\"bé\n",
		"int": int64(1700000000), "int ok": true, "neg": int64(-5), "neg ok": true,
		"float": int64(1700000000), "float ok": true, "frac": int64(12), "frac ok": true,
		"digits": int64(42), "digits ok": true, "word": int64(0), "word ok": false,
		"huge": int64(0), "huge ok": false, "bool": int64(0), "bool ok": false,
		"raw": `{"k":[1,"a b"]}`, "raw verbatim": `{ "k" : [1, "a b"] }`,
		"compact": `{"k":[1,"a b"]}`, "compact verbatim": `{"k":[1,"a b"]}`,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %#v, want %#v", k, got[k], w)
		}
	}
}

func TestScannerReadsTextAndOptionalStrings(t *testing.T) {
	cases := []struct{ value, text, optStr string }{
		{`"a\u00e9"`, "aé", "aé"},
		{`12.50`, "12.50", ""},
		{`-1e3`, "-1e3", ""},
		{`true`, "true", ""},
		{`null`, "", ""},
		{`{"a": [1]}`, `{"a": [1]}`, ""},
	}
	for _, c := range cases {
		var text, opt string
		if err := Scan([]byte(c.value), func(s *Scanner) (err error) { text, err = s.Text(); return err }); err != nil {
			t.Fatal(err)
		}
		if err := Scan([]byte(c.value), func(s *Scanner) (err error) { opt, err = s.OptStr(); return err }); err != nil {
			t.Fatal(err)
		}
		if text != c.text || opt != c.optStr {
			t.Errorf("%s: Text %q, OptStr %q; want %q, %q", c.value, text, opt, c.text, c.optStr)
		}
	}
}

func TestFirstMembersTakesTheFirstOfRepeatedKeysAndSkipsTheRest(t *testing.T) {
	cases := []struct{ doc, want string }{
		{`{"b":"1","a":"2","a":"3","c":{"a":"4"}}`, "a=2 b=1"},
		{`{"x":1}`, ""},
		{`["a","b"]`, ""},
		{`"a"`, ""},
	}
	for _, c := range cases {
		var got []string
		err := Scan([]byte(c.doc), func(s *Scanner) error {
			return s.FirstMembers([]string{"a", "b"}, func(i int) error {
				v, err := s.Str()
				got = append(got, []string{"a", "b"}[i]+"="+v)
				return err
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: got %q, want %q", c.doc, strings.Join(got, " "), c.want)
		}
	}
}

func TestResetReadsAnotherDocumentFromTheStart(t *testing.T) {
	var s Scanner
	for _, doc := range []string{`[ {"a":1} ]`, `"x"`} {
		s.Reset([]byte(doc))
		raw, err := s.Raw()
		if err != nil || string(raw) != strings.TrimSpace(doc) || s.End() != nil {
			t.Errorf("%s: Raw %q, %v", doc, raw, err)
		}
	}
}

func TestScannerCompactCopiesOnlyWhenThereIsWhitespace(t *testing.T) {
	b := []byte(`[{"a":"x y"}, {"a" :1}]`)
	var first, second string
	err := Scan(b, func(s *Scanner) error {
		n := 0
		return s.Array(func() (err error) {
			if n++; n == 1 {
				first, err = s.Compact()
			} else {
				second, err = s.Compact()
			}
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if first != `{"a":"x y"}` || second != `{"a":1}` {
		t.Fatalf("got %s and %s", first, second)
	}
	if unsafe.StringData(first) != &b[1] {
		t.Fatalf("compact value is not the body's own bytes")
	}
}

// FuzzScannerAgreesWithEncodingJSON: the scanner accepts a document
// exactly when encoding/json does; Raw returns it without the surrounding
// whitespace, and Compact returns what json.Compact makes of it.
func FuzzScannerAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x",{"b":null}]}`, `{ "a" : "b c" }`, `["\\\"", " "]`, ` [true, false, -1.5e3] `, `"\u00e9\\\""`, `{"a":}`, `[1,]`, `0`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewScanner(b)
		raw, err := s.Raw()
		if err == nil {
			err = s.End()
		}
		if want := json.Valid(b); (err == nil) != want {
			t.Fatalf("%q: scanner error %v, encoding/json.Valid = %v", b, err, want)
		}
		if err != nil {
			return
		}
		if string(raw) != strings.Trim(string(b), " \t\r\n") {
			t.Fatalf("%q: Raw = %q", b, raw)
		}
		var want bytes.Buffer
		if err := json.Compact(&want, b); err != nil {
			t.Fatal(err)
		}
		if got, _ := NewScanner(b).Compact(); got != want.String() {
			t.Fatalf("%q: Compact = %q, json.Compact gives %q", b, got, want.String())
		}
	})
}
