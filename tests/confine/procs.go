package confine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// ProcCgroups returns the cgroup paths of a process, one per hierarchy line
// of /proc/PID/cgroup, keyed by the line's controller field ("name=systemd",
// "" for cgroup2, "cpu", …). Whether a process may be signalled, and whether
// a start was confined, is decided on these paths.
func ProcCgroups(pid int) (map[string]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, err
	}
	paths := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 {
			paths[parts[1]] = parts[2]
		}
	}
	return paths, nil
}

// Under says whether path is root or below it. A root of "/" holds every
// path; the functions of this package never pass it.
func Under(path, root string) bool {
	return path == root || strings.HasPrefix(path, strings.TrimSuffix(root, "/")+"/")
}

// InCgroup says whether pid is under root in both name=systemd and
// cgroup2, the two hierarchies a systemd manager takes over: only there is
// it confined.
func InCgroup(pid int, root string) bool {
	paths, err := ProcCgroups(pid)
	return err == nil && Under(paths["name=systemd"], root) && Under(paths[""], root)
}

// inCgroupAny says whether pid is under root in any hierarchy: what is
// left in any of a harness's cgroups is the harness's to kill.
func inCgroupAny(pid int, root string) bool {
	paths, err := ProcCgroups(pid)
	if err != nil {
		return false
	}
	for _, p := range paths {
		if Under(p, root) {
			return true
		}
	}
	return false
}

// Dirs lists the directories named name at the top of every cgroup
// hierarchy (/sys/fs/cgroup/*/name): where a harness's cgroup exists. Tests
// check with it that nothing is left.
func Dirs(name string) []string {
	ms, _ := CgroupMounts()
	var dirs []string
	for _, m := range ms {
		d := filepath.Join(m.Dir, name)
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// treeDirs lists root and every cgroup below it, deepest first, the order
// in which rmdir can remove them.
func treeDirs(root string) []string {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.SliceStable(dirs, func(i, j int) bool {
		return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/")
	})
	return dirs
}

// procsIn lists the processes in the cgroup trees under roots, each once.
func procsIn(roots []string) []int {
	seen := map[int]bool{}
	var pids []int
	for _, r := range roots {
		for _, d := range treeDirs(r) {
			b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
		}
	}
	return pids
}

// rmdirTree removes the cgroup tree at root depth first and returns what it
// could not remove. Directories already gone are fine.
func rmdirTree(root string) []string {
	var left []string
	for _, d := range treeDirs(root) {
		if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
			left = append(left, fmt.Sprintf("%s (%v)", d, err))
		}
	}
	return left
}

// Alive says whether a process with this PID exists. The harnesses record
// who owns what they make by PID; what belongs to a process that is gone is
// stale. PIDs of 0 and below are never alive (kill(0) would ask about the
// caller's process group).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
