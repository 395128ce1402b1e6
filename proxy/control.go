package proxy

import (
	"context"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// Usage reports a generation's counters.
func (p *Proxy) Usage(gen int) fleet.Usage {
	s := p.stats.lookup(gen)
	if s == nil {
		return fleet.Usage{}
	}
	return fleet.Usage{Sessions: int(s.sessions.Load()), InFlight: int(s.inFlight.Load()), Upgraded: int(s.upgraded.Load())}
}

// DropGeneration ends every pin of gen (it died or was forced out) and
// returns how many there were.
func (p *Proxy) DropGeneration(gen int) int {
	return p.drop(p.pins.removeWhere(func(g, _ int, _ int64) bool { return g == gen })[gen])
}

// DropInstance ends the pins of one worker instance (it crashed).
func (p *Proxy) DropInstance(gen, inst int) int {
	return p.drop(p.pins.removeWhere(func(g, i int, _ int64) bool { return g == gen && i == inst })[gen])
}

// drop buries the keys of sessions the gateway ended itself, for as long as
// their affinity cookies could still be fresh.
func (p *Proxy) drop(keys []fleet.SessionKey) int {
	if len(keys) == 0 {
		return 0
	}
	p.pins.bury(keys, p.o.Now().Add(p.o.IdleTimeout))
	p.pinsChanged()
	return len(keys)
}

// Forget releases the counters of a generation that is gone for good.
func (p *Proxy) Forget(gen int) { p.stats.forget(gen) }

// EndSession removes one pin, as an admin would; the session's next request
// goes to the active generation.
func (p *Proxy) EndSession(key fleet.SessionKey) bool {
	_, ok := p.pins.remove(key)
	if ok {
		p.drop([]fleet.SessionKey{key})
	}
	return ok
}

// Pins lists every pin with its last-seen time.
func (p *Proxy) Pins() []fleet.Pin { return p.pins.list() }

// RecentPins lists, per generation, the n pins seen most recently, most
// recent first: a scan of the table that keeps n per generation, never a
// copy of it, for a console showing a few of a million.
func (p *Proxy) RecentPins(n int) []fleet.Pin { return p.pins.recent(n) }

// RestorePins adds pins an earlier run saved in the supervisor's state file
// (before pins had a store of their own). Pins whose last-seen time is older
// than the idle timeout are not restored.
func (p *Proxy) RestorePins(pins []fleet.Pin) (restored int) {
	cutoff := p.o.Now().Add(-p.o.IdleTimeout)
	for _, pn := range pins {
		if pn.LastSeen.Before(cutoff) {
			continue
		}
		p.pins.set(pn.Key, pn.Generation, pn.Instance, pn.LastSeen)
		restored++
	}
	return restored
}

// KeepPins ends the pins whose worker alive says is gone (the generations a
// restarted gateway could not re-adopt) and returns how many it ended per
// generation. Nothing is buried: the workers are gone, so affinity cookies
// naming them lead nowhere.
func (p *Proxy) KeepPins(alive func(gen, inst int) bool) map[int]int {
	lost := map[int]int{}
	for gen, keys := range p.pins.removeWhere(func(g, i int, _ int64) bool { return !alive(g, i) }) {
		lost[gen] = len(keys)
	}
	if len(lost) > 0 {
		p.pinsChanged()
	}
	return lost
}

// PinCount is the number of pinned sessions.
func (p *Proxy) PinCount() int { return int(p.pins.count.Load()) }

// RejectedAffinity counts affinity cookies that were ignored (forged,
// garbled, stale, or naming a generation that is gone).
func (p *Proxy) RejectedAffinity() int64 { return p.rejected.Load() }

// Refused counts requests answered 4xx because they could not be read
// safely: malformed, ambiguous or too large heads and chunked bodies.
func (p *Proxy) Refused() int64 { return p.refused.Load() }

// Switched counts sessions that the switch path moved to the active
// generation.
func (p *Proxy) Switched() int64 { return p.switched.Load() }

// ExpireIdle ends pins idle for longer than the idle timeout and returns how
// many per generation.
//
// No tombstones are needed here: the affinity cookie of a session idle this
// long is itself too old to be honoured.
func (p *Proxy) ExpireIdle(now time.Time) map[int]int {
	p.pins.unbury(now)
	cutoff := now.Add(-p.o.IdleTimeout).UnixNano()
	removed := map[int]int{}
	for gen, keys := range p.pins.removeWhere(func(_, _ int, seen int64) bool { return seen < cutoff }) {
		removed[gen] = len(keys)
		p.log.Info("sessions expired", "generation", gen, "count", len(keys), "idle_timeout", p.o.IdleTimeout)
	}
	if len(removed) > 0 {
		p.pinsChanged()
	}
	return removed
}

// CloseHeld closes the upgraded connections of gen spread evenly over window,
// so that a forced drain does not make every client reconnect at once. It
// returns when all are closed or ctx ends.
func (p *Proxy) CloseHeld(ctx context.Context, gen int, window time.Duration) int {
	s := p.stats.lookup(gen)
	if s == nil {
		return 0
	}
	conns := s.held()
	if len(conns) == 0 {
		return 0
	}
	step := window / time.Duration(len(conns))
	for i, c := range conns {
		if i > 0 {
			select {
			case <-ctx.Done():
				return i
			case <-time.After(step):
			}
		}
		c.Close()
	}
	return len(conns)
}
