// Package jsonscan reads JSON in a single pass that validates it and
// hands out the values asked for, as slices of the input.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"unsafe"
)

// Scanner reads a document in one pass that both validates it and hands
// the caller the values it asks for, where gjson needed four for a page
// (validate, find the array, find each event, read each event's fields):
// decoding was the largest part of the adapters' CPU. It accepts exactly what
// encoding/json.Valid accepts (FuzzScannerAgreesWithEncodingJSON), so a
// truncated or broken body is an error, never a short page.
//
// The caller walks the document with Object and Array, and consumes every
// value it is handed with exactly one of Str, Int, Raw or Skip (or a
// nested Object or Array); anything else is a syntax error at that point.
// Strings and raw values are slices of the input, not copies: the caller
// must not write to it while they are in use (a response body is never
// written to once read).
type Scanner struct {
	b     []byte
	i     int
	depth int
	// spaces counts the runs of whitespace skipped, so Compact knows
	// whether a value had any without reading it again.
	spaces int
}

// maxDepth bounds nesting, as encoding/json does, so a hostile body of
// brackets is an error instead of a stack overflow that kills the host.
const maxDepth = 10000

// NewScanner starts at the beginning of b.
func NewScanner(b []byte) *Scanner { return &Scanner{b: b} }

// Reset starts s over at the beginning of b, so that one Scanner can read
// many small documents without an allocation each.
func (s *Scanner) Reset(b []byte) { *s = Scanner{b: b} }

// Mark is a place in the body, for Since and CompactSince.
type Mark struct{ pos, spaces int }

// Mark notes where the next value starts (after any whitespace).
func (s *Scanner) Mark() Mark {
	s.ws()
	return Mark{s.i, s.spaces}
}

// Since returns the body from m to the cursor: the verbatim bytes of what
// was read since.
func (s *Scanner) Since(m Mark) []byte { return s.b[m.pos:s.i:s.i] }

// CompactSince is Since without insignificant whitespace, so that a
// response's formatting never changes an id derived from it: the body's
// own bytes when there is none (APIs send compact JSON), else a compacted
// copy.
func (s *Scanner) CompactSince(m Mark) []byte {
	raw := s.Since(m)
	if s.spaces == m.spaces {
		return raw
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return raw // not reached: raw was read as valid JSON
	}
	return buf.Bytes()
}

// Kind is the first byte of the next value ('{', '[', '"', 't', 'f', 'n',
// '-' or a digit), or 0 at the end of the input.
func (s *Scanner) Kind() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// End checks that nothing but whitespace follows the document.
func (s *Scanner) End() error {
	if s.ws(); s.i != len(s.b) {
		return s.fail("after the document")
	}
	return nil
}

// Object reads an object, calling member for each member in order with
// its key; member must consume the value.
func (s *Scanner) Object(member func(key string) error) error {
	if err := s.open('{'); err != nil {
		return err
	}
	if s.Kind() == '}' {
		return s.close()
	}
	for {
		if s.Kind() != '"' {
			return s.fail("where an object key should be")
		}
		key, err := s.Str()
		if err != nil {
			return err
		}
		if s.ws(); s.i == len(s.b) || s.b[s.i] != ':' {
			return s.fail("after an object key")
		}
		s.i++
		if err := member(key); err != nil {
			return err
		}
		switch s.Kind() {
		case ',':
			s.i++
		case '}':
			return s.close()
		default:
			return s.fail("after an object member")
		}
	}
}

// Array reads an array, calling elem for each element, which elem must
// consume.
func (s *Scanner) Array(elem func() error) error {
	if err := s.open('['); err != nil {
		return err
	}
	if s.Kind() == ']' {
		return s.close()
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.Kind() {
		case ',':
			s.i++
		case ']':
			return s.close()
		default:
			return s.fail("after an array element")
		}
	}
}

func (s *Scanner) open(c byte) error {
	if s.Kind() != c {
		return s.fail(fmt.Sprintf("where %q should open", c))
	}
	if s.depth++; s.depth > maxDepth {
		return s.fail("nested too deep")
	}
	s.i++
	return nil
}

func (s *Scanner) close() error {
	s.depth--
	s.i++
	return nil
}

// Str reads a string. Without escapes (the usual case) the result is the
// body's own bytes.
func (s *Scanner) Str() (string, error) {
	start, escaped, err := s.str()
	if err != nil {
		return "", err
	}
	if !escaped {
		return unsafe.String(&s.b[start+1], s.i-start-2), nil
	}
	var v string
	if err := json.Unmarshal(s.b[start:s.i], &v); err != nil {
		return "", s.failAt(start, "in a string")
	}
	return v, nil
}

// plain marks the bytes that may appear in a string without ending it or
// starting an escape.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str moves past the string at the cursor and returns where its opening
// quote was.
func (s *Scanner) str() (start int, escaped bool, err error) {
	if s.Kind() != '"' {
		return 0, false, s.fail("where a string should be")
	}
	start = s.i
	b, i := s.b, s.i+1
	for {
		// Eight bytes at a time while none of them ends the string or
		// starts an escape: strings are most of a page.
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if hasLess(x, 0x20)|hasByte(x, '"')|hasByte(x, '\\') != 0 {
				break
			}
			i += 8
		}
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i == len(b) {
			return 0, false, s.failAt(i, "in an unterminated string")
		}
		switch b[i] {
		case '"':
			s.i = i + 1
			return start, escaped, nil
		case '\\':
			escaped = true
			if i+1 == len(b) {
				return 0, false, s.failAt(i, "in an escape")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return 0, false, s.failAt(i, "in a \\u escape")
				}
				i += 6
			default:
				return 0, false, s.failAt(i, "in an escape")
			}
		default:
			return 0, false, s.failAt(i, "(a control character) in a string")
		}
	}
}

