package supervisor

import (
	"errors"
	"slices"
	"testing"

	"github.com/gatewayd/gateway/fleet"
)

// A rollback makes the newest running detached generation active at once,
// starting nothing, and detaches the bad one, which keeps its sessions by
// default; a second rollback goes forward again.
func TestRollback(t *testing.T) {
	h := startHarness(t, knobs{})
	h.traffic.setUsage(1, fleet.Usage{Sessions: 1})
	h.mustUpgrade(2)
	h.traffic.setUsage(2, fleet.Usage{Sessions: 3})
	workers := len(h.runner.all())

	id, err := h.sup.Rollback(h.ctx(), false)
	if err != nil || id != 1 {
		t.Fatalf("Rollback: got %d, %v; want generation 1", id, err)
	}
	h.wantStates("1:active 2:detached")
	h.wantLast("active=1[1] detached=2[1]")
	if n := len(h.runner.all()); n != workers {
		t.Errorf("%d workers after the rollback, want %d: a rollback starts nothing", n, workers)
	}
	if g1, _ := h.gen(1); !g1.Detached.IsZero() || !g1.Deadline.IsZero() {
		t.Errorf("generation 1 active again with a detach time %v and drain deadline %v, want neither", g1.Detached, g1.Deadline)
	}
	if slices.Contains(h.traffic.gotEvents(), "drop-gen 2") {
		t.Error("the bad generation's sessions were dropped, want them kept by default")
	}
	if !slices.Contains(h.obs.got(), "rolled-back 2 to 1") {
		t.Errorf("observer: got %q, want the rollback", h.obs.got())
	}

	if id, err := h.sup.Rollback(h.ctx(), false); err != nil || id != 2 {
		t.Fatalf("second Rollback: got %d, %v; want generation 2 again", id, err)
	}
	h.wantStates("1:detached 2:active")
}

// With move, the bad generation's sessions end with the rollback (their
// users log in again on the restored revision) and it retires once idle.
func TestRollbackMovesSessions(t *testing.T) {
	h := startHarness(t, knobs{})
	// A session keeps generation 1 from retiring as idle before the rollback.
	h.traffic.setUsage(1, fleet.Usage{Sessions: 1})
	h.mustUpgrade(2)
	h.traffic.setUsage(2, fleet.Usage{Sessions: 3})
	if _, err := h.sup.Rollback(h.ctx(), true); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(h.traffic.gotEvents(), "drop-gen 2") || !slices.Contains(h.obs.got(), "sessions-lost 2 rollback 3") {
		t.Errorf("traffic %q, observer %q: want generation 2's 3 sessions dropped as lost to the rollback", h.traffic.gotEvents(), h.obs.got())
	}
	h.waitStates("1:active")
}

// Without a detached generation that runs, a rollback fails and changes
// nothing.
func TestRollbackRefused(t *testing.T) {
	h := startHarness(t, knobs{})
	if _, err := h.sup.Rollback(h.ctx(), false); !errors.Is(err, fleet.ErrInvalidState) {
		t.Errorf("with one generation: got %v, want ErrInvalidState", err)
	}
	h.traffic.setUsage(1, fleet.Usage{Sessions: 1})
	h.mustUpgrade(2)
	for _, w := range h.runner.of(1) {
		w.crash(errors.New("killed"))
	}
	h.waitStates("2:active")
	if _, err := h.sup.Rollback(h.ctx(), false); !errors.Is(err, fleet.ErrInvalidState) {
		t.Errorf("after generation 1 was lost: got %v, want ErrInvalidState", err)
	}
	h.wantStates("2:active")
}
