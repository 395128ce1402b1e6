package nspawn

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupMount is one mounted cgroup hierarchy.
type cgroupMount struct {
	dir    string // e.g. /sys/fs/cgroup/systemd
	fstype string // cgroup or cgroup2
	opts   string // super options, e.g. rw,name=systemd
}

// mountInfo is one line of /proc/self/mountinfo, the fields used here.
type mountInfo struct {
	point  string // mount point, unescaped
	fstype string
	opts   string // super options
}

// mounts lists the mounts of the test's mount namespace.
func mounts() ([]mountInfo, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []mountInfo
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// 40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, postFields := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(postFields) < 3 {
			continue
		}
		ms = append(ms, mountInfo{point: unescapeMount(fields[4]), fstype: postFields[0], opts: postFields[2]})
	}
	return ms, sc.Err()
}

// unescapeMount undoes the octal escapes (\040 for a space…) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountsBelow lists the mount points at or below dir in the test's mount
// namespace. Nothing of this package mounts there (every mount happens in a
// private namespace); a non-empty answer means something else did, and
// such a directory is not removed.
func mountsBelow(dir string) []string {
	ms, err := mounts()
	if err != nil {
		return []string{fmt.Sprintf("(reading /proc/self/mountinfo: %v)", err)}
	}
	var below []string
	for _, m := range ms {
		if under(m.point, dir) {
			below = append(below, m.point)
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

// cgroupMounts lists the cgroup hierarchies mounted in the test's mount
// namespace.
func cgroupMounts() ([]cgroupMount, error) {
	ms, err := mounts()
	if err != nil {
		return nil, err
	}
	var cms []cgroupMount
	seen := map[string]bool{}
	for _, m := range ms {
		if (m.fstype == "cgroup" || m.fstype == "cgroup2") && !seen[m.point] {
			seen[m.point] = true
			cms = append(cms, cgroupMount{dir: m.point, fstype: m.fstype, opts: m.opts})
		}
	}
	return cms, nil
}

// checkHybridLayout reports an error unless name=systemd is mounted at
// /sys/fs/cgroup/systemd and cgroup2 at /sys/fs/cgroup/unified, the layout
// bootScript relies on.
func checkHybridLayout() error {
	ms, err := cgroupMounts()
	if err != nil {
		return fmt.Errorf("reading the cgroup mounts: %w", err)
	}
	return hybrid(ms)
}

// hybrid is checkHybridLayout on a list of mounts.
func hybrid(ms []cgroupMount) error {
	var named, unified bool
	for _, m := range ms {
		switch {
		case m.dir == "/sys/fs/cgroup/systemd" && m.fstype == "cgroup" && hasOpt(m.opts, "name=systemd"):
			named = true
		case m.dir == "/sys/fs/cgroup/unified" && m.fstype == "cgroup2":
			unified = true
		}
	}
	if !named || !unified {
		return errors.New("needs the hybrid cgroup layout (name=systemd at /sys/fs/cgroup/systemd, cgroup2 at /sys/fs/cgroup/unified), as on the Debian 12 test machines where systemd is not PID 1")
	}
	return nil
}

func hasOpt(opts, opt string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// procCgroups returns the cgroup paths of a process, keyed by the
// controller field of /proc/PID/cgroup ("name=systemd", "" for cgroup2…).
func procCgroups(pid int) (map[string]string, error) {
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

// under says whether path is root or below it.
func under(path, root string) bool {
	return path == root || strings.HasPrefix(path, strings.TrimSuffix(root, "/")+"/")
}

// inCgroup says whether pid is under root in both name=systemd and cgroup2.
func inCgroup(pid int, root string) bool {
	paths, err := procCgroups(pid)
	return err == nil && under(paths["name=systemd"], root) && under(paths[""], root)
}

// inCgroupAny says whether pid is under root in any hierarchy.
func inCgroupAny(pid int, root string) bool {
	paths, err := procCgroups(pid)
	if err != nil {
		return false
	}
	for _, p := range paths {
		if under(p, root) {
			return true
		}
	}
	return false
}

// cgroupDirs lists the directories named name at the top of every cgroup
// hierarchy (/sys/fs/cgroup/*/name).
func cgroupDirs(name string) []string {
	ms, _ := cgroupMounts()
	var dirs []string
	for _, m := range ms {
		d := filepath.Join(m.dir, name)
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// treeDirs lists root and every cgroup below it, deepest first.
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

// procsIn lists the processes in the cgroup trees under roots.
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

// killIn sends SIGKILL to pid if it is under root in some hierarchy, and
// logs it the first time (signalled remembers). The check is made after
// taking a pidfd (os.FindProcess), so a PID reused meanwhile by another
// process is not signalled.
func killIn(pid int, root string, signalled map[int]bool, logf func(string, ...any)) {
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
		logf("nspawn: SIGKILL to pid %d (%s), left in %s", pid, strings.TrimSpace(string(comm)), root)
	}
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

// removeCgroupTree SIGKILLs whatever is left in the cgroup /name, in every
// hierarchy, and removes those trees depth first.
func removeCgroupTree(name string, logf func(string, ...any)) error {
	roots := cgroupDirs(name)
	if len(roots) == 0 {
		return nil
	}
	signalled := map[int]bool{}
	deadline := time.Now().Add(killTimeout)
	for {
		pids := procsIn(roots)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v are still in /%s %v after SIGKILL", pids, name, killTimeout)
		}
		for _, pid := range pids {
			killIn(pid, "/"+name, signalled, logf)
		}
		time.Sleep(20 * time.Millisecond)
	}
	deadline = time.Now().Add(killTimeout)
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

// alive says whether a process with this PID exists.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
