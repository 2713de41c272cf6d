package core

import (
	"encoding/hex"
	"strings"
)

// seenSet holds the seen records (see checkpointState.Seen) by id. Most ids
// are 32 lowercase hex digits (the content hashes of NordPass and NordPass
// MSP records): those are keyed by their 16 bytes, a third of a string key's
// header and bytes, in a map without pointers, which the garbage collector
// does not scan. At 1,000 NordPass tenants the set held ~525,000 ids, 60 of
// the 67 MiB of live heap as strings; keyed by bytes the live heap is 50 MiB
// and the peak RSS 113 instead of 149 MiB (the tenants benchmark, the old
// and new builds alternating). A save pays for it: the hex digits are written
// again (~1 µs more per 40 ids). Any other id is kept as it is. Either way
// an id comes back exactly as it was given, so checkpoints do not change.
type seenSet struct {
	hex map[[16]byte]seenEntry
	str map[string]seenEntry
}

// hexID returns the 16 bytes of an id of 32 lowercase hex digits. Upper
// case is refused: it would come back in lower case, another id.
func hexID(id string) (k [16]byte, ok bool) {
	if len(id) != 2*len(k) {
		return k, false
	}
	for i := range k {
		hi, ok1 := nibble(id[2*i])
		lo, ok2 := nibble(id[2*i+1])
		if !ok1 || !ok2 {
			return k, false
		}
		k[i] = hi<<4 | lo
	}
	return k, true
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

func (s seenSet) len() int { return len(s.hex) + len(s.str) }

func (s seenSet) get(id string) (seenEntry, bool) {
	if k, ok := hexID(id); ok {
		e, ok := s.hex[k]
		return e, ok
	}
	e, ok := s.str[id]
	return e, ok
}

func (s *seenSet) set(id string, e seenEntry) {
	if k, ok := hexID(id); ok {
		if s.hex == nil {
			s.hex = map[[16]byte]seenEntry{}
		}
		s.hex[k] = e
		return
	}
	if s.str == nil {
		s.str = map[string]seenEntry{}
	}
	s.str[id] = e
}

func (s seenSet) delete(id string) {
	if k, ok := hexID(id); ok {
		delete(s.hex, k)
		return
	}
	delete(s.str, id)
}

// clone copies the set into maps sized to what it holds now. Not
// maps.Clone: that copies the tables as they are, and a map never shrinks,
// so a set that held many records once (a burst in the overlap) would keep
// their room through every later copy.
func (s seenSet) clone() seenSet {
	return seenSet{hex: resized(s.hex), str: resized(s.str)}
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
	editMap(s.hex, fn)
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
	return mapChanges(s.hex, fn) || mapChanges(s.str, fn)
}

func mapChanges[K comparable](m map[K]seenEntry, fn func(seenEntry) (seenEntry, bool)) bool {
	for _, e := range m {
		if n, keep := fn(e); !keep || n != e {
			return true
		}
	}
	return false
}

// records lists the set as the checkpoint holds it. The hex ids are
// written into one string, not one allocation each: a stream saves after
// every acknowledged page.
func (s seenSet) records() []seenRecord {
	if s.len() == 0 {
		return nil
	}
	out := make([]seenRecord, 0, s.len())
	var b strings.Builder // its String does not copy
	b.Grow(32 * len(s.hex))
	var digits [32]byte
	for k, e := range s.hex {
		hex.Encode(digits[:], k[:])
		b.Write(digits[:])
		out = append(out, seenRecord{T: e.t, N: e.n, R: e.r})
	}
	all := b.String()
	for i := range out {
		out[i].ID = all[32*i : 32*i+32]
	}
	for id, e := range s.str {
		out = append(out, seenRecord{ID: id, T: e.t, N: e.n, R: e.r})
	}
	return out
}
