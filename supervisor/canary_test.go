package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/tests/gwtest"
)

// startCanary starts generation want as the canary with share.
func (h *harness) startCanary(want int, share float64) {
	h.t.Helper()
	if id, err := h.sup.UpgradeCanary(h.ctx(), share); err != nil || id != want {
		h.t.Fatalf("UpgradeCanary(%g): got %d, %v; want generation %d", share, id, err, want)
	}
}

// A canary runs beside the active generation with its share of new
// sessions; promoted, it becomes active and the old one drains.
func TestCanaryPromote(t *testing.T) {
	h := startHarness(t, knobs{})
	h.traffic.setUsage(1, fleet.Usage{Sessions: 2})
	h.startCanary(2, 0.1)
	h.wantStates("1:active 2:canary")
	h.wantLast("active=1[1] canary=2[1]@0.1 detached=")

	if id, err := h.sup.Promote(h.ctx()); err != nil || id != 2 {
		t.Fatalf("Promote: got %d, %v; want generation 2", id, err)
	}
	h.wantStates("1:detached 2:active")
	h.wantLast("active=2[1] detached=1[1]")
	if !slices.Contains(h.obs.got(), "canary-ended 2 promoted=true") {
		t.Errorf("observer: got %q, want the promotion", h.obs.got())
	}
}

// An aborted canary gets no new sessions and drains with those it has;
// with move they end, and it retires once idle.
func TestCanaryAbort(t *testing.T) {
	for _, move := range []bool{false, true} {
		t.Run(fmt.Sprint("move=", move), func(t *testing.T) {
			h := startHarness(t, knobs{})
			h.startCanary(2, 0.5)
			h.traffic.setUsage(2, fleet.Usage{Sessions: 3})
			if id, err := h.sup.Abort(h.ctx(), move); err != nil || id != 2 {
				t.Fatalf("Abort: got %d, %v; want generation 2", id, err)
			}
			dropped := slices.Contains(h.traffic.gotEvents(), "drop-gen 2")
			if dropped != move {
				t.Errorf("the canary's sessions dropped: %t, want %t", dropped, move)
			}
			if move {
				h.waitStates("1:active")
				if !slices.Contains(h.obs.got(), "sessions-lost 2 canary-abort 3") {
					t.Errorf("observer: got %q, want 3 sessions lost to the abort", h.obs.got())
				}
				return
			}
			h.wantStates("1:active 2:detached")
			h.wantLast("active=1[1] detached=2[1]")
			if !slices.Contains(h.obs.got(), "canary-ended 2 promoted=false") {
				t.Errorf("observer: got %q, want the abort", h.obs.got())
			}
		})
	}
}

// One canary at a time, and promote or abort need one; a refusal changes
// nothing.
func TestCanaryRefused(t *testing.T) {
	h := startHarness(t, knobs{})
	if _, err := h.sup.Promote(h.ctx()); !errors.Is(err, fleet.ErrInvalidState) {
		t.Errorf("Promote without a canary: got %v, want ErrInvalidState", err)
	}
	if _, err := h.sup.Abort(h.ctx(), false); !errors.Is(err, fleet.ErrInvalidState) {
		t.Errorf("Abort without a canary: got %v, want ErrInvalidState", err)
	}
	for _, share := range []float64{-0.1, 1.5} {
		if _, err := h.sup.UpgradeCanary(h.ctx(), share); err == nil {
			t.Errorf("UpgradeCanary(%g): got no error", share)
		}
	}
	h.wantStates("1:active")
	h.startCanary(2, 0.1)
	if _, err := h.sup.UpgradeCanary(h.ctx(), 0.2); !errors.Is(err, fleet.ErrInvalidState) {
		t.Errorf("a second canary: got %v, want ErrInvalidState", err)
	}
	h.wantStates("1:active 2:canary")
	h.wantLast("active=1[1] canary=2[1]@0.1 detached=")
}

// An upgrade while a canary runs aborts it first (it keeps its sessions);
// a rollback does too, and goes back past it.
func TestCanaryEndedByUpgradeAndRollback(t *testing.T) {
	h := startHarness(t, knobs{})
	h.traffic.setUsage(1, fleet.Usage{Sessions: 1})
	h.startCanary(2, 0.1)
	h.traffic.setUsage(2, fleet.Usage{Sessions: 1})
	h.mustUpgrade(3)
	h.wantStates("1:detached 2:detached 3:active")
	if !slices.Contains(h.obs.got(), "canary-ended 2 promoted=false") {
		t.Errorf("observer: got %q, want the canary aborted by the upgrade", h.obs.got())
	}

	h.traffic.setUsage(3, fleet.Usage{Sessions: 1})
	h.startCanary(4, 0.1)
	h.traffic.setUsage(4, fleet.Usage{Sessions: 1})
	if id, err := h.sup.Rollback(h.ctx(), false); err != nil || id != 2 {
		t.Fatalf("Rollback: got %d, %v; want generation 2 (the newest detached before the canary)", id, err)
	}
	h.wantStates("1:detached 2:active 3:detached 4:detached")
	h.wantLast("active=2[1] detached=1[1],3[1],4[1]")
}

// A canary's crashed worker is replaced as the active generation's is: the
// trial goes on.
func TestCanaryWorkerCrashIsReplaced(t *testing.T) {
	h := startHarness(t, knobs{})
	h.startCanary(2, 0.1)
	old := h.runner.of(2)[0]
	old.crash(errors.New("exit status 2"))
	waitFor(t, "a new worker in the canary", func() error {
		g, _ := h.gen(2)
		if in := g.Instances[0]; in.PID == 0 || in.PID == old.pid || !in.Ready {
			return fmt.Errorf("got %s with instance %+v", g.State, in)
		}
		return nil
	})
	h.wantStates("1:active 2:canary")
}

// adoptingManager re-adopts every worker the state file names, as the
// systemd runner does when their scopes still run.
type adoptingManager struct{ Manager }

func (adoptingManager) Adopt(_ context.Context, _ int, pids []int) ([]Worker, error) {
	var ws []Worker
	for _, p := range pids {
		ws = append(ws, runningWorker(p))
	}
	return ws, nil
}

// runningWorker is a worker that never exits.
type runningWorker int

func (w runningWorker) PID() int             { return int(w) }
func (runningWorker) Done() <-chan struct{}  { return nil }
func (runningWorker) Err() error             { return nil }
func (runningWorker) Signal(os.Signal) error { return nil }
func (runningWorker) Tail() []string         { return nil }

// A gateway restarted during a trial re-adopts the canary as detached:
// its share was not saved, and its sessions stay with it while it drains.
func TestCanaryReadoptedAsDetached(t *testing.T) {
	cfg, err := knobs{}.parse(newDirs(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: cfg, Runner: newFakeRunner(), Traffic: newFakeTraffic(), Logger: gwtest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	saved := fleet.Generation{ID: 2, State: fleet.Canary, Revision: "r2",
		Instances: []fleet.Instance{{Index: 1, PID: 4242, Network: "tcp", Address: "127.0.0.1:1"}}}
	g := s.adoptOne(context.Background(), adoptingManager{}, saved)
	if g == nil {
		t.Fatal("the canary was not re-adopted")
	}
	if g.state != fleet.Detached || g.detached.IsZero() {
		t.Errorf("re-adopted canary: state %s, detached at %v; want detached now", g.state, g.detached)
	}
}
