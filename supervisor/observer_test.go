package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// waitObserved waits until the Observer has been told want, in this order
// and nothing else.
func (h *harness) waitObserved(want ...string) {
	h.t.Helper()
	waitFor(h.t, fmt.Sprintf("Observer events %q", want), func() error {
		if got := h.obs.got(); !slices.Equal(got, want) {
			return fmt.Errorf("got %q", got)
		}
		return nil
	})
}

func TestObserverRetired(t *testing.T) {
	t.Run("drained", func(t *testing.T) {
		h := startHarness(t, knobs{})
		h.traffic.setUsage(1, fleet.Usage{Sessions: 1})
		h.mustUpgrade(2)
		time.Sleep(20 * time.Millisecond)
		h.traffic.setUsage(1, fleet.Usage{})
		h.traffic.sessionsChanged()
		h.waitObserved("retired 1 drained")
		if d := h.obs.drainedOf(1); d < 20*time.Millisecond || d > waitLimit {
			t.Errorf("drain time: got %v, want from the detach (at least 20ms ago) to the retirement", d)
		}
	})
	t.Run("drain deadline", func(t *testing.T) {
		h := startHarness(t, knobs{maxTime: "100ms"})
		h.traffic.setUsage(1, fleet.Usage{Sessions: 3})
		h.mustUpgrade(2)
		h.waitObserved("sessions-lost 1 drain-deadline 3", "retired 1 forced")
		if d := h.obs.drainedOf(1); d < 100*time.Millisecond {
			t.Errorf("drain time: got %v, want at least drain.max_time (100ms)", d)
		}
	})
	t.Run("forced by an admin", func(t *testing.T) {
		h := startHarness(t, knobs{}, tickHour)
		h.traffic.setUsage(1, fleet.Usage{Sessions: 2})
		h.mustUpgrade(2)
		if err := h.sup.Retire(h.ctx(), 1, true); err != nil {
			t.Fatal(err)
		}
		h.waitObserved("sessions-lost 1 forced 2", "retired 1 forced")
	})
	t.Run("idle, by an admin", func(t *testing.T) {
		h := startHarness(t, knobs{}, tickHour)
		h.mustUpgrade(2)
		if err := h.sup.Retire(h.ctx(), 1, false); err != nil {
			t.Fatal(err)
		}
		h.waitObserved("retired 1 drained")
	})
}

func TestObserverSessionsLostWithWorkers(t *testing.T) {
	t.Run("active generation", func(t *testing.T) {
		h := startHarness(t, knobs{instances: 2})
		w := h.runner.of(1)[0]
		h.traffic.setInstanceSessions(1, w.spec.Instance, 4)
		w.crash(errors.New("exit status 1"))
		h.waitObserved("sessions-lost 1 crash 4")
	})
	t.Run("detached generation", func(t *testing.T) {
		h := startHarness(t, knobs{instances: 2})
		w := h.runner.of(1)
		h.traffic.setInstanceSessions(1, w[0].spec.Instance, 2)
		h.traffic.setInstanceSessions(1, w[1].spec.Instance, 1)
		h.mustUpgrade(2)
		w[0].crash(errors.New("exit status 1"))
		h.waitObserved("sessions-lost 1 crash 2")
		w[1].crash(errors.New("exit status 1"))
		h.waitObserved("sessions-lost 1 crash 2", "sessions-lost 1 lost-generation 1", "lost 1")
	})
}

// Pins of a generation that the restarted gateway cannot take over (the
// fake runner, like the process runner, adopts nothing) are lost.
func TestObserverSessionsLostOnRestart(t *testing.T) {
	h := startHarness(t, knobs{}, func(h *harness) {
		seen := time.Now().UTC().Format(time.RFC3339Nano)
		state := fmt.Sprintf(`{"version": 1, "app": "t", "next_generation": 3,
			"generations": [{"id": 2, "state": "active", "revision": "r1", "directory": "/x", "instances": [{"index": 1, "pid": 999999, "network": "tcp", "address": "127.0.0.1:1"}]}],
			"pins": [{"session": "0000000000000000000000000000000a", "generation": 2, "instance": 1, "last_seen": %q},
			         {"session": "0000000000000000000000000000000b", "generation": 2, "instance": 1, "last_seen": %q}]}`, seen, seen)
		if err := os.WriteFile(filepath.Join(h.d.rt, "t.state.json"), []byte(state), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	h.wantStates("3:active")
	h.waitObserved("sessions-lost 2 restart 2")
}
