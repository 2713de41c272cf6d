package checkpoint

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrExists is returned by KV.Add when the key already holds a value.
var ErrExists = errors.New("key exists")

// KV is what a Leaser needs from a store shared between processes: the four
// operations every Benthos cache offers (Redis, memcached, DynamoDB, files),
// so that any of them can carry leases. There is no compare-and-set, which
// is why the Leaser's rules are built on timing.
//
// A TTL of zero keeps the entry until it is deleted. A store may ignore
// TTLs altogether, and Add may even succeed on an existing key; the Leaser
// copes with both.
type KV interface {
	// Add stores value only if key holds nothing; otherwise ErrExists.
	Add(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Get returns ErrNotFound when key holds nothing.
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete of a key that holds nothing may return nil or ErrNotFound.
	Delete(ctx context.Context, key string) error
}

// MemoryKV is a KV in this process's memory, honouring TTLs: for tests,
// and for leases between inputs of one process.
type MemoryKV struct {
	mu sync.Mutex
	m  map[string]memoryEntry
}

type memoryEntry struct {
	value   []byte
	expires time.Time // zero: never
}

var _ KV = (*MemoryKV)(nil)

// NewMemoryKV returns an empty store.
func NewMemoryKV() *MemoryKV { return &MemoryKV{m: map[string]memoryEntry{}} }

// live returns key's entry unless it has expired; mu is held.
func (s *MemoryKV) live(key string, now time.Time) (memoryEntry, bool) {
	e, ok := s.m[key]
	if ok && !e.expires.IsZero() && !now.Before(e.expires) {
		delete(s.m, key)
		return memoryEntry{}, false
	}
	return e, ok
}

func (s *MemoryKV) put(key string, value []byte, ttl time.Duration, now time.Time) {
	e := memoryEntry{value: append([]byte(nil), value...)}
	if ttl > 0 {
		e.expires = now.Add(ttl)
	}
	s.m[key] = e
}

func (s *MemoryKV) Add(_ context.Context, key string, value []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if _, ok := s.live(key, now); ok {
		return ErrExists
	}
	s.put(key, value, ttl, now)
	return nil
}

func (s *MemoryKV) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.live(key, time.Now())
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), e.value...), nil
}

func (s *MemoryKV) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(key, value, ttl, time.Now())
	return nil
}

func (s *MemoryKV) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}
