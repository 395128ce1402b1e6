package supervisor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gatewayd/gateway/fleet"
)

// An upgrade logs that changes to [gateway] take effect only when the
// gateway restarts, so the worker sockets and the state file must stay in
// the runtime directory the gateway started with.
func TestUpgradeKeepsRuntimeDirectory(t *testing.T) {
	for _, socket := range []string{"port", "fd"} {
		t.Run(socket, func(t *testing.T) {
			h := startHarness(t, knobs{socket: socket})
			h.traffic.setUsage(1, fleet.Usage{Sessions: 1})
			orig := *h.d
			moved := orig
			moved.rt = filepath.Join(orig.root, "moved-rt") // does not exist
			h.mu.Lock()
			h.d = &moved // the next Load reads a config with another runtime_directory
			h.mu.Unlock()

			h.mustUpgrade(2)
			if socket == "fd" {
				g2, _ := h.gen(2)
				if got, want := filepath.Dir(g2.Instances[0].Address), orig.rt; got != want {
					t.Errorf("generation 2's socket directory: got %q, want %q", got, want)
				}
			}
			if st := readSaved(t, &orig); st.NextGeneration != 3 {
				t.Errorf("state file in %s: got next_generation %d, want 3", orig.rt, st.NextGeneration)
			}
			if _, err := os.Stat(filepath.Join(moved.rt, "t.state.json")); err == nil {
				t.Errorf("a state file appeared in the new runtime_directory %s, want it there only after a restart", moved.rt)
			}
		})
	}
}
