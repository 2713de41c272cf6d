package core

import (
	"encoding/hex"
	"strings"
)

// seenSet holds the seen records (see checkpointState.Seen) by id. Most ids
// are 16 bytes written in hex: the content hashes of NordPass and NordPass
// MSP records (32 lowercase digits), or UUIDs (Qualtrics' activity ids).
// Those are keyed by their 16 bytes, a third of a string key's header and
// bytes, in maps without pointers, which the garbage collector does not
// scan. At 1,000 NordPass tenants the set held ~525,000 ids, 60 of the 67
// MiB of live heap as strings; keyed by bytes the live heap is 50 MiB and
// the peak RSS 113 instead of 149 MiB (the tenants benchmark, the old and
// new builds alternating). A save pays for it: the digits are written again
// (~1 µs more per 40 ids). Any other id is kept as it is. Either way an id
// comes back exactly as it was given, so checkpoints do not change.
type seenSet struct {
	bytes [forms]map[[16]byte]seenEntry // by the form the id was written in
	str   map[string]seenEntry
}

// The forms of an id kept as its 16 bytes, each written back exactly: in
// lowercase hex digits only, as upper case would come back in lower case,
// another id.
const (
	formDigits = iota // 32 digits
	formUUID          // 8-4-4-4-12 digits
	forms
)

// formLen is the length of an id of each form.
var formLen = [forms]int{32, 36}

// bytesOf returns the 16 bytes of an id of one of the forms, and the form;
// ok is false for any other id.
func bytesOf(id string) (k [16]byte, form int, ok bool) {
	switch len(id) {
	case formLen[formDigits]:
		form = formDigits
	case formLen[formUUID]:
		if id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
			return k, 0, false
		}
		form = formUUID
	default:
		return k, 0, false
	}
	j := 0
	for i := range k {
		if form == formUUID && (j == 8 || j == 13 || j == 18 || j == 23) {
			j++
		}
		hi, ok1 := nibble(id[j])
		lo, ok2 := nibble(id[j+1])
		if !ok1 || !ok2 {
			return k, 0, false
		}
		k[i] = hi<<4 | lo
		j += 2
	}
	return k, form, true
}

func nibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// appendID writes k back in its form.
func appendID(b *strings.Builder, k [16]byte, form int) {
	var d [32]byte
	hex.Encode(d[:], k[:])
	if form == formDigits {
		b.Write(d[:])
		return
	}
	b.Write(d[0:8])
	b.WriteByte('-')
	b.Write(d[8:12])
	b.WriteByte('-')
	b.Write(d[12:16])
	b.WriteByte('-')
	b.Write(d[16:20])
	b.WriteByte('-')
	b.Write(d[20:32])
}

func (s seenSet) len() int {
	n := len(s.str)
	for _, m := range s.bytes {
		n += len(m)
	}
	return n
}

func (s seenSet) get(id string) (seenEntry, bool) {
	if k, form, ok := bytesOf(id); ok {
		e, ok := s.bytes[form][k]
		return e, ok
	}
	e, ok := s.str[id]
	return e, ok
}

func (s *seenSet) set(id string, e seenEntry) {
	if k, form, ok := bytesOf(id); ok {
		if s.bytes[form] == nil {
			s.bytes[form] = map[[16]byte]seenEntry{}
		}
		s.bytes[form][k] = e
		return
	}
	if s.str == nil {
		s.str = map[string]seenEntry{}
	}
	s.str[id] = e
}

func (s seenSet) delete(id string) {
	if k, form, ok := bytesOf(id); ok {
		delete(s.bytes[form], k)
		return
	}
	delete(s.str, id)
}

// clone copies the set into maps sized to what it holds now. Not
// maps.Clone: that copies the tables as they are, and a map never shrinks,
// so a set that held many records once (a burst in the overlap) would keep
// their room through every later copy.
func (s seenSet) clone() seenSet {
	c := seenSet{str: resized(s.str)}
	for f, m := range s.bytes {
		c.bytes[f] = resized(m)
	}
	return c
}

func resized[K comparable](m map[K]seenEntry) map[K]seenEntry {
	if len(m) == 0 {
		return nil
	}
	c := make(map[K]seenEntry, len(m))
	for k, e := range m {
		c[k] = e
	}
	return c
}

// edit applies fn to every record, dropping those it does not keep, in
// place.
func (s seenSet) edit(fn func(seenEntry) (seenEntry, bool)) {
	for _, m := range s.bytes {
		editMap(m, fn)
	}
	editMap(s.str, fn)
}

func editMap[K comparable](m map[K]seenEntry, fn func(seenEntry) (seenEntry, bool)) {
	for k, e := range m {
		if e, keep := fn(e); keep {
			m[k] = e
		} else {
			delete(m, k)
		}
	}
}

// changes reports whether edit would change anything.
func (s seenSet) changes(fn func(seenEntry) (seenEntry, bool)) bool {
	for _, m := range s.bytes {
		if mapChanges(m, fn) {
			return true
		}
	}
	return mapChanges(s.str, fn)
}

func mapChanges[K comparable](m map[K]seenEntry, fn func(seenEntry) (seenEntry, bool)) bool {
	for _, e := range m {
		if n, keep := fn(e); !keep || n != e {
			return true
		}
	}
	return false
}

// records lists the set as the checkpoint holds it. The ids kept as bytes
// are written into one string, not one allocation each: a stream saves
// after every acknowledged page.
func (s seenSet) records() []seenRecord {
	if s.len() == 0 {
		return nil
	}
	out := make([]seenRecord, 0, s.len())
	var b strings.Builder // its String does not copy
	size := 0
	for f, m := range s.bytes {
		size += formLen[f] * len(m)
	}
	b.Grow(size)
	for f, m := range s.bytes {
		for k, e := range m {
			appendID(&b, k, f)
			out = append(out, seenRecord{T: e.t, N: e.n, R: e.r})
		}
	}
	// The records are in the order written: each form's, in turn.
	all, i, start := b.String(), 0, 0
	for f, m := range s.bytes {
		for range len(m) {
			end := start + formLen[f]
			out[i].ID, start = all[start:end], end
			i++
		}
	}
	for id, e := range s.str {
		out = append(out, seenRecord{ID: id, T: e.t, N: e.n, R: e.r})
	}
	return out
}
