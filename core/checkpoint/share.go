package checkpoint

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// MaxMembers is how many processes one Share can divide its items among.
// Members take numbered slots (a KV has no listing), and every member
// reads all the slots at each renewal, so the bound keeps that cheap.
const MaxMembers = 64

// ShareOptions are the optional parts of a Share.
type ShareOptions struct {
	// Key names the entries (member slots and leases) from a suffix; the
	// default prefixes "share:". Hosts put their own namespace here.
	Key func(suffix string) string
	// Log receives joins, hand-overs and losses; nil discards them.
	Log Logger
}

// A Share divides named items (the tenants of an input) among the
// processes that share a KV, so that a fleet of replicas reads each item
// exactly once and outgrows one machine and one egress address.
//
// Each process is a member: it holds a numbered slot entry with a TTL,
// renewed every quarter of the TTL, and reads all the slots at each
// renewal to see who else is there. An item belongs to the member that
// rendezvous hashing picks among those seen, so a join or a departure
// moves only the items that must move. Views of the membership can differ
// for a moment; what makes a reader exclusive is the item's lease (a
// Leaser entry, per item), taken by Claim and given back by Release.
// A member that dies stops renewing: its slot and its leases expire
// within a TTL, and the others take its items over.
type Share struct {
	kv     KV
	ttl    time.Duration
	key    func(suffix string) string
	log    Logger
	leases *Leaser
	// slotKey names member slot i of the group.
	slotKey func(i int) string

	mu      sync.Mutex
	slot    int // -1 until joined
	members []string
	lost    map[string]bool // items whose lease was lost, until Release or Claim
	epoch   uint64          // counts changes of the view and lost leases
	changed chan struct{}   // membership or a lease changed
	stop    chan struct{}
	done    chan struct{}
	started bool
	closed  bool
}

// NewShare returns a Share of the processes using group's entries in kv.
// ttl bounds how long a dead member's items stay unread.
func NewShare(kv KV, group string, ttl time.Duration, opts ShareOptions) *Share {
	key := opts.Key
	if key == nil {
		key = func(suffix string) string { return "share:" + suffix }
	}
	if opts.Log == nil {
		opts.Log = NopLogger{}
	}
	s := &Share{
		kv:      kv,
		ttl:     ttl,
		key:     key,
		log:     opts.Log,
		slot:    -1,
		lost:    map[string]bool{},
		changed: make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.leases = NewLeaser(kv, ttl, LeaseOptions{
		Key: func(item string) string { return key("lease:" + url.PathEscape(item)) },
		Log: opts.Log,
		OnLost: func(item string, _ error) {
			s.mu.Lock()
			s.lost[item] = true
			s.epoch++
			s.mu.Unlock()
			s.signal()
		},
	})
	s.slotKey = func(i int) string { return key(fmt.Sprintf("member:%s:%d", url.PathEscape(group), i)) }
	return s
}

// TTL is how long an entry of a member lasts without renewal.
func (s *Share) TTL() time.Duration { return s.ttl }

// GroupName names the members that divide the same items: a hash of the
// item list, in any order. Processes whose lists differ (a rollout that
// adds a tenant) form separate groups, each reading all of its items, so
// none is left to a member that does not know it; the items' leases still
// give each one reader.
func GroupName(items []string) string {
	sorted := slices.Clone(items)
	slices.Sort(sorted)
	h := sha256.Sum256([]byte(strings.Join(sorted, "\x00")))
	return hex.EncodeToString(h[:8])
}

// Owner names this process in the store and the logs.
func (s *Share) Owner() string { return s.leases.owner }

// Join takes a member slot and reads the others, then keeps the slot
// renewed until Close.
func (s *Share) Join(ctx context.Context) error {
	if err := s.join(ctx); err != nil {
		return err
	}
	if _, err := s.scan(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	go s.loop()
	return nil
}

// join takes the lowest free slot, or one whose recorded expiry is long
// past (stores that ignore TTLs keep dead members' entries).
func (s *Share) join(ctx context.Context) error {
	for i := 0; i < MaxMembers; i++ {
		now := time.Now()
		val := s.leases.value(now)
		err := s.kv.Add(ctx, s.slotKey(i), val, s.ttl)
		if err != nil && !errors.Is(err, ErrExists) {
			return fmt.Errorf("joining the replicas sharing the tenants: %w", err)
		}
		cur, gerr := s.kv.Get(ctx, s.slotKey(i))
		if gerr != nil && !errors.Is(gerr, ErrNotFound) {
			return fmt.Errorf("joining the replicas sharing the tenants: %w", gerr)
		}
		lv, ok := readLease(cur)
		switch {
		case !ok:
			continue // gone since, or torn by a write in progress: not ours to take
		case lv.Owner == s.Owner():
		case now.After(lv.Expires.Add(s.ttl)):
			if err := s.kv.Set(ctx, s.slotKey(i), val, s.ttl); err != nil {
				return fmt.Errorf("joining the replicas sharing the tenants: %w", err)
			}
		default:
			continue
		}
		s.mu.Lock()
		s.slot = i
		s.mu.Unlock()
		return nil
	}
	return fmt.Errorf("joining the replicas sharing the tenants: all %d member slots are taken", MaxMembers)
}

// scan reads every slot and keeps the live members, sorted; changed
// reports a difference from the last view, which it signals.
func (s *Share) scan(ctx context.Context) (changed bool, err error) {
	var members []string
	now := time.Now()
	for i := 0; i < MaxMembers; i++ {
		cur, err := s.kv.Get(ctx, s.slotKey(i))
		if err == nil && !json.Valid(cur) {
			// A store that writes in place can show a renewal torn:
			// look once more rather than see a member leave.
			time.Sleep(20 * time.Millisecond)
			cur, err = s.kv.Get(ctx, s.slotKey(i))
		}
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		if lv, ok := readLease(cur); ok && now.Before(lv.Expires) && !slices.Contains(members, lv.Owner) {
			members = append(members, lv.Owner)
		}
	}
	if !slices.Contains(members, s.Owner()) {
		members = append(members, s.Owner()) // our slot may be in flight
	}
	slices.Sort(members)
	s.mu.Lock()
	changed = !slices.Equal(members, s.members)
	if changed {
		s.log.Info("replicas sharing the tenants", "members", len(members), "owner", s.Owner())
	}
	s.members = members
	if changed {
		s.epoch++
	}
	s.mu.Unlock()
	if changed {
		s.signal()
	}
	return changed, nil
}

func (s *Share) loop() {
	defer close(s.done)
	tick := time.NewTicker(s.ttl / 4)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.ttl/2)
		if err := s.renewSlot(ctx); err != nil {
			s.log.Warn("could not renew this replica's member slot; retrying", "error", err.Error())
		}
		if _, err := s.scan(ctx); err != nil {
			s.log.Warn("could not read the replicas' member slots; keeping the last view", "error", err.Error())
		}
		cancel()
	}
}

