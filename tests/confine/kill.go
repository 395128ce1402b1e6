package confine

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// KillIn sends SIGKILL to victim if it is in the harness's cgroup for pid
// (in any hierarchy), as a last resort against a process that outlived its
// manager's own teardown.
func (h Harness) KillIn(victim, pid int, logf Logf) {
	name, err := h.Cgroup(pid)
	if err != nil {
		logf("%s: %v", h.Name, err)
		return
	}
	h.killIn(victim, "/"+name, map[int]bool{}, logf)
}

// killIn sends SIGKILL to pid if it is under root in some hierarchy, and
// logs it the first time (signalled remembers). The check is made after
// taking a pidfd (os.FindProcess), so a PID reused meanwhile by another
// process is not signalled. PID 1 and the test process itself never are.
func (h Harness) killIn(pid int, root string, signalled map[int]bool, logf Logf) {
	if pid <= 1 || pid == os.Getpid() {
		return
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return
	}
	defer p.Release()
	if !inCgroupAny(pid, root) {
		return
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err := p.Signal(syscall.SIGKILL); err == nil && !signalled[pid] {
		signalled[pid] = true
		logf("%s: SIGKILL to pid %d (%s), left in %s", h.Name, pid, strings.TrimSpace(string(comm)), root)
	}
}

// KillAll SIGKILLs every process in the harness's cgroup for pid, in every
// hierarchy, but spare (0: none), until none is left or Timeout has
// passed. sdtest spares the manager so that it reaps what is killed: nothing
// else here reaps orphans.
func (h Harness) KillAll(pid, spare int, logf Logf) error {
	name, err := h.Cgroup(pid)
	if err != nil {
		return err
	}
	return h.killAll(name, Dirs(name), spare, logf)
}

func (h Harness) killAll(name string, roots []string, spare int, logf Logf) error {
	signalled := map[int]bool{}
	deadline := time.Now().Add(h.Timeout)
	for {
		var pids []int
		for _, pid := range procsIn(roots) {
			if pid != spare {
				pids = append(pids, pid)
			}
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v are still in /%s %v after SIGKILL", pids, name, h.Timeout)
		}
		for _, pid := range pids {
			h.killIn(pid, "/"+name, signalled, logf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Remove SIGKILLs whatever is left in the harness's cgroup for pid, in
// every hierarchy, and removes those trees depth first. It is the last step
// of a teardown on the cgroups; what it cannot remove within Timeout (each
// step) is an error.
func (h Harness) Remove(pid int, logf Logf) error {
	name, err := h.Cgroup(pid)
	if err != nil {
		return err
	}
	roots := Dirs(name)
	if len(roots) == 0 {
		return nil
	}
	if err := h.killAll(name, roots, 0, logf); err != nil {
		return err
	}
	deadline := time.Now().Add(h.Timeout)
	for {
		var left []string
		for _, r := range roots {
			left = append(left, rmdirTree(r)...)
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("could not remove %s", strings.Join(left, ", "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
