package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// LostRollback: a rollback that moves sessions ended those of the
// generation rolled back from; their users log in again on the restored one.
const LostRollback LossCause = "rollback"

// Rollback makes the newest detached generation that still runs active
// again, at once: it starts nothing and waits for no readiness, since that
// generation is running and warm. The active generation is detached and
// drains like any other; with move, its sessions end too (their users log
// in again on the restored revision, as the switch path does), for a
// release that must serve no one. It returns the restored generation once
// routing has switched. Without a generation to go back to, or while an
// upgrade is starting one, it fails and changes nothing. A canary running
// is aborted too (detached, keeping its sessions; move is about the
// active generation's): a rollback means the newer releases are not
// wanted, and the canary is one. The target is chosen before, so the
// canary just detached is never rolled back to.
func (s *Supervisor) Rollback(ctx context.Context, move bool) (int, error) {
	var id int
	var err error
	if derr := s.do(ctx, func() { id, err = s.rollback(move) }); derr != nil {
		return 0, derr
	}
	return id, err
}

func (s *Supervisor) rollback(move bool) (int, error) {
	if s.starting != nil {
		return 0, fmt.Errorf("generation %d is starting: roll back once it is active or has failed: %w", s.starting.id, fleet.ErrInvalidState)
	}
	back := s.rollbackTarget()
	if back == nil {
		return 0, fmt.Errorf("no detached generation is running to roll back to: %w", fleet.ErrInvalidState)
	}
	if s.canary != nil {
		s.abortCanary(false, "a rollback")
	}
	from := s.active
	back.state, back.detached, back.deadline, back.hold = fleet.Active, time.Time{}, time.Time{}, time.Time{}
	s.active, s.cfg = back, back.cfg
	moved := 0
	if from != nil {
		s.detach(from)
		if move {
			moved = s.o.Traffic.DropGeneration(from.id)
			s.sessionsLost(from.id, LostRollback, moved)
		}
	}
	s.publish()
	fromID := 0
	if from != nil {
		fromID = from.id
	}
	s.genLog(back).Info("rolled back: generation active again", "event", "rollback", "from_generation", fromID,
		"sessions_moved", moved, "pids", back.info(fleet.Usage{}, "").PIDs)
	s.o.Observer.RolledBack(fromID, back.id)
	return back.id, nil
}

// rollbackTarget is the newest detached generation with a running worker.
func (s *Supervisor) rollbackTarget() *generation {
	gens := s.sorted()
	for i := len(gens) - 1; i >= 0; i-- {
		if g := gens[i]; g.state == fleet.Detached && g.live() {
			return g
		}
	}
	return nil
}
