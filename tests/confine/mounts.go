package confine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Mount is one line of /proc/self/mountinfo, the fields the harnesses use.
type Mount struct {
	Point  string // mount point, unescaped
	FSType string // e.g. cgroup, cgroup2, overlay
	Opts   string // super options, e.g. rw,name=systemd
}

// Mounts lists the mounts of the test's mount namespace. The harnesses
// mount only in private namespaces (and nspawn its overlayfs roots), so
// this is what they look at to find the cgroup hierarchies and to make sure
// nothing is mounted where they remove files. On a read error it returns
// what it read so far with the error.
func Mounts() ([]Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []Mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20) // overlayfs options make long lines
	for sc.Scan() {
		// 40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, postFields := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(postFields) < 3 {
			continue
		}
		ms = append(ms, Mount{Point: unescapeMount(fields[4]), FSType: postFields[0], Opts: postFields[2]})
	}
	return ms, sc.Err()
}

// unescapeMount undoes the octal escapes (\040 for a space…) of mountinfo,
// so that mount points compare equal to the paths the harnesses made.
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

// CgroupMount is one mounted cgroup hierarchy.
type CgroupMount struct {
	Dir    string // e.g. /sys/fs/cgroup/systemd
	FSType string // cgroup or cgroup2
	Opts   string // super options, e.g. rw,name=systemd
}

// CgroupMounts lists the cgroup hierarchies mounted in the test's mount
// namespace, each once: a harness's cgroup is made at the top of each of
// them, and teardown must look in all. On a read error it returns what it
// found so far with the error, so that teardown still removes what it can.
func CgroupMounts() ([]CgroupMount, error) {
	ms, err := Mounts()
	var cms []CgroupMount
	seen := map[string]bool{}
	for _, m := range ms {
		if (m.FSType == "cgroup" || m.FSType == "cgroup2") && !seen[m.Point] {
			seen[m.Point] = true
			cms = append(cms, CgroupMount{Dir: m.Point, FSType: m.FSType, Opts: m.Opts})
		}
	}
	return cms, err
}

// CheckHybrid reports an error unless name=systemd is mounted at
// /sys/fs/cgroup/systemd and cgroup2 at /sys/fs/cgroup/unified: the
// harnesses' scripts move themselves into those two hierarchies before
// anything else, and would not be confined on another layout.
func CheckHybrid() error {
	ms, err := CgroupMounts()
	if err != nil {
		return fmt.Errorf("reading the cgroup mounts: %w", err)
	}
	return Hybrid(ms)
}

// Hybrid is CheckHybrid on a list of mounts, for tests of the harnesses'
// requirement checks.
func Hybrid(ms []CgroupMount) error {
	var named, unified bool
	for _, m := range ms {
		switch {
		case m.Dir == "/sys/fs/cgroup/systemd" && m.FSType == "cgroup" && hasOpt(m.Opts, "name=systemd"):
			named = true
		case m.Dir == "/sys/fs/cgroup/unified" && m.FSType == "cgroup2":
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
