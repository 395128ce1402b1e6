package supervisor

import (
	"context"
	"time"
)

// check runs on the loop after a notification or a tick: it retires the
// detached generations nothing keeps alive any more, forces out those whose
// drain time ran out, and saves the state if it changed.
func (s *Supervisor) check(now time.Time) {
	for _, g := range s.sorted() {
		if g.state != Detached {
			continue
		}
		switch u := s.o.Traffic.Usage(g.id); {
		case !g.deadline.IsZero() && now.After(g.deadline):
			s.retire(g, "its maximum drain time ran out", true)
		case u.Idle():
			s.retire(g, "its last session ended", false)
		}
	}
	if s.dirty && now.Sub(s.lastSave) >= time.Second {
		s.save()
	}
}

// retire takes g out of routing and stops it in the background. Forced, it
// drops g's sessions and closes its held connections spread over the drain
// close window first; otherwise it lets requests already under way finish.
func (s *Supervisor) retire(g *generation, reason string, force bool) {
	g.state, g.reason = Retiring, reason
	lost := 0
	if force {
		lost = s.o.Traffic.DropGeneration(g.id)
	}
	s.publish()
	s.genLog(g).Info("retiring generation", "event", "retiring", "reason", reason, "forced", force, "sessions_lost", lost)
	window := s.cfg.Drain.CloseWindow.Duration
	grace := g.cfg.App.StopTimeout.Duration
	s.goEvent(func() func() {
		if force {
			s.o.Traffic.CloseHeld(s.ctx, g.id, window)
		} else {
			s.awaitIdle(g.id, grace)
		}
		s.stopInstances(g.instances, grace)
		return func() { s.retired(g) }
	})
}

// awaitIdle waits, bounded by limit, for requests that were routed to a
// generation just before it left the routes.
func (s *Supervisor) awaitIdle(id int, limit time.Duration) {
	ctx, cancel := context.WithTimeout(s.ctx, limit)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if u := s.o.Traffic.Usage(id); u.InFlight == 0 && u.Upgraded == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Supervisor) retired(g *generation) {
	g.state = Retired
	delete(s.gens, g.id)
	s.o.Traffic.DropGeneration(g.id)
	s.o.Traffic.Forget(g.id)
	s.genLog(g).Info("generation retired", "event", "retired", "reason", g.reason,
		"lifetime", time.Since(g.started).Round(time.Millisecond))
	s.save()
}

// stopLater stops workers nobody needs any more, off the loop.
func (s *Supervisor) stopLater(insts []*instance, g *generation) {
	grace := g.cfg.App.StopTimeout.Duration
	s.goEvent(func() func() {
		s.stopInstances(insts, grace)
		return func() {}
	})
}

// shutdown stops every worker (bounded by each generation's stop timeout),
// waits for the goroutines the loop started, and saves the state.
func (s *Supervisor) shutdown() {
	s.stopping = true
	s.log.Info("stopping all generations", "event", "stopping", "generations", len(s.gens))
	for _, g := range s.sorted() {
		if g.state == Active || g.state == Detached {
			g.state = Retiring
			s.stopLater(g.instances, g)
		}
	}
	s.active = nil
	s.publish()
	for s.pending > 0 {
		ev := <-s.events
		s.pending--
		ev()
	}
	s.save()
}
