package sdtest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatewayd/gateway/tests/confine"
)

// harness is what tests/confine, which holds the cgroup handling sdtest
// shares with tests/nspawn, knows of sdtest: its log prefix, its cgroups
// /gwtest-PID, and how long each step of a teardown may take.
var harness = confine.Harness{Name: "sdtest", Prefix: cgroupPrefix, Timeout: killTimeout}

// sweepStale removes what earlier test processes left when they died
// without cleaning up: gwtest-PID cgroups whose manager PID is gone and
// that hold no process, and runtime directories whose owning test process is
// gone. It never kills anything.
func sweepStale(t testing.TB) {
	harness.SweepStale(t.Logf)
	entries, _ := os.ReadDir("/tmp")
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), runtimePrefix) {
			continue
		}
		d := filepath.Join("/tmp", e.Name())
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue // not ours, or being created right now
		}
		if owner, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && owner > 0 && !confine.Alive(owner) {
			if err := os.RemoveAll(d); err != nil {
				t.Logf("sdtest: removing stale %s: %v", d, err)
			} else {
				t.Logf("sdtest: removed stale runtime directory %s", d)
			}
		}
	}
}
