package confine

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RequireEnv, set to 1, turns every missing requirement of a harness into a
// test failure instead of a skip. CI sets it, so that the systemd tests
// cannot pass there by being skipped.
const RequireEnv = "GATEWAY_REQUIRE_SYSTEMD"

// Harness is what this package needs to know of the harness that calls it:
// its name, before every line it logs (as the harness's own lines), and the
// prefix of its cgroups. A harness's cgroup is Prefix+PID at the top of
// every hierarchy, PID being the process its script started as, which
// moved itself there first; distinct prefixes keep the harnesses (and their
// sweeps) out of each other's cgroups.
type Harness struct {
	Name    string        // e.g. "sdtest"
	Prefix  string        // e.g. "gwtest-"; never empty, no "/"
	Timeout time.Duration // each step of a teardown: killing, then removing
}

// Logf is where a Harness says what it did, such as testing.TB's Logf.
type Logf func(format string, args ...any)

// Require skips the test when reason, what keeps the harness from running
// here, is not empty; with RequireEnv=1 it fails the test instead.
func (h Harness) Require(t testing.TB, reason string) {
	t.Helper()
	if reason == "" {
		return
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s: %s (%s=1 makes this a failure)", h.Name, reason, RequireEnv)
	}
	t.Skipf("%s: %s (set %s=1 to fail instead)", h.Name, reason, RequireEnv)
}

// Cgroup is the name of the harness's cgroup for pid, Prefix+PID. It
// refuses what would not name a cgroup of the harness: a PID of 0 or below
// is no process the harness started, and a bad Prefix could reach other
// cgroups.
func (h Harness) Cgroup(pid int) (string, error) {
	if err := h.checkPrefix(); err != nil {
		return "", err
	}
	if pid <= 0 {
		return "", fmt.Errorf("no cgroup of %s for pid %d", h.Name, pid)
	}
	return h.Prefix + strconv.Itoa(pid), nil
}

// checkPrefix refuses an empty Prefix, which every directory name starts
// with, and one with a "/", which would reach into other cgroups.
func (h Harness) checkPrefix() error {
	if h.Prefix == "" || strings.Contains(h.Prefix, "/") {
		return fmt.Errorf("bad cgroup prefix %q of %s", h.Prefix, h.Name)
	}
	return nil
}
