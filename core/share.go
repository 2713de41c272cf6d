package core

import (
	"context"
	"time"
)

// Replicas sharing tenants (Options.Share): each tenant is read by the
// replica the Share assigns it to, under the tenant's lease. When the
// membership moves a tenant elsewhere, this replica stops reading it,
// waits for its pages in flight to be acknowledged (at most one lease
// TTL), writes its checkpoint and gives the lease back; the new reader
// continues from that checkpoint. A lease lost outright (this replica
// could not renew it in time) drops the tenant at once without writing:
// its new holder may read again what was in flight, never less.

// shareWait is how often a tenant held by another replica is claimed
// again while it is this replica's share.
func (p *Poller) shareWait() time.Duration {
	return min(max(p.share.TTL()/6, 100*time.Millisecond), 5*time.Second)
}

// claim takes t's lease before t is opened. It reports whether t may open
// now; otherwise t.retryAt says when to try again.
func (p *Poller) claim(ctx context.Context, t *tenant) bool {
	if p.share == nil {
		return true
	}
	held, holder, err := p.share.Claim(ctx, t.key)
	switch {
	case err != nil:
		p.log.Warn("could not claim a tenant's lease; retrying", "stream", t.key, "error", err.Error())
	case held:
		p.log.Info("reading tenant: its lease is this replica's", "stream", t.key, "owner", p.share.Owner())
		t.holder = ""
		return true
	case holder != t.holder:
		p.log.Info("tenant still read by another replica; taking it over when that one lets go", "stream", t.key, "holder", holder)
		t.holder = holder
	}
	t.retryAt = time.Now().Add(p.shareWait())
	return false
}

// unclaim gives back the lease of a tenant that did not open: it is not
// read here for now, so whoever it is assigned to next may take it. The
// caller's context may have ended; the store is still told.
func (p *Poller) unclaim(t *tenant) {
	if p.share == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.share.TTL()/2)
	defer cancel()
	_ = p.share.Release(ctx, t.key)
}

// rebalance follows the Share's view: tenants whose lease was lost are
// dropped, tenants now another replica's are handed over once their pages
// are acknowledged, and tenants now this replica's are claimed by the next
// openTenants. Cheap when nothing changed.
func (p *Poller) rebalance() {
	if p.share == nil {
		return
	}
	epoch := p.share.Epoch()
	if epoch == p.shareEpoch && p.leaving == 0 {
		return
	}
	changed := epoch != p.shareEpoch
	p.shareEpoch = epoch
	now := time.Now()
	for _, t := range p.tenants {
		if changed {
			t.mine = p.share.Mine(t.key)
		}
		switch {
		case !t.opened:
			if changed && t.mine && t.retryAt.After(now.Add(p.shareWait())) && t.fails == 0 {
				t.retryAt = now // newly ours: claim at once
			}
		case changed && p.share.Lost(t.key):
			p.log.Warn("tenant's lease lost: stopped here, its new reader continues from the checkpoint", "stream", t.key)
			p.detach(t, false)
		case !t.mine && t.leaveBy.IsZero():
			t.leaveBy = now.Add(p.share.TTL())
			p.leaving++
			p.log.Info("tenant moves to another replica; handing it over once its pages are acknowledged", "stream", t.key)
		case t.mine && !t.leaveBy.IsZero():
			t.leaveBy = time.Time{}
			p.leaving--
		case !t.leaveBy.IsZero() && (p.drained(t) || now.After(t.leaveBy)):
			p.detach(t, true)
		}
	}
}

// drained reports whether every page of t's streams was acknowledged.
func (p *Poller) drained(t *tenant) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range t.streams {
		if len(s.pending) > 0 {
			return false
		}
	}
	return true
}

// detach stops reading t here. A hand-over writes its checkpoint and gives
// its lease back; a lost lease does neither. Pages still in flight (a
// hand-over that timed out, or a lost lease) are acknowledged into
// detached streams, which are never written: the new reader reads them
// again.
func (p *Poller) detach(t *tenant, handOver bool) {
	// Not the caller's context: a read cut short must not cut the
	// hand-over's writes short.
	ctx, cancel := context.WithTimeout(context.Background(), p.share.TTL()/2)
	defer cancel()
	if handOver {
		_ = p.flush(ctx) // logged by flush; the new reader re-reads what a failed write missed
	}
	// Under saveMu too: a background save that passed mayWrite writes
	// before the lease is given back, never after.
	p.saveMu.Lock()
	p.mu.Lock()
	kept := p.streams[:0]
	for _, s := range p.streams {
		if s.tenant != t {
			kept = append(kept, s)
		}
	}
	clear(p.streams[len(kept):])
	p.streams = kept
	for _, s := range t.streams {
		s.detached = true
		delete(p.dirty, s)
	}
	p.mu.Unlock()
	p.saveMu.Unlock()
	if !t.leaveBy.IsZero() {
		p.leaving--
	}
	p.tenantDown(t, -t.down)
	t.streams, t.opened, t.leaveBy, t.retryAt = nil, false, time.Time{}, time.Now().Add(p.shareWait())
	p.metrics.tenantsRead.Add(-1)
	if handOver {
		if err := p.share.Release(ctx, t.key); err != nil {
			p.log.Warn("could not give a tenant's lease back; its new reader takes over when it expires", "stream", t.key, "error", err.Error())
		}
		p.log.Info("tenant handed over", "stream", t.key)
	}
}

// mayWrite reports whether s's checkpoint may be written: not once its
// tenant is detached, nor while its lease is not confirmed.
func (p *Poller) mayWrite(s *stream) (ok, retry bool) {
	p.mu.Lock()
	detached := s.detached
	p.mu.Unlock()
	if detached {
		return false, false
	}
	if p.share != nil && s.tenant != nil && !p.share.Holds(s.tenant.key) {
		return false, true
	}
	return true, false
}
