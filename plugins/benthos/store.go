package benthos

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core/checkpoint"
)

// Cache keys. Stream keys are escaped so that any stream name is one flat
// key, which caches backed by files need.
const (
	checkpointPrefix = "auditpull:checkpoint:"
	leasePrefix      = "auditpull:lease:"
)

func checkpointKey(stream string) string { return checkpointPrefix + url.PathEscape(stream) }
func leaseKey(stream string) string      { return leasePrefix + url.PathEscape(stream) }

// cacheTimeout bounds one cache operation, so that an unreachable cache
// shows up as an error instead of a hang.
const cacheTimeout = 10 * time.Second

// cacheStore keeps checkpoints in a Benthos cache resource. With a lease
// manager, Load first takes the stream's lease (waiting while another
// process holds it) and Save refuses to write once the lease is lost, so
// that a process that lost its stream never overwrites the new owner's
// checkpoint.
type cacheStore struct {
	res   *service.Resources
	name  string
	lease *leaser // nil: no leasing
}

var _ checkpoint.Store = (*cacheStore)(nil)

// cacheError is a failure of the cache itself (unreachable, timed out).
// It is transient: the input reconnects and tries again, unlike a corrupt
// checkpoint, which the core reports as fatal.
type cacheError struct{ err error }

func (e *cacheError) Error() string { return e.err.Error() }
func (e *cacheError) Unwrap() error { return e.err }

// withCache runs fn against the named cache with a bounded context.
func withCache(ctx context.Context, res *service.Resources, name string, fn func(ctx context.Context, c service.Cache) error) error {
	ctx, cancel := context.WithTimeout(ctx, cacheTimeout)
	defer cancel()
	var ferr error
	if err := res.AccessCache(ctx, name, func(c service.Cache) { ferr = fn(ctx, c) }); err != nil {
		return &cacheError{fmt.Errorf("cache %q: %w", name, err)}
	}
	return ferr
}

func (s *cacheStore) Load(ctx context.Context, stream string) ([]byte, error) {
	if s.lease != nil {
		if err := s.lease.Acquire(ctx, stream); err != nil {
			return nil, err
		}
	}
	var data []byte
	err := withCache(ctx, s.res, s.name, func(ctx context.Context, c service.Cache) error {
		b, err := c.Get(ctx, checkpointKey(stream))
		if errors.Is(err, service.ErrKeyNotFound) {
			return checkpoint.ErrNotFound
		}
		if err != nil {
			return &cacheError{err}
		}
		data = b
		return nil
	})
	return data, err
}

func (s *cacheStore) Save(ctx context.Context, stream string, data []byte) error {
	if s.lease != nil && !s.lease.Holds(stream) {
		return errLeaseLost
	}
	return withCache(ctx, s.res, s.name, func(ctx context.Context, c service.Cache) error {
		if err := c.Set(ctx, checkpointKey(stream), data, nil); err != nil {
			return &cacheError{err}
		}
		return nil
	})
}

func (s *cacheStore) Where(stream string) string {
	return fmt.Sprintf("cache %q key %q", s.name, checkpointKey(stream))
}

// Close gives up the leases; the core calls it after its last Save.
func (s *cacheStore) Close() error {
	if s.lease != nil {
		s.lease.Close()
	}
	return nil
}

var errLeaseLost = errors.New("the stream's lease was lost to another process; not overwriting its checkpoint")
