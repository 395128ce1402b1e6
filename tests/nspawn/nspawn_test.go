package nspawn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/confine"
)

// TestBoot boots one container and checks it from inside and outside: a
// running system manager, the system bus, transient scopes, journald, bind
// mounts, the loopback, and a clean teardown that leaves PID 1 alone.
func TestBoot(t *testing.T) {
	pid1Before := readFile(t, "/proc/1/cgroup")
	selfBefore := readFile(t, "/proc/self/cgroup")
	roDir, rwDir := t.TempDir(), t.TempDir()
	token := randomToken(t)
	if err := os.WriteFile(filepath.Join(roDir, "hello"), []byte(token), 0o644); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	m := Boot(t, Options{Binds: []Bind{
		{Host: roDir, Container: "/mnt/ro", ReadOnly: true},
		{Host: rwDir, Container: "/mnt/rw"},
	}})
	t.Logf("Boot returned after %v", time.Since(start).Round(time.Millisecond))
	if got := readFile(t, "/proc/1/cgroup"); got != pid1Before {
		t.Fatalf("PID 1 moved when the container booted:\ngot:\n%swant:\n%s", got, pid1Before)
	}
	if got := readFile(t, "/proc/self/cgroup"); got != selfBefore {
		t.Fatalf("the test process moved when the container booted:\ngot:\n%swant:\n%s", got, selfBefore)
	}

	t.Run("running", func(t *testing.T) {
		if got := strings.TrimSpace(m.MustExec(t, "systemctl", "is-system-running")); got != "running" {
			out, _ := m.Exec("systemctl", "--failed", "--no-pager")
			t.Errorf("is-system-running = %q, want running; failed units:\n%s", got, out)
		}
		if got := strings.TrimSpace(m.MustExec(t, "hostname")); got != m.Name() {
			t.Errorf("hostname = %q, want %q", got, m.Name())
		}
		if id := strings.TrimSpace(m.MustExec(t, "cat", "/etc/machine-id")); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
			t.Errorf("machine-id = %q, want 32 hex digits", id)
		}
		if got := strings.TrimSpace(m.MustExec(t, "systemd-detect-virt")); got != "systemd-nspawn" {
			t.Errorf("systemd-detect-virt = %q, want systemd-nspawn", got)
		}
		if got := strings.TrimSpace(m.MustExec(t, "stat", "-f", "-c", "%T", "/sys/fs/cgroup")); got != "cgroup2fs" {
			t.Errorf("/sys/fs/cgroup inside is %q, want cgroup2fs (the unified layout)", got)
		}
		if comm := strings.TrimSpace(readFile(t, fmt.Sprintf("/proc/%d/comm", m.Leader()))); comm != "systemd" {
			t.Errorf("Leader %d is %q, want systemd", m.Leader(), comm)
		}
		if got := strings.TrimSpace(m.Shell(t, "echo $PATH")); got != ContainerPath {
			t.Errorf("PATH = %q, want %q", got, ContainerPath)
		}
	})

	t.Run("system bus", func(t *testing.T) {
		out := m.MustExec(t, "busctl", "list", "--no-pager")
		if !strings.Contains(out, "org.freedesktop.systemd1") {
			t.Errorf("busctl list lacks org.freedesktop.systemd1:\n%s", out)
		}
		out = m.MustExec(t, "busctl", "get-property", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
			"org.freedesktop.systemd1.Manager", "SystemState")
		if strings.TrimSpace(out) != `s "running"` {
			t.Errorf("SystemState over the bus = %q, want s \"running\"", strings.TrimSpace(out))
		}
	})

	t.Run("scope with systemd-run", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			out, err := m.ExecContext(ctx, "systemd-run", "--scope", "--unit=probe", "sleep", "30")
			if err != nil {
				err = fmt.Errorf("%w: %s", err, out)
			}
			done <- err
		}()
		waitUnit(t, m, "probe.scope", "ActiveState", "active")
		if cg := strings.TrimSpace(m.MustExec(t, "systemctl", "show", "-p", "ControlGroup", "--value", "probe.scope")); cg != "/system.slice/probe.scope" {
			t.Errorf("ControlGroup = %q, want /system.slice/probe.scope", cg)
		}
		m.MustExec(t, "systemctl", "stop", "probe.scope")
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("systemd-run sleep 30 exited 0 after the scope was stopped, want killed")
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("systemd-run still runs 10 s after systemctl stop probe.scope")
		}
	})

	t.Run("StartTransientUnit over the bus", func(t *testing.T) {
		// A process of the container's PID namespace, left running by Exec.
		pid := strings.TrimSpace(m.Shell(t, "sleep 60 </dev/null >/dev/null 2>&1 & echo $!"))
		out := m.MustExec(t, "busctl", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
			"org.freedesktop.systemd1.Manager", "StartTransientUnit", "ssa(sv)a(sa(sv))",
			"gwprobe.scope", "fail", "2", "PIDs", "au", "1", pid, "Description", "s", "nspawn probe", "0")
		if !strings.HasPrefix(out, "o \"/org/freedesktop/systemd1/job/") {
			t.Errorf("StartTransientUnit returned %q, want a job path", out)
		}
		waitUnit(t, m, "gwprobe.scope", "ActiveState", "active")
		hostPID := hostPIDOf(t, m, pid)
		paths, err := confine.ProcCgroups(hostPID)
		if err != nil {
			t.Fatal(err)
		}
		if want := m.CgroupRoot() + "/payload/system.slice/gwprobe.scope"; paths[""] != want {
			t.Errorf("sleep (host pid %d) is in %q of cgroup2, want %q", hostPID, paths[""], want)
		}
		m.MustExec(t, "systemctl", "stop", "gwprobe.scope")
		deadline := time.Now().Add(5 * time.Second)
		for confine.Alive(hostPID) {
			if time.Now().After(deadline) {
				t.Fatalf("sleep (pid %s inside, %d on the host) still there 5 s after the scope was stopped", pid, hostPID)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("journal", func(t *testing.T) {
		m.MustExec(t, "logger", "-t", "gwnspawn-logger", "logger says "+token)
		m.Shell(t, "echo 'systemd-cat says "+token+"' | systemd-cat -t gwnspawn-cat -p warning")
		m.WaitJournal(t, "logger says "+token, 10*time.Second, "-t", "gwnspawn-logger")
		out := m.WaitJournal(t, "systemd-cat says "+token, 10*time.Second, "-t", "gwnspawn-cat", "-o", "verbose")
		if !strings.Contains(out, "PRIORITY=4") {
			t.Errorf("systemd-cat -p warning entry lacks PRIORITY=4:\n%s", out)
		}
		if out := m.Journal(t, "-b", "-u", "dbus.service"); !strings.Contains(out, "dbus") {
			t.Errorf("journalctl -u dbus.service has nothing of dbus:\n%s", out)
		}
	})

	t.Run("binds", func(t *testing.T) {
		if got := m.MustExec(t, "cat", "/mnt/ro/hello"); got != token {
			t.Errorf("/mnt/ro/hello inside = %q, want %q", got, token)
		}
		if out, err := m.Exec("touch", "/mnt/ro/new"); err == nil {
			t.Errorf("touch in the read-only bind succeeded: %s", out)
		}
		m.Shell(t, "echo written inside > /mnt/rw/out")
		if got := readFile(t, filepath.Join(rwDir, "out")); got != "written inside\n" {
			t.Errorf("host sees %q in the writable bind, want %q", got, "written inside\n")
		}
		if _, err := os.Stat(filepath.Join(m.Root(), "mnt", "ro", "hello")); err == nil {
			t.Errorf("the bind mount is visible under Root() on the host")
		}
	})

	t.Run("WriteFile", func(t *testing.T) {
		m.WriteFile(t, "/etc/gwprobe/probe.conf", []byte(token), 0o640)
		if got := m.MustExec(t, "stat", "-c", "%a %U %s", "/etc/gwprobe/probe.conf"); strings.TrimSpace(got) != fmt.Sprintf("640 root %d", len(token)) {
			t.Errorf("stat = %q, want 640 root %d", strings.TrimSpace(got), len(token))
		}
		m.WriteFile(t, "/etc/gwprobe/probe.conf", []byte("again"), 0o600)
		if got := m.MustExec(t, "stat", "-c", "%a", "/etc/gwprobe/probe.conf"); strings.TrimSpace(got) != "600" {
			t.Errorf("mode after rewrite = %q, want 600", strings.TrimSpace(got))
		}
		// An absolute link inside points into the host when followed there.
		m.MustExec(t, "ln", "-s", "/tmp", "/var/gwprobe-link")
		if err := m.writeFile("/var/gwprobe-link/gwnspawn-escape-"+token, []byte("x"), 0o644); err == nil {
			t.Errorf("writeFile followed an absolute symbolic link")
		}
		if _, err := os.Stat("/tmp/gwnspawn-escape-" + token); err == nil {
			_ = os.Remove("/tmp/gwnspawn-escape-" + token)
			t.Errorf("writeFile wrote to the host's /tmp")
		}
		if err := m.writeFile("relative", nil, 0o644); err == nil {
			t.Errorf("writeFile accepted a relative path")
		}
	})

	t.Run("loopback", func(t *testing.T) {
		if out := strings.Fields(m.MustExec(t, "ls", "/sys/class/net")); len(out) != 1 || out[0] != "lo" {
			t.Errorf("network interfaces inside = %v, want [lo]", out)
		}
		m.WriteFile(t, "/usr/local/bin/gwprobe-http", []byte(`#!/bin/bash
# One HTTP/1.0 answer on the socket systemd passed as stdin.
read -r request
while IFS= read -r header && [ -n "${header%$'\r'}" ]; do :; done
body="hello from $(hostname)"
printf 'HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s' "${#body}" "$body"
`), 0o755)
		m.WriteFile(t, "/etc/systemd/system/gwprobe-http.socket", []byte("[Socket]\nListenStream=127.0.0.1:8080\nAccept=yes\n"), 0o644)
		m.WriteFile(t, "/etc/systemd/system/gwprobe-http@.service", []byte("[Service]\nExecStart=/usr/local/bin/gwprobe-http\nStandardInput=socket\nStandardOutput=socket\nStandardError=journal\n"), 0o644)
		m.MustExec(t, "systemctl", "daemon-reload")
		m.MustExec(t, "systemctl", "start", "gwprobe-http.socket")
		if got := m.MustExec(t, "curl", "-sS", "--max-time", "10", "http://127.0.0.1:8080/"); got != "hello from "+m.Name() {
			t.Errorf("curl inside = %q, want %q", got, "hello from "+m.Name())
		}
		if out, err := m.Exec("curl", "-sS", "--max-time", "2", "http://127.0.0.1:8081/"); err == nil {
			t.Errorf("curl to a closed port succeeded: %s", out)
		}
	})

	t.Run("Exec", func(t *testing.T) {
		out, err := m.Exec("sh", "-c", "echo out; echo err >&2; exit 3")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Errorf("exit status: err = %v, want exit status 3", err)
		}
		if out != "out\nerr\n" {
			t.Errorf("combined output = %q, want %q", out, "out\nerr\n")
		}
		// A background process keeping stdout open does not hold Exec.
		begin := time.Now()
		m.Shell(t, "sleep 20 & echo started")
		if d := time.Since(begin); d > 5*time.Second {
			t.Errorf("Exec with a background child took %v", d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		begin = time.Now()
		if _, err := m.ExecContext(ctx, "sleep", "30"); err == nil {
			t.Errorf("ExecContext outlived its context without an error")
		}
		if d := time.Since(begin); d > 5*time.Second {
			t.Errorf("ExecContext returned %v after its context ended", d)
		}
	})

	nspawnPID, leader, root, dir := m.NspawnPID(), m.Leader(), m.CgroupRoot(), filepath.Dir(m.Root())
	begin := time.Now()
	m.Stop()
	m.Stop() // idempotent
	teardown := time.Since(begin)
	t.Logf("teardown took %v", teardown.Round(time.Millisecond))
	if teardown > 8*time.Second {
		// systemd-shutdown waits 10 s for processes of the container that
		// do not die, such as a zombie whose parent is outside.
		t.Errorf("teardown took %v, want well under the 10 s systemd-shutdown waits for stragglers", teardown)
	}
	checkGone(t, nspawnPID, leader, root, dir)
	if _, err := m.Exec("true"); !errors.Is(err, ErrStopped) {
		t.Errorf("Exec after Stop: %v, want ErrStopped", err)
	}
	if c := m.Console(); !strings.Contains(c, "Powering off") && !strings.Contains(c, "has been shut down") {
		t.Logf("note: the console log does not show a poweroff")
	}
	if got := readFile(t, "/proc/1/cgroup"); got != pid1Before {
		t.Errorf("PID 1 moved:\ngot:\n%swant:\n%s", got, pid1Before)
	}
}

// TestBootHybrid boots with the host's hybrid cgroup layout and checks that
// scopes work there too.
func TestBootHybrid(t *testing.T) {
	pid1Before := readFile(t, "/proc/1/cgroup")
	m := Boot(t, Options{HybridCgroups: true})
	if got := strings.TrimSpace(m.MustExec(t, "stat", "-f", "-c", "%T", "/sys/fs/cgroup/systemd")); got != "cgroupfs" {
		t.Errorf("/sys/fs/cgroup/systemd inside is %q, want cgroupfs (name=systemd)", got)
	}
	if state := strings.TrimSpace(m.MustExec(t, "systemctl", "is-system-running")); state != "running" {
		out, _ := m.Exec("systemctl", "--failed", "--no-pager")
		t.Errorf("is-system-running = %q, want running; failed units:\n%s", state, out)
	}
	pid := strings.TrimSpace(m.Shell(t, "sleep 60 </dev/null >/dev/null 2>&1 & echo $!"))
	m.MustExec(t, "busctl", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
		"org.freedesktop.systemd1.Manager", "StartTransientUnit", "ssa(sv)a(sa(sv))",
		"gwprobe.scope", "fail", "1", "PIDs", "au", "1", pid, "0")
	waitUnit(t, m, "gwprobe.scope", "ActiveState", "active")
	paths, err := confine.ProcCgroups(hostPIDOf(t, m, pid))
	if err != nil {
		t.Fatal(err)
	}
	want := m.CgroupRoot() + "/payload/system.slice/gwprobe.scope"
	if paths["name=systemd"] != want || paths[""] != want {
		t.Errorf("sleep is in %v, want %s in name=systemd and cgroup2", paths, want)
	}
	nspawnPID, leader, root, dir := m.NspawnPID(), m.Leader(), m.CgroupRoot(), filepath.Dir(m.Root())
	m.Stop()
	checkGone(t, nspawnPID, leader, root, dir)
	if got := readFile(t, "/proc/1/cgroup"); got != pid1Before {
		t.Errorf("PID 1 moved:\ngot:\n%swant:\n%s", got, pid1Before)
	}
}

// TestConcurrentBoots boots two containers at once, as tests of several
// packages may under go test ./...: distinct names, cgroups and roots, and
// nothing left of either.
func TestConcurrentBoots(t *testing.T) {
	type boot struct {
		name, cgroup, dir string
		nspawn, leader    int
	}
	boots := make(chan boot, 2)
	t.Run("group", func(t *testing.T) {
		for i := range 2 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				m := Boot(t, Options{})
				if got := strings.TrimSpace(m.MustExec(t, "hostname")); got != m.Name() {
					t.Errorf("hostname = %q, want %q", got, m.Name())
				}
				m.WriteFile(t, "/etc/gwprobe", []byte(m.Name()), 0o644)
				if got := m.MustExec(t, "cat", "/etc/gwprobe"); got != m.Name() {
					t.Errorf("/etc/gwprobe = %q, want %q", got, m.Name())
				}
				boots <- boot{m.Name(), m.CgroupRoot(), filepath.Dir(m.Root()), m.NspawnPID(), m.Leader()}
			})
		}
	})
	close(boots)
	seen := map[string]bool{}
	for b := range boots {
		for _, k := range []string{b.name, b.cgroup, b.dir} {
			if seen[k] {
				t.Errorf("%s used by both containers", k)
			}
			seen[k] = true
		}
		checkGone(t, b.nspawn, b.leader, b.cgroup, b.dir)
	}
	if len(seen) == 0 {
		t.Skip("no container booted")
	}
}

// TestScriptRefusesSharedMountNamespace runs the boot script without
// unshare: it must move into its cgroup, notice that its mount namespace is
// the test's, and exit 97 without starting anything.
func TestScriptRefusesSharedMountNamespace(t *testing.T) {
	if reason := missingRequirement(); reason != "" {
		t.Skip(reason)
	}
	// In a private mount namespace all the same, which the script is told
	// is its parent's: were the check broken, the tmpfs on /run would stay
	// there, and systemd-nspawn --version starts nothing.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "bash", "-c",
		`exec bash -c "$1" gwnspawn "$(readlink /proc/self/ns/mnt)" --version`, "gwtest", bootScript)
	cmd.Env = nspawnEnv(false)
	out, err := cmd.CombinedOutput()
	name := cgroupPrefix + strconv.Itoa(cmd.Process.Pid)
	defer func() {
		if err := harness.Remove(cmd.Process.Pid, t.Logf); err != nil {
			t.Error(err)
		}
	}()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 97 {
		t.Fatalf("the script ended with %v, want exit status 97:\n%s", err, out)
	}
	if !strings.Contains(string(out), "no private mount namespace") || strings.Contains(string(out), "systemd 252") {
		t.Errorf("unexpected output:\n%s", out)
	}
	if dirs := confine.Dirs(name); len(dirs) != 2 {
		t.Errorf("the script made %v, want its cgroup in both hierarchies", dirs)
	}
}

