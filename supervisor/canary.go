package supervisor

import (
	"context"
	"fmt"

	"github.com/gatewayd/gateway/fleet"
)

// LostAbort: an abort that moves sessions ended those of the canary; their
// users log in again on the active generation.
const LostAbort LossCause = "canary-abort"

// UpgradeCanary starts a generation as Upgrade does, but once it is ready
// it is put on trial beside the active generation instead of replacing it:
// it gets share (0 to 1) of new sessions, and those of testers who ask for
// it (the proxy's X-Gateway-Canary), so that a release meets a few users
// before it meets all of them. Sessions stay where they are pinned. It
// returns the canary's number once it is routed. It is refused while a
// generation is starting or a canary runs (one trial at a time, so that
// its figures are its own), and with no active generation to try it beside.
func (s *Supervisor) UpgradeCanary(ctx context.Context, share float64) (int, error) {
	if !(share >= 0 && share <= 1) {
		return 0, fmt.Errorf("canary share %v is outside 0 to 1", share)
	}
	res := make(chan upgradeResult, 1)
	var err error
	if derr := s.do(ctx, func() { err = s.requestCanary(share, res) }); derr != nil {
		return 0, derr
	}
	if err != nil {
		return 0, err
	}
	return s.await(ctx, res)
}

func (s *Supervisor) requestCanary(share float64, res chan<- upgradeResult) error {
	switch {
	case s.starting != nil:
		return fmt.Errorf("generation %d is starting: start a canary once it is active or has failed: %w", s.starting.id, fleet.ErrInvalidState)
	case s.canary != nil:
		return fmt.Errorf("generation %d is on trial already: promote or abort it first: %w", s.canary.id, fleet.ErrInvalidState)
	case s.active == nil:
		return fmt.Errorf("no generation is active to try a canary beside: %w", fleet.ErrInvalidState)
	}
	s.share = share
	s.upgradeWith([]chan<- upgradeResult{res}, true)
	return nil
}

// onTrial routes a canary that has started, beside the active generation.
func (s *Supervisor) onTrial(g *generation) {
	g.state = fleet.Canary
	s.canary = g
	s.trial = s.newTrial(g)
	for _, in := range g.instances {
		s.watch(g, in)
	}
	s.publish()
	s.genLog(g).Info("generation on trial as the canary: it gets a share of new sessions", "event", "canary",
		"share", s.share, "active_generation", s.active.id, "pids", g.info(fleet.Usage{}, "").PIDs,
		"judged", s.trial.judge != nil)
}

// Promote makes the canary the active generation: the trial went well, so
// every new session goes to it, and the previous active generation is
// detached and drains as after an upgrade. Without a canary it fails and
// changes nothing.
func (s *Supervisor) Promote(ctx context.Context) (int, error) {
	var id int
	var err error
	if derr := s.do(ctx, func() { id, err = s.promote("promoted by an admin") }); derr != nil {
		return 0, derr
	}
	return id, err
}

// promote ends the trial in the canary's favour; why and figures (the
// judge's) are logged.
func (s *Supervisor) promote(why string, figures ...any) (int, error) {
	g := s.canary
	if g == nil {
		return 0, fmt.Errorf("no canary runs to promote: %w", fleet.ErrInvalidState)
	}
	from, fromID := s.active, 0
	s.canary, s.share, s.trial = nil, 0, nil
	g.state = fleet.Active
	s.active, s.cfg = g, g.cfg
	if from != nil {
		s.detach(from)
		fromID = from.id
	}
	s.publish()
	s.genLog(g).Info("canary promoted: generation active", append([]any{"event", "promoted", "from_generation", fromID,
		"reason", why}, figures...)...)
	s.o.Observer.CanaryEnded(g.id, true)
	return g.id, nil
}

// Abort ends the trial: the canary gets no new sessions any more and
// drains as a detached generation, keeping its sessions; with move they end
// too (their users log in again on the active generation), for a release
// that must serve no one. Without a canary it fails and changes nothing.
func (s *Supervisor) Abort(ctx context.Context, move bool) (int, error) {
	var id int
	var err error
	if derr := s.do(ctx, func() {
		if s.canary == nil {
			err = fmt.Errorf("no canary runs to abort: %w", fleet.ErrInvalidState)
			return
		}
		id = s.abortCanary(move, "aborted by an admin")
	}); derr != nil {
		return 0, derr
	}
	return id, err
}

// abortCanary detaches the canary and publishes at once, so that no new
// session goes to it from then on; why says who ended the trial, figures
// (the judge's) what it was ended for.
func (s *Supervisor) abortCanary(move bool, why string, figures ...any) int {
	g := s.canary
	s.canary, s.share, s.trial = nil, 0, nil
	s.detach(g)
	moved := 0
	if move {
		moved = s.o.Traffic.DropGeneration(g.id)
		s.sessionsLost(g.id, LostAbort, moved)
	}
	s.publish()
	s.genLog(g).Info("canary aborted: it gets no new sessions and drains as a detached generation", append([]any{
		"event", "canary-aborted", "reason", why, "sessions_moved", moved}, figures...)...)
	s.o.Observer.CanaryEnded(g.id, false)
	return g.id
}
