package supervisor

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/fleet"
)

// requestUpgrade runs on the loop: a broken config fails the upgrade at
// once and nothing changes. While a generation is starting, requests are
// queued: they all wait for one follow-up upgrade that begins when the
// starting one is done, with the configuration and revision current then
// (the newest wins), and get its result.
func (s *Supervisor) requestUpgrade(res chan<- upgradeResult) {
	if s.starting != nil {
		if len(s.queued) == 0 {
			s.log.Info("upgrade queued: it begins when the generation starting now is done, with the revision current then",
				"event", "upgrade-queued", "starting_generation", s.starting.id)
		} else {
			s.log.Info("upgrade request joins the queued upgrade", "event", "upgrade-queued",
				"starting_generation", s.starting.id, "waiting", len(s.queued)+1)
		}
		s.queued = append(s.queued, res)
		s.queuedN.Store(int32(len(s.queued)))
		s.changed()
		return
	}
	s.upgradeWith([]chan<- upgradeResult{res}, false)
}

// upgradeWith reads the configuration and begins an upgrade that waiters
// wait for; a trial one starts a canary.
func (s *Supervisor) upgradeWith(waiters []chan<- upgradeResult, trial bool) {
	cfg, err := s.o.Load()
	if err != nil {
		s.log.Error("upgrade refused: the configuration is broken; nothing changed", "event", "upgrade-failed", "error", err)
		reply(waiters, upgradeResult{err: fmt.Errorf("reading the configuration: %w", err)})
		return
	}
	s.warnRestartOnly(cfg)
	// As that warning says: [gateway] and [sessions] stay as the running
	// gateway has them (its runtime directory holds the sockets and the
	// state file) until it restarts.
	cfg.Gateway, cfg.Sessions = s.cfg.Gateway, s.cfg.Sessions
	s.beginUpgrade(cfg, trial, waiters...)
}

// runQueued begins the queued upgrade, if any, once nothing is starting.
func (s *Supervisor) runQueued() {
	if len(s.queued) == 0 || s.starting != nil || s.stopping || s.fatal != nil {
		return
	}
	waiters := s.queued
	s.queued = nil
	s.queuedN.Store(0)
	s.log.Info("beginning the queued upgrade", "event", "upgrade", "waiting", len(waiters))
	s.upgradeWith(waiters, false)
}

// warnRestartOnly says which changed settings an upgrade does not apply:
// the listeners and the session cookies belong to the running proxy.
func (s *Supervisor) warnRestartOnly(cfg *config.Config) {
	old := s.cfg
	if strings.Join(old.Gateway.Listen, ",") != strings.Join(cfg.Gateway.Listen, ",") ||
		old.Sessions.Cookie != cfg.Sessions.Cookie || old.Sessions.AffinityCookie != cfg.Sessions.AffinityCookie ||
		old.Sessions.IdleTimeout != cfg.Sessions.IdleTimeout || old.Gateway.RuntimeDirectory != cfg.Gateway.RuntimeDirectory {
		s.log.Warn("changes to [gateway] and [sessions] take effect only when the gateway restarts; this upgrade applies [app], [readiness] and [drain]")
	}
}

// beginUpgrade creates the next generation and starts it in the background;
// a trial one becomes the canary once ready, any other aborts the canary
// (see Upgrade). The revision is resolved here, on the loop, so that a
// symlinked directory is read once and the generation keeps that target for
// its life.
func (s *Supervisor) beginUpgrade(cfg *config.Config, trial bool, waiters ...chan<- upgradeResult) {
	if s.nextID > fleet.MaxGeneration {
		err := fmt.Errorf("generation %d would be past the last number, %d: %w", s.nextID, fleet.MaxGeneration, ErrNoGenerationLeft)
		s.log.Error("upgrade refused", "event", "upgrade-failed", "error", err)
		reply(waiters, upgradeResult{err: err})
		if s.active == nil {
			s.fatal = err
		}
		return
	}
	if !trial && s.canary != nil {
		s.abortCanary(false, "an upgrade began")
	}
	g := &generation{id: s.nextID, cfg: cfg, state: fleet.Starting, started: time.Now(), trial: trial}
	s.nextID++
	dir, err := filepath.EvalSymlinks(cfg.App.Directory)
	if err != nil {
		s.starting = g
		s.gens[g.id] = g
		s.waiters = append(s.waiters, waiters...)
		s.started(g, nil, fmt.Errorf("resolving app.directory: %w", err))
		return
	}
	g.dir, g.revision = dir, cfg.App.Revision
	if g.revision == "" {
		g.revision = filepath.Base(dir)
	}
	if err := checkRevision(g.revision); err != nil {
		rev := g.revision
		g.revision = strings.ToValidUTF8(rev, "?") // for the logs
		s.starting = g
		s.gens[g.id] = g
		s.waiters = append(s.waiters, waiters...)
		s.started(g, nil, fmt.Errorf("revision %q (from %s): %w", rev, dir, err))
		return
	}
	s.starting = g
	s.gens[g.id] = g
	s.waiters = append(s.waiters, waiters...)
	s.makeRoom()
	s.save() // before its unit exists: a restart after a crash must know it
	s.goEvent(func() func() {
		insts, err := s.startGeneration(g)
		return func() { s.started(g, insts, err) }
	})
}

