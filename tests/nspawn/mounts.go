package nspawn

import (
	"fmt"
	"os"
	"strings"

	"github.com/gatewayd/gateway/tests/confine"
)

// mountsBelow lists the mount points at or below dir in the test's mount
// namespace. Nothing of this package mounts there (every mount happens in a
// private namespace); a non-empty answer means something else did, and
// such a directory is not removed.
func mountsBelow(dir string) []string {
	ms, err := confine.Mounts()
	if err != nil {
		return []string{fmt.Sprintf("(reading /proc/self/mountinfo: %v)", err)}
	}
	var below []string
	for _, m := range ms {
		if confine.Under(m.Point, dir) {
			below = append(below, m.Point)
		}
	}
	return below
}

// removeDir removes a directory tree of this package, unless something is
// mounted in it.
func removeDir(dir string) error {
	if below := mountsBelow(dir); len(below) > 0 {
		return fmt.Errorf("not removing %s: mounts below it: %s", dir, strings.Join(below, ", "))
	}
	return os.RemoveAll(dir)
}
