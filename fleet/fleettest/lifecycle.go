// Package fleettest holds what the fronts' tests share: the lifecycle
// moves of a fake fleet.Core, on a list of generations, as the supervisor
// makes them (supervisor/rollback.go, supervisor/canary.go).
package fleettest

import (
	"fmt"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// Rollback makes the newest detached generation active and detaches the
// active one.
func Rollback(gens []fleet.Generation) (int, error) {
	back, active := -1, -1
	for i, g := range gens {
		switch g.State {
		case fleet.Detached:
			if back < 0 || g.ID > gens[back].ID {
				back = i
			}
		case fleet.Active:
			active = i
		}
	}
	if back < 0 {
		return 0, fmt.Errorf("no detached generation is running to roll back to: %w", fleet.ErrInvalidState)
	}
	gens[back].State = fleet.Active
	if active >= 0 {
		gens[active].State = fleet.Detached
	}
	return gens[back].ID, nil
}

// AddCanary appends generation max+1, on revision r<N>, as the canary for
// share of new sessions: its trial starts now, with no answers yet and no
// judge, as a canary's does under a configuration without [canary] judge.
func AddCanary(gens []fleet.Generation, share float64) ([]fleet.Generation, int) {
	id := 0
	for _, g := range gens {
		id = max(id, g.ID)
	}
	now := time.Now()
	return append(gens, fleet.Generation{ID: id + 1, State: fleet.Canary, Revision: fmt.Sprintf("r%d", id+1), Started: now,
		Trial: &fleet.Trial{Share: share, Started: now}}), id + 1
}

// JudgedTrial is a trial well under way, for 10% of new sessions since
// started: the figures of fleet/testdata/status.json, judged with the
// default [canary] margins and a promote_after of 30 minutes, its verdict
// the judge's own.
func JudgedTrial(started, now time.Time) *fleet.Trial {
	t := &fleet.Trial{Share: 0.1, Started: started,
		Canary: fleet.Summary{Requests: 250, Errors: 1, P99: 40 * time.Millisecond},
		Active: fleet.Summary{Requests: 2400, Errors: 2, P99: 36 * time.Millisecond},
		Judge: &fleet.Judge{MinRequests: 200, ErrorMargin: 0.01, LatencyMargin: 0.5, LatencyMin: 10 * time.Millisecond,
			PromoteAfter: 30 * time.Minute}}
	_, t.Verdict = t.Judge.Decide(t.Canary, t.Active, now.Sub(started))
	return t
}

// EndTrial makes the canary active (detaching the active one) or detached.
func EndTrial(gens []fleet.Generation, to fleet.State) (int, error) {
	for i := range gens {
		if gens[i].State != fleet.Canary {
			continue
		}
		for j := range gens {
			if to == fleet.Active && gens[j].State == fleet.Active {
				gens[j].State = fleet.Detached
			}
		}
		gens[i].State, gens[i].Trial = to, nil // the trial is over
		return gens[i].ID, nil
	}
	return 0, fmt.Errorf("no canary: %w", fleet.ErrInvalidState)
}