// TestSweepStale leaves what a dead test process would and checks that
// the next sweep removes it, and nothing of a live one.
func TestSweepStale(t *testing.T) {
	if reason := missingRequirement(); reason != "" {
		t.Skip(reason)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := dead.Process.Pid
	if confine.Alive(deadPID) {
		t.Skipf("pid %d was reused already", deadPID)
	}
	name := cgroupPrefix + strconv.Itoa(deadPID)
	for _, h := range []string{"systemd", "unified"} {
		if err := os.MkdirAll(filepath.Join("/sys/fs/cgroup", h, name, "payload"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = harness.Remove(deadPID, t.Logf) })
	staleDir, err := os.MkdirTemp(bootDirParent, bootDirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	liveDir, err := os.MkdirTemp(bootDirParent, bootDirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(staleDir); _ = os.RemoveAll(liveDir) })
	for dir, owner := range map[string]string{staleDir: fmt.Sprintf("%d 0\n", deadPID), liveDir: fmt.Sprintf("%d 0\n", os.Getpid())} {
		if err := os.MkdirAll(filepath.Join(dir, "root", "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// An overlayfs on the stale root, as makeRoot mounts it.
	for _, d := range []string{"lower", "upper", "work", "root"} {
		if err := os.MkdirAll(filepath.Join(staleDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%[1]s/lower,upperdir=%[1]s/upper,workdir=%[1]s/work", staleDir)
	if err := syscall.Mount("overlay", filepath.Join(staleDir, "root"), "overlay", 0, opts); err != nil {
		t.Fatalf("mounting an overlayfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(filepath.Join(staleDir, "root"), syscall.MNT_DETACH) })
	sweepStale(t)
	if below := mountsBelow(staleDir); len(below) > 0 {
		t.Errorf("the stale overlayfs is still mounted: %v", below)
	}
	if dirs := confine.Dirs(name); len(dirs) > 0 {
		t.Errorf("stale cgroups left: %v", dirs)
	}
	if _, err := os.Stat(staleDir); !os.IsNotExist(err) {
		t.Errorf("stale boot directory %s left (%v)", staleDir, err)
	}
	if _, err := os.Stat(liveDir); err != nil {
		t.Errorf("the live boot directory is gone: %v", err)
	}
}

// TestMakeRootCopies checks the fallback of makeRoot where overlayfs is
// refused: a copy of the cached tree.
func TestMakeRootCopies(t *testing.T) {
	cache := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cache, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, "etc", "os-release"), []byte("ID=debian\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../usr/lib", filepath.Join(cache, "lib")); err != nil {
		t.Fatal(err)
	}
	saved := mountOverlay
	mountOverlay = func(string, string) error { return syscall.EPERM }
	defer func() { mountOverlay = saved }()
	dir := t.TempDir()
	m := &Machine{t: t, dir: dir, root: filepath.Join(dir, "root")}
	how, err := m.makeRoot(cache)
	if err != nil {
		t.Fatal(err)
	}
	if how != "a copy" || m.overlay {
		t.Errorf("makeRoot = %q, overlay %v; want a copy", how, m.overlay)
	}
	if got := readFile(t, filepath.Join(m.root, "etc", "os-release")); got != "ID=debian\n" {
		t.Errorf("copied os-release = %q", got)
	}
	if l, err := os.Readlink(filepath.Join(m.root, "lib")); err != nil || l != "../usr/lib" {
		t.Errorf("copied lib link = %q, %v; want ../usr/lib", l, err)
	}
	if err := m.writeFile("/etc/new", []byte("x"), 0o600); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(cache, "etc", "new")); err == nil {
		t.Errorf("writing to the copy changed the cache")
	}
}

// TestRequirements checks what Boot says when something is missing, on a
// fake host: a reason to skip (or fail) that names what to install.
func TestRequirements(t *testing.T) {
	complete := func() host {
		return host{euid: 0, lookPath: func(string) error { return nil }, layout: func() error { return nil }}
	}
	missing := func(tool string) func(*host) {
		return func(h *host) {
			h.lookPath = func(n string) error {
				if n == tool {
					return os.ErrNotExist
				}
				return nil
			}
		}
	}
	tests := []struct {
		name   string
		change func(*host)
		want   []string // substrings of the reason; none: no reason
	}{
		{"complete", func(*host) {}, nil},
		{"not root", func(h *host) { h.euid = 1000 }, []string{"root"}},
		{"no systemd-nspawn", missing("systemd-nspawn"), []string{"systemd-nspawn", "systemd-container", Packages}},
		{"no debootstrap", missing("debootstrap"), []string{"debootstrap", Packages}},
		{"no nsenter", missing("nsenter"), []string{"nsenter", "util-linux"}},
		{"cgroup2 only", func(h *host) {
			h.layout = func() error {
				return confine.Hybrid([]confine.CgroupMount{{Dir: "/sys/fs/cgroup", FSType: "cgroup2", Opts: "rw"}})
			}
		}, []string{"hybrid cgroup layout"}},
		{"hybrid", func(h *host) {
			h.layout = func() error {
				return confine.Hybrid([]confine.CgroupMount{
					{Dir: "/sys/fs/cgroup/systemd", FSType: "cgroup", Opts: "rw,nosuid,name=systemd"},
					{Dir: "/sys/fs/cgroup/unified", FSType: "cgroup2", Opts: "rw"},
				})
			}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := complete()
			tt.change(&h)
			got := h.missing()
			if tt.want == nil && got != "" {
				t.Errorf("got %q, want no reason", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want it to contain %q", got, w)
				}
			}
		})
	}
}

// TestCacheKey checks that the cache key depends on the set of packages
// only, and that package names are checked.
func TestCacheKey(t *testing.T) {
	key := func(extra ...string) string {
		t.Helper()
		pkgs, err := packageList(extra)
		if err != nil {
			t.Fatal(err)
		}
		return cacheKey(pkgs)
	}
	base := key()
	if !regexp.MustCompile(`^rootfs-bookworm-[0-9a-f]{16}$`).MatchString(base) {
		t.Errorf("key %q, want rootfs-bookworm-HEX", base)
	}
	if got := key("systemd", "curl"); got != base {
		t.Errorf("base packages as extras changed the key: %q, want %q", got, base)
	}
	if a, b := key("python3", "socat"), key("socat", "python3", "socat"); a != b {
		t.Errorf("order or duplicates changed the key: %q != %q", a, b)
	}
	if a := key("python3"); a == base {
		t.Errorf("an extra package did not change the key")
	}
	for _, bad := range []string{"", "a", "Python3", "foo,bar", "--foo", "x y"} {
		if _, err := packageList([]string{bad}); err == nil {
			t.Errorf("packageList accepted %q", bad)
		}
	}
}

// TestNspawnArgs checks the bind options and their validation.
func TestNspawnArgs(t *testing.T) {
	dir := t.TempDir()
	args, err := nspawnArgs("/r", "gw-1-1", []Bind{{Host: dir, Container: "/a"}, {Host: dir + "/", Container: "/b/", ReadOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(args, " ")
	for _, want := range []string{"--directory=/r", "--machine=gw-1-1", "--boot", "--register=no", "--keep-unit",
		"--private-network", "--console=read-only", "--bind=" + dir + ":/a", "--bind-ro=" + dir + ":/b"} {
		if !strings.Contains(joined, want) {
			t.Errorf("args %q lack %q", joined, want)
		}
	}
	for _, b := range []Bind{
		{Host: "relative", Container: "/a"},
		{Host: dir, Container: "a"},
		{Host: dir, Container: "/a:b"},
		{Host: dir + "/missing", Container: "/a"},
	} {
		if _, err := nspawnArgs("/r", "n", []Bind{b}); err == nil {
			t.Errorf("bind %+v accepted", b)
		}
	}
}

// waitUnit polls a unit property inside until it has the wanted value.
func waitUnit(t *testing.T, m *Machine, unit, prop, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := m.Exec("systemctl", "show", "-p", prop, "--value", unit)
		if err == nil && strings.TrimSpace(out) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s = %q (%v) after 10 s, want %q", unit, prop, strings.TrimSpace(out), err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hostPIDOf maps a PID of the container's PID namespace to the host's,
// through NSpid in /proc/PID/status of the container's processes.
func hostPIDOf(t *testing.T, m *Machine, inside string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(strings.TrimPrefix(line, "NSpid:")); strings.HasPrefix(line, "NSpid:") && len(f) == 2 && f[1] == inside {
				ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
				leaderNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", m.Leader()))
				if ns == leaderNS {
					return pid
				}
			}
		}
	}
	t.Fatalf("no host process is pid %s in the container", inside)
	return 0
}

// checkGone verifies that a machine left nothing behind: no process, no
// cgroup, no boot directory.
func checkGone(t *testing.T, nspawnPID, leader int, cgroupRoot, dir string) {
	t.Helper()
	for _, p := range []struct {
		pid  int
		comm string
	}{{nspawnPID, "systemd-nspawn"}, {leader, "systemd"}} {
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.pid)); err == nil && strings.TrimSpace(string(comm)) == p.comm {
			t.Errorf("%s (pid %d) still there", p.comm, p.pid)
		}
	}
	if dirs := confine.Dirs(strings.TrimPrefix(cgroupRoot, "/")); len(dirs) > 0 {
		t.Errorf("cgroups left behind: %v", dirs)
	}
	if below := mountsBelow(dir); len(below) > 0 {
		t.Errorf("mounts left behind: %v", below)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("boot directory %s left behind (%v)", dir, err)
	}
	if err := syscall.Kill(nspawnPID, 0); err == nil {
		t.Logf("note: pid %d exists again (reused)", nspawnPID)
	}
}

func randomToken(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
