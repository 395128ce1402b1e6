package confine

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// SweepStale removes the harness's cgroups that test processes which died
// without cleaning up left behind: Prefix+PID cgroups whose PID is gone and
// that hold no process. It never kills anything: a stale cgroup that still
// holds a process is left, and logged.
func (h Harness) SweepStale(logf Logf) {
	if err := h.checkPrefix(); err != nil {
		logf("%s: %v", h.Name, err)
		return
	}
	ms, _ := CgroupMounts()
	for _, m := range ms {
		entries, _ := os.ReadDir(m.Dir)
		for _, e := range entries {
			pid, ok := strings.CutPrefix(e.Name(), h.Prefix)
			n, err := strconv.Atoi(pid)
			if !ok || !e.IsDir() || err != nil || n <= 0 || Alive(n) {
				continue
			}
			d := filepath.Join(m.Dir, e.Name())
			if pids := procsIn([]string{d}); len(pids) > 0 {
				logf("%s: stale %s still holds processes %v; leaving it", h.Name, d, pids)
				continue
			}
			if left := rmdirTree(d); len(left) > 0 {
				logf("%s: removing stale %s: %s", h.Name, d, strings.Join(left, ", "))
			} else {
				logf("%s: removed stale cgroup %s", h.Name, d)
			}
		}
	}
}
