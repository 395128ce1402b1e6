package supervisor

import (
	"context"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// check runs on the loop after a notification or a tick: it retires the
// detached generations nothing keeps alive any more, forces out those whose
// drain time ran out, and saves the state if it changed.
func (s *Supervisor) check(now time.Time) {
	for _, g := range s.sorted() {
		if g.state != fleet.Detached {
			continue
		}
		switch u := s.o.Traffic.Usage(g.id); {
		case !g.deadline.IsZero() && now.After(g.deadline):
			g.lossCause = LostDrainDeadline
			s.retire(g, "its maximum drain time ran out", true)
		case u.Idle() && !now.Before(g.hold):
			s.retire(g, "its last session ended", false)
		}
	}
	if s.dirty && now.Sub(s.lastSave) >= time.Second {
		s.save()
	} else if s.stale && now.Sub(s.lastShown) >= time.Second {
		s.changed()
	}
}

// retire takes g out of routing and stops it in the background. Forced, it
// drops g's sessions and closes its held connections spread over the drain
// close window first; otherwise it lets requests already under way finish.
// Sessions lost are reported as g.lossCause, LostForced if unset.
func (s *Supervisor) retire(g *generation, reason string, force bool) {
	g.state, g.reason, g.forced = fleet.Retiring, reason, force
	if g.lossCause == "" {
		g.lossCause = LostForced
	}
	lost := 0
	if force {
		lost = s.o.Traffic.DropGeneration(g.id)
		s.sessionsLost(g.id, g.lossCause, lost)
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
		s.stopGeneration(g, grace)
		return func() { s.retired(g) }
	})
}

// stopGeneration stops g's workers through the runner's manager when it
// has one (so its stop timeout and SIGKILL apply), else by signals. It runs
// off the loop.
func (s *Supervisor) stopGeneration(g *generation, grace time.Duration) {
	if gs := s.o.Runner.Manager(); gs != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), grace+30*time.Second)
		defer cancel()
		if err := gs.StopGeneration(ctx, g.id, grace); err == nil {
			for _, in := range g.instances {
				in.removeSocket()
			}
			return
		} else {
			s.genLog(g).Warn("stopping the generation's unit failed; signalling its workers", "error", err)
		}
	}
	s.stopInstances(g, g.instances, grace)
}

// stopRequested runs on the loop when a generation's unit was stopped from
// outside: a detached generation is forced out at once; the active one is
// replaced first, so that new sessions are still served.
func (s *Supervisor) stopRequested(id int) {
	g := s.gens[id]
	if g == nil {
		return
	}
	log := s.genLog(g)
	switch g.state {
	case fleet.Detached:
		log.Info("the generation's unit was stopped from outside; retiring it", "event", "stop-requested")
		s.retire(g, "its unit was stopped from outside", true)
	case fleet.Active:
		g.stopAsked = true
		log.Info("the active generation's unit was stopped from outside; starting a replacement first", "event", "stop-requested")
		if s.starting == nil {
			s.beginUpgrade(s.cfg, false)
		}
	case fleet.Canary:
		log.Info("the canary's unit was stopped from outside; aborting and retiring it", "event", "stop-requested")
		s.abortCanary(false, "its unit was stopped from outside")
		s.retire(g, "its unit was stopped from outside", true)
	}
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
	g.state = fleet.Retired
	delete(s.gens, g.id)
	// Sessions that requests under way started while it stopped.
	s.sessionsLost(g.id, g.lossCause, s.o.Traffic.DropGeneration(g.id))
	s.o.Traffic.Forget(g.id)
	var drained time.Duration
	if !g.detached.IsZero() {
		drained = time.Since(g.detached)
	}
	s.o.Observer.GenerationRetired(g.id, drained, g.forced)
	s.save() // before the log line: whoever reacts to it finds the state written
	s.genLog(g).Info("generation retired", "event", "retired", "reason", g.reason,
		"lifetime", time.Since(g.started).Round(time.Millisecond))
}

// stopLater stops workers nobody needs any more, off the loop.
func (s *Supervisor) stopLater(insts []*instance, g *generation) {
	grace := g.cfg.App.StopTimeout.Duration
	s.goEvent(func() func() {
		s.stopInstances(g, insts, grace)
		return func() {}
	})
}

// shutdown stops every worker (bounded by each generation's stop timeout),
// waits for the goroutines the loop started, and saves the state. When the
// runner says the workers outlive this process (a restart), it leaves them
// running and saves them for the next process to adopt.
func (s *Supervisor) shutdown() {
	s.stopping = true
	if m := s.o.Runner.Manager(); m != nil && s.keep(m) {
		s.log.Info("leaving the generations running for the next gateway process", "event", "stopping", "generations", len(s.gens))
		s.drainEvents(s.watchers)
		s.save()
		return
	}
	s.log.Info("stopping all generations", "event", "stopping", "generations", len(s.gens))
	var stopping []*generation
	for _, g := range s.sorted() {
		if g.state == fleet.Active || g.state == fleet.Canary || g.state == fleet.Detached {
			g.state = fleet.Retiring
			stopping = append(stopping, g)
		}
	}
	s.active, s.canary, s.trial = nil, nil, nil
	s.publish() // no request may reach a worker that is being stopped
	for _, g := range stopping {
		s.goEvent(func() func() {
			s.stopGeneration(g, g.cfg.App.StopTimeout.Duration)
			return func() {}
		})
	}
	s.drainEvents(0)
	s.save()
}

func (s *Supervisor) keep(m Manager) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 5*time.Second)
	defer cancel()
	return m.KeepWorkers(ctx)
}

// drainEvents waits until at most leave goroutines the loop started have
// not reported. Watchers of workers left running for the next gateway
// process would never report, so they are left.
func (s *Supervisor) drainEvents(leave int) {
	for s.pending > leave {
		ev := <-s.events
		s.pending--
		ev()
	}
}