// renewSlot extends this member's slot, or joins again if it was lost
// (expired during a pause, or taken by a joiner that thought it dead).
func (s *Share) renewSlot(ctx context.Context) error {
	s.mu.Lock()
	slot := s.slot
	s.mu.Unlock()
	cur, err := s.kv.Get(ctx, s.slotKey(slot))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if lv, ok := readLease(cur); !ok || lv.Owner != s.Owner() {
		s.log.Warn("this replica's member slot was lost; joining again", "slot", slot)
		return s.join(ctx)
	}
	return s.kv.Set(ctx, s.slotKey(slot), s.leases.value(time.Now()), s.ttl)
}

// Members is the number of members in the last view.
func (s *Share) Members() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.members)
}

// Mine reports whether item belongs to this member in the last view:
// rendezvous hashing, the member with the highest score for the item.
func (s *Share) Mine(item string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	hi := mix(fnv64(item))
	best, bestScore := "", uint64(0)
	for _, m := range s.members {
		if v := mix(fnv64(m) ^ hi); best == "" || v > bestScore {
			best, bestScore = m, v
		}
	}
	return best == "" || best == s.Owner()
}

func fnv64(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// mix is SplitMix64's finaliser: FNV alone leaves names that differ in
// their last bytes (owner IDs) with scores ordered alike for every item,
// which would hand all items to one member.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Claim tries once to take item's lease, without waiting; holder names
// the process that has it otherwise.
func (s *Share) Claim(ctx context.Context, item string) (held bool, holder string, err error) {
	s.mu.Lock()
	delete(s.lost, item)
	s.mu.Unlock()
	return s.leases.TryAcquire(ctx, item)
}

// Holds reports whether item's lease is confirmed recently enough that no
// other process can have taken it: checkpoints are written only then.
func (s *Share) Holds(item string) bool { return s.leases.Holds(item) }

// Write runs write, a write of item's checkpoint, only while its lease is
// held; a loss of the lease is declared once such writes have ended (see
// Leaser.Write).
func (s *Share) Write(item string, write func() error) error { return s.leases.Write(item, write) }

// Lost reports whether item's lease was lost since it was claimed.
func (s *Share) Lost(item string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost[item]
}

// Release gives item's lease back, after its last checkpoint was written.
func (s *Share) Release(ctx context.Context, item string) error {
	s.mu.Lock()
	delete(s.lost, item)
	s.mu.Unlock()
	return s.leases.Release(ctx, item)
}

// Epoch changes whenever the view of the members changes or a lease is
// lost: a reader re-checks Mine and Lost only then.
func (s *Share) Epoch() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

// Changed is signalled when the membership changes or a lease is lost.
func (s *Share) Changed() <-chan struct{} { return s.changed }

func (s *Share) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Close gives back the leases still held and the member slot, so that
// the others take the items over at once.
func (s *Share) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	started, slot := s.started, s.slot
	s.mu.Unlock()
	close(s.stop)
	if started {
		<-s.done
	}
	s.leases.Close()
	if slot >= 0 {
		ctx, cancel := context.WithTimeout(context.Background(), s.ttl)
		defer cancel()
		if err := s.leases.release(ctx, s.slotKey(slot)); err != nil {
			s.log.Warn("could not remove this replica's member slot; the others see it leave when it expires", "error", err.Error())
		}
	}
}

func readLease(b []byte) (leaseValue, bool) {
	var lv leaseValue
	if b == nil || json.Unmarshal(b, &lv) != nil || lv.Owner == "" {
		return lv, false
	}
	return lv, true
}