const lsb, msb = 0x0101010101010101, 0x8080808080808080

// hasLess is non-zero when a byte of x is less than n (n <= 128).
func hasLess(x uint64, n byte) uint64 { return (x - lsb*uint64(n)) &^ x & msb }

// hasByte is non-zero when a byte of x is c.
func hasByte(x uint64, c byte) uint64 { return hasLess(x^(lsb*uint64(c)), 1) }

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// Text reads a value as text: a string's content, a number or literal as
// written, "" for null, and an object or array as its raw JSON.
func (s *Scanner) Text() (string, error) {
	switch s.Kind() {
	case '"':
		return s.Str()
	case 'n':
		return "", s.Skip()
	}
	return s.RawStr()
}

// OptStr reads a string, and any other value as "".
func (s *Scanner) OptStr() (string, error) {
	if s.Kind() != '"' {
		return "", s.Skip()
	}
	return s.Str()
}

// FirstMembers reads an object, calling read(i) for the first member
// named names[i], which read must consume; other members, and a value
// that is not an object, are skipped. At most 64 names.
func (s *Scanner) FirstMembers(names []string, read func(i int) error) error {
	if s.Kind() != '{' {
		return s.Skip()
	}
	var done uint64
	return s.Object(func(k string) error {
		for i, n := range names {
			if k == n && done&(1<<i) == 0 {
				done |= 1 << i
				return read(i)
			}
		}
		return s.Skip()
	})
}

// Int reads a number as an integer (a fraction is cut off) or a string
// of digits, which some APIs send for numbers.
func (s *Scanner) Int() (int64, bool, error) {
	switch c := s.Kind(); {
	case c == '"':
		v, err := s.Str()
		if err != nil {
			return 0, false, err
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		return n, perr == nil, nil
	case c == '-' || c >= '0' && c <= '9':
		start := s.i
		if err := s.number(); err != nil {
			return 0, false, err
		}
		num := unsafe.String(&s.b[start], s.i-start)
		if n, err := strconv.ParseInt(num, 10, 64); err == nil {
			return n, true, nil
		}
		f, _ := strconv.ParseFloat(num, 64)
		if f >= -(1<<63) && f < 1<<63 {
			return int64(f), true, nil
		}
		return 0, false, nil
	default:
		return 0, false, s.Skip()
	}
}

// number moves past a number in the grammar of RFC 8259.
func (s *Scanner) number() error {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return s.failAt(i, "in a number")
	}
	if i < len(b) && b[i] == '.' {
		if j := digits(b, i+1); j > i+1 {
			i = j
		} else {
			return s.failAt(i, "in a number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if j := digits(b, i); j > i {
			i = j
		} else {
			return s.failAt(i, "in a number")
		}
	}
	s.i = i
	return nil
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// Raw reads any value and returns it as it is in the body.
func (s *Scanner) Raw() ([]byte, error) {
	m := s.Mark()
	if err := s.Skip(); err != nil {
		return nil, err
	}
	return s.Since(m), nil
}

// RawStr is Raw as a string.
func (s *Scanner) RawStr() (string, error) {
	b, err := s.Raw()
	return unsafe.String(unsafe.SliceData(b), len(b)), err
}

// Compact reads any value and returns it as CompactSince does.
func (s *Scanner) Compact() (string, error) {
	m := s.Mark()
	if err := s.Skip(); err != nil {
		return "", err
	}
	b := s.CompactSince(m)
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

// Skip reads any value, validating it.
func (s *Scanner) Skip() error {
	c := s.Kind()
	switch c {
	case '{':
		return s.Object(func(string) error { return s.Skip() })
	case '[':
		return s.Array(s.Skip)
	case '"':
		_, _, err := s.str()
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	if c == '-' || c >= '0' && c <= '9' {
		return s.number()
	}
	return s.fail("where a value should be")
}

func (s *Scanner) literal(w string) error {
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		return s.fail("in a literal")
	}
	s.i += len(w)
	return nil
}

// ws moves past whitespace. APIs send compact JSON, and ws is called
// more than once at the same place, so the common case returns first.
func (s *Scanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return
	}
	start := s.i
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
	if s.i > start {
		s.spaces++
	}
}

func (s *Scanner) fail(where string) error { return s.failAt(s.i, where) }

// SyntaxError is a body that is not JSON. It names the offset and what
// was there, not the body, which the caller quotes a snippet of.
type SyntaxError struct {
	Offset int
	msg    string
}

func (e *SyntaxError) Error() string { return e.msg }

func (s *Scanner) failAt(i int, where string) error {
	if i >= len(s.b) {
		return &SyntaxError{i, fmt.Sprintf("unexpected end of JSON at offset %d (%s)", i, where)}
	}
	return &SyntaxError{i, fmt.Sprintf("invalid character %s at offset %d (%s)", strconv.QuoteRune(rune(s.b[i])), i, where)}
}

// Scan reads the document b with walk and checks that nothing follows it.
func Scan(b []byte, walk func(s *Scanner) error) error {
	return NewScanner(b).Scan(walk)
}

// Scan reads the rest of the input with walk and checks that nothing
// follows.
func (s *Scanner) Scan(walk func(s *Scanner) error) error {
	if err := walk(s); err != nil {
		return err
	}
	return s.End()
}
