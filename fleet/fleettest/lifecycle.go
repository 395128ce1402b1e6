// Package fleettest holds what the fronts' tests share: the lifecycle
// moves of a fake fleet.Core, on a list of generations, as the supervisor
// makes them (supervisor/rollback.go, supervisor/canary.go).
package fleettest

import (
	"fmt"

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

// AddCanary appends generation max+1, on revision r<N>, as the canary.
func AddCanary(gens []fleet.Generation) ([]fleet.Generation, int) {
	id := 0
	for _, g := range gens {
		id = max(id, g.ID)
	}
	return append(gens, fleet.Generation{ID: id + 1, State: fleet.Canary, Revision: fmt.Sprintf("r%d", id+1)}), id + 1
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
		gens[i].State = to
		return gens[i].ID, nil
	}
	return 0, fmt.Errorf("no canary: %w", fleet.ErrInvalidState)
}
