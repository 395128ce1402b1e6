package supervisor

import (
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// workerExited runs on the loop when a worker's process has ended. In the
// active generation or the canary the worker is replaced; in a detached
// one its sessions are lost and, once no worker is left, so is the
// generation.
func (s *Supervisor) workerExited(g *generation, in *instance, w Worker) {
	if in.worker != w || !g.serving() {
		return // retiring or replaced: an exit we caused
	}
	in.worker, in.ready = nil, false
	in.removeSocket()
	in.crashes++
	lost := s.o.Traffic.DropInstance(g.id, in.index)
	log := s.genLog(g).With("instance", in.index, "pid", w.PID(), "sessions_lost", lost, "exit", exitText(w.Err()))
	if lost > 0 {
		log.Warn("sessions lost with their worker", "event", "session-lost")
	}
	if g.state == fleet.Detached {
		log.Error("worker of a detached generation crashed", "event", "crashed", "output", w.Tail())
		if !g.live() {
			s.lose(g, lost)
		} else {
			s.sessionsLost(g.id, LostCrash, lost)
			s.publish()
		}
		return
	}
	s.sessionsLost(g.id, LostCrash, lost)
	delay := s.backoff(in)
	log.Error("worker of the "+string(g.state)+" generation crashed; replacing it", "event", "crashed",
		"restart_in", delay, "output", w.Tail())
	s.publish()
	s.replace(g, in, delay)
}

// backoff doubles the delay for each crash in a row; a worker that ran for
// a minute starts the count again.
func (s *Supervisor) backoff(in *instance) time.Duration {
	now := time.Now()
	if !in.lastDown.IsZero() && now.Sub(in.lastDown) > time.Minute {
		in.crashes = 1
	}
	in.lastDown = now
	app := s.cfg.App
	d := app.RestartBackoff.Duration
	for i := 1; i < in.crashes && d < app.RestartBackoffMax.Duration; i++ {
		d *= 2
	}
	return min(d, app.RestartBackoffMax.Duration)
}

// replace starts a new worker in in's slot after delay, off the loop.
func (s *Supervisor) replace(g *generation, in *instance, delay time.Duration) {
	s.goEvent(func() func() {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.quit:
			return func() {}
		case <-s.ctx.Done():
			return func() {}
		}
		fresh, err := s.startInstance(g, in.index)
		return func() { s.replaced(g, in, fresh, err) }
	})
}

// replaced runs on the loop with the result of replace.
func (s *Supervisor) replaced(g *generation, in, fresh *instance, err error) {
	if !g.serving() {
		if fresh != nil {
			s.stopLater([]*instance{fresh}, g)
		}
		return
	}
	if err != nil {
		in.crashes++
		delay := s.backoff(in)
		s.genLog(g).Error("replacing a crashed worker failed; trying again", "event", "failed",
			"instance", in.index, "error", err, "restart_in", delay)
		s.replace(g, in, delay)
		return
	}
	in.worker, in.ready, in.network, in.address, in.socket = fresh.worker, true, fresh.network, fresh.address, fresh.socket
	s.watch(g, in)
	s.genLog(g).Info("worker replaced", "event", "replaced", "instance", in.index, "pid", in.worker.PID())
	s.publish()
	s.save()
}

// lose ends a detached generation whose last worker died; lost counts the
// sessions that went with that worker. They and any left are reported as
// lost with the generation.
func (s *Supervisor) lose(g *generation, lost int) {
	g.state, g.reason = fleet.Lost, "its last worker exited"
	lost += s.o.Traffic.DropGeneration(g.id)
	s.genLog(g).Error("generation lost: no worker left", "event", "lost", "sessions_lost", lost)
	delete(s.gens, g.id)
	s.o.Traffic.Forget(g.id)
	s.sessionsLost(g.id, LostGeneration, lost)
	s.o.Observer.GenerationLost(g.id)
	s.publish()
	s.save()
}
