package core

import (
	"math"
	"time"
)

// progress follows one stream's backfill: how much history is left to
// read, the share read, and when it will be done at the current budget.
// It is owned by the goroutine inside Poller.Next, like the stream's
// reading state.
type progress struct {
	start    time.Time // cursor when the stream was found behind; zero while live
	fetches0 int64     // the stream's requests then
	at0      time.Time // and the poller's clock
	decile   int       // the last 10 % step logged

	remaining time.Duration // history left to read
	ratio     float64       // 0–1 of the backlog found at start
	eta       time.Duration

	lastLive time.Time     // when the last live window was planned
	interval time.Duration // between the last two live windows
}

// updateProgress recomputes s's backfill progress after a page; a stream
// is backfilling while more than three poll intervals of settled time lie
// ahead of its cursor.
func (s *stream) updateProgress(now time.Time) {
	p, pr := s.p, &s.progress
	end := now.Add(-p.cfg.SettleDelay.D() - p.api.Behind())
	behind := end.Sub(s.cursor)
	if behind <= 3*p.cfg.PollInterval.D() {
		if !pr.start.IsZero() {
			p.log.Info("backfill done", "stream", s.key, "took", now.Sub(pr.at0).Round(time.Second).String())
		}
		pr.start, pr.remaining, pr.ratio, pr.eta, pr.decile = time.Time{}, 0, 1, 0, 0
		return
	}
	if pr.start.IsZero() {
		pr.start, pr.fetches0, pr.at0, pr.decile = s.cursor, s.fetches, now, 0
	}
	read := s.cursor.Sub(pr.start)
	pr.remaining = behind
	pr.ratio = float64(read) / float64(read+behind)
	pr.eta = 0
	if spent := s.fetches - pr.fetches0; spent > 0 && read > 0 {
		// Requests still needed, at the density of what was read so far,
		// over the budget in force (or the rate seen, without one).
		need := float64(spent) * float64(behind) / float64(read)
		perSecond := float64(p.metrics.budgetMilli.Load()) / 1000
		if perSecond <= 0 {
			if took := now.Sub(pr.at0).Seconds(); took > 0 {
				perSecond = float64(spent) / took
			}
		}
		if perSecond > 0 {
			pr.eta = time.Duration(math.Min(need/perSecond, math.MaxInt64/2/1e9) * float64(time.Second))
		}
	}
	if d := int(pr.ratio * 10); d > pr.decile {
		pr.decile = d
		p.log.Info("backfill progress", "stream", s.key, "progress", d*10, "left", pr.remaining.Round(time.Second).String(),
			"eta", pr.eta.Round(time.Second).String())
	}
}

// publishProgress sets the poller's backfill gauges: the history left to
// read over all its streams, the least progress among them, the longest
// ETA, and the longest effective poll interval.
func (p *Poller) publishProgress() {
	var left, eta, interval time.Duration
	ratio := 1.0
	for _, s := range p.streams {
		pr := &s.progress
		left += pr.remaining
		eta = max(eta, pr.eta)
		interval = max(interval, pr.interval)
		if !pr.start.IsZero() {
			ratio = min(ratio, pr.ratio)
		}
	}
	m := p.metrics
	m.backfillLeftNanos.Store(int64(left))
	m.backfillETANanos.Store(int64(eta))
	m.backfillProgressMicro.Store(int64(ratio * 1e6))
	m.progressSet.Store(true)
	m.pollIntervalNanos.Store(int64(interval))
}

// backfilling reports whether s is reading history rather than the
// settled present: more than three poll intervals behind, as its progress
// counts it. (A window's Live flag says only whether it reaches the
// present; a stream 30 days behind reads them in one such window.)
func (s *stream) backfilling() bool { return !s.progress.start.IsZero() }
