package checkpoint

import (
	"context"
	"sync"
)

// Memory is a Store for tests and for runs that need no resume. It survives
// a poller restart inside one process, which is what restart tests use.
type Memory struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{m: map[string][]byte{}} }

func (s *Memory) Load(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[key]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), b...), nil
}

func (s *Memory) Save(_ context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = append([]byte(nil), data...)
	return nil
}

func (s *Memory) Where(key string) string { return "memory:" + key }
func (s *Memory) Close() error            { return nil }
