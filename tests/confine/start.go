package confine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
)

// Guard remembers where PID 1 was, and the test's mount namespace, before
// a harness starts anything, so that Check can tell afterwards that the
// start was confined. The harnesses' scripts get MountNS to refuse to go on
// in the test's own mount namespace.
type Guard struct {
	pid1    []byte
	mountNS string
}

// NewGuard reads where PID 1 and the test's mount namespace are now.
func NewGuard() (*Guard, error) {
	pid1, err := os.ReadFile("/proc/1/cgroup")
	if err != nil {
		return nil, fmt.Errorf("reading the cgroup of PID 1: %w", err)
	}
	ns, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return nil, fmt.Errorf("reading the test's mount namespace: %w", err)
	}
	return &Guard{pid1: pid1, mountNS: ns}, nil
}

// MountNS is the test's mount namespace as /proc/self/ns/mnt names it,
// e.g. "mnt:[4026531841]".
func (g *Guard) MountNS() string { return g.mountNS }

// Proc is a process that Check wants confined, and what to call it in an
// error.
type Proc struct {
	What string // e.g. "systemd-nspawn"
	PID  int
}

// Check verifies that every process of procs lives under root in both
// name=systemd and cgroup2 and that PID 1 is still where it was when the
// guard was made: a manager that escaped its cgroup, or took PID 1 with it,
// must stop the test at once.
func (g *Guard) Check(root string, procs ...Proc) error {
	if root == "" || root == "/" {
		return fmt.Errorf("%q is no cgroup of a harness", root)
	}
	for _, p := range procs {
		if !InCgroup(p.PID, root) {
			paths, _ := ProcCgroups(p.PID)
			return fmt.Errorf("%s (pid %d) is not under %s: %v", p.What, p.PID, root, paths)
		}
	}
	pid1After, err := os.ReadFile("/proc/1/cgroup")
	if err != nil {
		return fmt.Errorf("reading the cgroup of PID 1: %w", err)
	}
	if string(pid1After) != string(g.pid1) {
		return fmt.Errorf("PID 1 changed cgroups:\nbefore:\n%safter:\n%s", g.pid1, pid1After)
	}
	return nil
}

// StartLocked starts cmd from a goroutine that owns it until it is reaped,
// then calls exited with what Wait returned. That goroutine keeps its OS
// thread locked: Pdeathsig, with which the harnesses stop what they started
// if the test process dies, fires when the thread that started the child
// ends, and a locked thread is never reused by another goroutine that could
// end it.
func StartLocked(cmd *exec.Cmd, exited func(error)) error {
	if exited == nil {
		return errors.New("StartLocked: no exited function")
	}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited(cmd.Wait())
	}()
	return <-started
}