// startGeneration resolves the revision and starts every instance, in
// parallel, until all are ready. On failure it stops what it started.
// It runs off the loop and only reads g's fixed fields.
func (s *Supervisor) startGeneration(g *generation) ([]*instance, error) {
	s.genLog(g).Info("starting generation", "event", "started", "directory", g.dir, "instances", g.cfg.App.Instances)
	insts := make([]*instance, g.cfg.App.Instances)
	errs := make([]error, len(insts))
	var wg sync.WaitGroup
	for i := range insts {
		wg.Go(func() { insts[i], errs[i] = s.startInstance(g, i+1) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.stopInstances(g, insts, g.cfg.App.StopTimeout.Duration)
		return nil, err
	}
	return insts, nil
}

func (s *Supervisor) genLog(g *generation) *slog.Logger {
	return s.log.With("generation", g.id, "revision", g.revision)
}

// started runs on the loop when a generation has started or failed to.
func (s *Supervisor) started(g *generation, insts []*instance, err error) {
	s.starting = nil
	waiters := s.waiters
	s.waiters = nil
	if err != nil {
		g.state, g.reason = fleet.Failed, err.Error()
		delete(s.gens, g.id)
		if s.active != nil {
			s.genLog(g).Error("generation failed to start; the previous generation stays active", "event", "failed",
				"active_generation", s.active.id, "error", err)
		} else {
			s.genLog(g).Error("generation failed to start, and no generation is active: the gateway cannot serve", "event", "failed", "error", err)
			s.fatal = fmt.Errorf("generation %d failed to start: %w", g.id, err)
		}
		s.save() // before the reply: whoever hears of the failure reads a state file without g
		reply(waiters, upgradeResult{gen: g.id, err: fmt.Errorf("generation %d failed to start: %w", g.id, err)})
		s.runQueued()
		return
	}
	g.instances = insts
	if s.stopping {
		g.state = fleet.Retiring
		s.stopLater(insts, g)
		reply(waiters, upgradeResult{gen: g.id, err: ErrStopped})
		return
	}
	if g.trial && s.active != nil {
		s.onTrial(g)
		reply(waiters, upgradeResult{gen: g.id})
		s.runQueued()
		return
	}
	g.state = fleet.Active
	prev := s.active
	s.active, s.cfg = g, g.cfg
	for _, in := range insts {
		s.watch(g, in)
	}
	if prev != nil {
		s.detach(prev)
		if prev.stopAsked {
			s.retire(prev, "its unit was stopped from outside", true)
		}
	}
	s.publish() // saves the state
	s.genLog(g).Info("generation active", "event", "active", "pids", g.info(fleet.Usage{}, "").PIDs)
	if !s.readyOnce {
		s.readyOnce = true
		close(s.ready)
	}
	reply(waiters, upgradeResult{gen: g.id})
	s.runQueued()
}

// reply answers everyone waiting for an upgrade; nil entries are the
// gateway's own first start, which nobody waits for.
func reply(waiters []chan<- upgradeResult, r upgradeResult) {
	for _, w := range waiters {
		if w != nil {
			w <- r
		}
	}
}

func (s *Supervisor) detach(g *generation) {
	g.state = fleet.Detached
	g.detached = time.Now()
	if max := s.cfg.Drain.MaxTime.Duration; max > 0 {
		g.deadline = g.detached.Add(max)
	}
	u := s.o.Traffic.Usage(g.id)
	s.genLog(g).Info("generation detached: it keeps its sessions and gets no new ones", "event", "detached",
		"sessions", u.Sessions, "drain_deadline", g.deadline)
}

// watch turns the exit of in's worker into an event on the loop.
func (s *Supervisor) watch(g *generation, in *instance) {
	w := in.worker
	s.watchers++
	s.goEvent(func() func() {
		<-w.Done()
		return func() {
			s.watchers--
			s.workerExited(g, in, w)
		}
	})
}

// checkRevision refuses a revision that cannot be shown as it is: it names
// the generation in logs, D-Bus strings and metric labels, which must be
// UTF-8, and comes from a directory name, which need not be.
func checkRevision(rev string) error {
	if !utf8.ValidString(rev) {
		return errors.New("not valid UTF-8; rename the release directory or set app.revision")
	}
	if strings.IndexFunc(rev, unicode.IsControl) >= 0 {
		return errors.New("holds control characters; rename the release directory or set app.revision")
	}
	return nil
}

// makeRoom retires the oldest detached generations by force while more are
// alive than drain.max_generations allows (the one starting included).
func (s *Supervisor) makeRoom() {
	limit := s.cfg.Drain.MaxGenerations
	if limit < 2 {
		return // a config not from config.Load (tests): no limit
	}
	for {
		alive, oldest := 0, (*generation)(nil)
		for _, g := range s.sorted() {
			switch g.state {
			case fleet.Starting, fleet.Active, fleet.Canary:
				alive++
			case fleet.Detached:
				alive++
				if oldest == nil {
					oldest = g
				}
			}
		}
		if alive <= limit || oldest == nil {
			return
		}
		s.genLog(oldest).Warn("retiring the oldest detached generation: an upgrade needs room under drain.max_generations",
			"event", "generation-limit", "max_generations", limit, "alive", alive)
		oldest.lossCause = LostGenerationLimit
		s.retire(oldest, "drain.max_generations was reached", true)
	}
}
