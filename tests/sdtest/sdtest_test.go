package sdtest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/confine"
)

// TestManager runs the harness against a real manager: systemctl and busctl
// from outside, a transient scope, socket activation, and a clean teardown.
func TestManager(t *testing.T) {
	pid1Before := readFile(t, "/proc/1/cgroup")
	selfBefore := readFile(t, "/proc/self/cgroup")

	m := Start(t)
	if got := readFile(t, "/proc/1/cgroup"); got != pid1Before {
		t.Fatalf("PID 1 moved when the manager started:\ngot:\n%swant:\n%s", got, pid1Before)
	}
	if got := readFile(t, "/proc/self/cgroup"); got != selfBefore {
		t.Fatalf("the test process moved when the manager started:\ngot:\n%swant:\n%s", got, selfBefore)
	}

	t.Run("status", func(t *testing.T) {
		out := m.MustSystemctl(t, "status")
		if !strings.Contains(out, "CGroup: "+m.CgroupRoot()) {
			t.Errorf("systemctl --user status does not show CGroup: %s:\n%s", m.CgroupRoot(), out)
		}
		if got := strings.TrimSpace(m.MustSystemctl(t, "show", "-p", "ControlGroup", "--value", "init.scope")); got != m.CgroupRoot()+"/init.scope" {
			t.Errorf("init.scope ControlGroup = %q, want %q", got, m.CgroupRoot()+"/init.scope")
		}
		out, err := m.Busctl("list")
		if err != nil || !strings.Contains(out, "org.freedesktop.DBus") {
			t.Errorf("busctl --user list: %v\n%s", err, out)
		}
		for _, e := range m.Env() {
			if !strings.HasPrefix(e, "XDG_RUNTIME_DIR="+m.RuntimeDir()) && e != "DBUS_SESSION_BUS_ADDRESS=unix:path="+m.RuntimeDir()+"/bus" {
				t.Errorf("unexpected Env entry %q", e)
			}
		}
		if fi, err := os.Stat(m.RuntimeDir()); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != 0o700 {
			t.Errorf("runtime dir %s has mode %v, want 0700", m.RuntimeDir(), fi.Mode().Perm())
		}
	})

	t.Run("scope", func(t *testing.T) {
		cmd := m.Command("systemd-run", "--user", "--scope", "--unit=gwtest-probe", "sleep", "30")
		out, err := os.Create(filepath.Join(t.TempDir(), "systemd-run.out"))
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		cmd.Stdout, cmd.Stderr = out, out // a file: no copying goroutine that sleep would keep alive
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var waitErr error
		done := make(chan struct{}) // closed once systemd-run (then sleep) is reaped
		go func() { waitErr = cmd.Wait(); close(done) }()
		defer func() {
			select {
			case <-done:
			default:
				_ = cmd.Process.Kill()
				<-done
			}
		}()

		cg := waitProperty(t, m, "gwtest-probe.scope", "ControlGroup", func(v string) bool { return v != "" })
		t.Logf("gwtest-probe.scope ControlGroup=%s", cg)
		if !strings.HasPrefix(cg, m.CgroupRoot()+"/") {
			t.Errorf("scope ControlGroup = %q, want it under %s/", cg, m.CgroupRoot())
		}
		if want := m.CgroupRoot() + "/app.slice/gwtest-probe.scope"; cg != want {
			t.Logf("note: scope is at %q, not %q", cg, want)
		}
		paths, err := confine.ProcCgroups(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if paths["name=systemd"] != cg || paths[""] != cg {
			t.Errorf("sleep (pid %d) is in %v, want %s in name=systemd and cgroup2", cmd.Process.Pid, paths, cg)
		}

		m.MustSystemctl(t, "stop", "gwtest-probe.scope")
		select {
		case <-done:
			if waitErr == nil {
				t.Errorf("systemd-run sleep exited 0 after the scope was stopped, want killed")
			}
		case <-time.After(10 * time.Second):
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("sleep still running 10 s after systemctl stop; systemd-run said:\n%s", b)
		}
		if state, _ := m.Systemctl("show", "-p", "ActiveState", "--value", "gwtest-probe.scope"); strings.TrimSpace(state) == "active" {
			t.Errorf("gwtest-probe.scope still active after stop")
		}
	})

	t.Run("socket activation", func(t *testing.T) {
		port := freePort(t)
		m.WriteUnit(t, "gwtest-echo.socket", fmt.Sprintf(`[Socket]
ListenStream=127.0.0.1:%d
Accept=no
FileDescriptorName=http
`, port))
		// $$ is a literal $ in a unit file: the shell sees ${LISTEN_FDS} and $$.
		m.WriteUnit(t, "gwtest-echo.service", `[Service]
ExecStart=/bin/sh -c 'echo LISTEN_FDS=$${LISTEN_FDS} LISTEN_PID=$${LISTEN_PID} PID=$$$$ FDNAMES=$${LISTEN_FDNAMES}; sleep 5'
`)
		m.MustSystemctl(t, "start", "gwtest-echo.socket")
		if st := m.MustSystemctl(t, "show", "-p", "ActiveState", "--value", "gwtest-echo.service"); strings.TrimSpace(st) != "inactive" {
			t.Fatalf("gwtest-echo.service is %q before any connection, want inactive", strings.TrimSpace(st))
		}

		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
		if err != nil {
			t.Fatalf("connecting to the socket unit: %v", err)
		}
		defer conn.Close()

		log := m.WaitLog(t, "LISTEN_FDS=", 10*time.Second)
		match := regexp.MustCompile(`LISTEN_FDS=(\S*) LISTEN_PID=(\S*) PID=(\S*) FDNAMES=(\S*)`).FindStringSubmatch(log)
		if match == nil {
			t.Fatalf("no service output line in the log:\n%s", log)
		}
		t.Logf("service said: %s", match[0])
		if match[1] != "1" {
			t.Errorf("LISTEN_FDS = %q, want 1", match[1])
		}
		if match[2] == "" || match[2] != match[3] {
			t.Errorf("LISTEN_PID = %q, want the service's PID %q", match[2], match[3])
		}
		if match[4] != "http" {
			t.Errorf("LISTEN_FDNAMES = %q, want http", match[4])
		}
		if mainPID := strings.TrimSpace(m.MustSystemctl(t, "show", "-p", "MainPID", "--value", "gwtest-echo.service")); mainPID != match[3] {
			t.Errorf("MainPID = %s, want %s", mainPID, match[3])
		}
		m.MustSystemctl(t, "stop", "gwtest-echo.socket", "gwtest-echo.service")
	})

	t.Run("journal", func(t *testing.T) {
		m.WriteUnit(t, "gwtest-native.service", `[Service]
Type=oneshot
ExecStart=/bin/sh -c 'printf "MESSAGE=native hello\\nGWTEST_FIELD=42\\nSYSLOG_IDENTIFIER=gwtest-native\\n" | logger --journald'
`)
		m.WriteUnit(t, "gwtest-stdout.service", `[Service]
ExecStart=/bin/sh -c 'echo "<4>warned on stdout"; exec sleep 5'
`)
		m.WriteUnit(t, "gwtest-native.service.d/10-env.conf", "[Service]\nEnvironment=GWTEST_DROPIN=1\n")
		if got := strings.TrimSpace(m.MustSystemctl(t, "show", "-p", "Environment", "--value", "gwtest-native.service")); got != "GWTEST_DROPIN=1" {
			t.Errorf("Environment = %q, want the drop-in's GWTEST_DROPIN=1", got)
		}
		m.MustSystemctl(t, "start", "gwtest-native.service", "gwtest-stdout.service")

		native := m.WaitJournal(t, func(e Entry) bool { return e.Fields["GWTEST_FIELD"] == "42" }, 5*time.Second)
		if native.Message() != "native hello" || native.Fields["_TRANSPORT"] != "journal" || native.Fields["_PID"] == "" {
			t.Errorf("native entry = %v, want MESSAGE=native hello, _TRANSPORT=journal and a _PID", native.Fields)
		}
		stdout := m.WaitJournal(t, func(e Entry) bool { return e.Message() == "warned on stdout" }, 5*time.Second)
		want := map[string]string{"PRIORITY": "4", "_TRANSPORT": "stdout", "SYSLOG_IDENTIFIER": "sh", "_SYSTEMD_USER_UNIT": "gwtest-stdout.service"}
		for k, v := range want {
			if stdout.Fields[k] != v {
				t.Errorf("stdout entry %s = %q, want %q (entry %v)", k, stdout.Fields[k], v, stdout.Fields)
			}
		}
		if !strings.Contains(m.Log(), "gwtest-native["+native.Fields["_PID"]+"]: native hello\n") {
			t.Errorf("Log lacks the native entry rendered as gwtest-native[PID]: native hello:\n%s", m.Log())
		}
	})

	pid, root, rt := m.ManagerPID(), m.CgroupRoot(), m.RuntimeDir()
	m.Stop()
	m.Stop() // idempotent
	checkGone(t, pid, root, rt)
	if got := readFile(t, "/proc/1/cgroup"); got != pid1Before {
		t.Errorf("PID 1 moved:\ngot:\n%swant:\n%s", got, pid1Before)
	}
	if !strings.Contains(m.Log(), "systemd") {
		t.Errorf("Log after Stop lost the manager's log: %q", m.Log())
	}
}

// TestSequentialManagers starts two managers one after the other in the same
// test binary, each torn down by its subtest's cleanup.
func TestSequentialManagers(t *testing.T) {
	var seen []int
	for i := range 2 {
		var pid int
		var root, rt string
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			m := Start(t)
			pid, root, rt = m.ManagerPID(), m.CgroupRoot(), m.RuntimeDir()
			m.WriteUnit(t, "gwtest-oneshot.service", "[Service]\nType=oneshot\nExecStart=/bin/echo gwtest-oneshot-"+strconv.Itoa(i)+"\n")
			m.MustSystemctl(t, "start", "gwtest-oneshot.service")
			m.WaitLog(t, "gwtest-oneshot-"+strconv.Itoa(i), 5*time.Second)
		})
		if pid == 0 {
			t.FailNow() // Start skipped or failed
		}
		checkGone(t, pid, root, rt)
		seen = append(seen, pid)
	}
	if seen[0] == seen[1] {
		t.Errorf("both managers had pid %d", seen[0])
	}
}

// TestConcurrentManagers runs two managers at once, as tests of several
// packages may under go test ./...
func TestConcurrentManagers(t *testing.T) {
	var mu sync.Mutex
	roots := map[string]bool{}
	t.Run("group", func(t *testing.T) {
		for i := range 2 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				m := Start(t)
				mu.Lock()
				roots[m.CgroupRoot()] = true
				mu.Unlock()
				out := m.MustSystemctl(t, "show", "-p", "ControlGroup", "--value", "init.scope")
				if got, want := strings.TrimSpace(out), m.CgroupRoot()+"/init.scope"; got != want {
					t.Errorf("init.scope ControlGroup = %q, want %q", got, want)
				}
			})
		}
	})
	if len(roots) == 0 {
		t.Skip("no manager started")
	}
	if len(roots) != 2 {
		t.Errorf("got cgroup roots %v, want 2 distinct", roots)
	}
	for root := range roots {
		if dirs := confine.Dirs(strings.TrimPrefix(root, "/")); len(dirs) > 0 {
			t.Errorf("left behind: %v", dirs)
		}
	}
}

// TestStopKillsLeftovers makes the manager outlive its SIGTERM grace (a
// service that ignores SIGTERM keeps it stopping for 90 s) and checks that
// teardown SIGKILLs it and everything left in its cgroups, and removes them.
func TestStopKillsLeftovers(t *testing.T) {
	m := Start(t)
	m.termTimeout = 300 * time.Millisecond
	m.WriteUnit(t, "gwtest-stubborn.service", `[Service]
ExecStart=/bin/sh -c "trap '' TERM; sleep 1000 & echo stubborn child=$$! sh=$$$$; wait"
`)
	m.MustSystemctl(t, "start", "gwtest-stubborn.service")
	log := m.WaitLog(t, "stubborn child=", 5*time.Second)
	match := regexp.MustCompile(`stubborn child=(\d+) sh=(\d+)`).FindStringSubmatch(log)
	if match == nil {
		t.Fatalf("no pids in the log:\n%s", log)
	}
	var pids []int
	for _, s := range match[1:] {
		pid, _ := strconv.Atoi(s)
		pids = append(pids, pid)
	}
	root, rt := m.CgroupRoot(), m.RuntimeDir()
	start := time.Now()
	m.Stop()
	t.Logf("teardown took %v", time.Since(start).Round(time.Millisecond))
	for _, pid := range pids {
		if state := procState(pid); state != "" {
			t.Errorf("pid %d still there in state %s", pid, state)
		}
	}
	checkGone(t, m.ManagerPID(), root, rt)
}

// procState is the state letter of a process (R, S, Z…), or "" if it is gone.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	_, after, _ := strings.Cut(string(b), ") ")
	state, _, _ := strings.Cut(after, " ")
	return state
}

// TestRequirements checks what Start says when something is missing, on a
// fake host: a reason to skip (or fail) that names what to install.
func TestRequirements(t *testing.T) {
	complete := func() host {
		return host{
			euid:     0,
			exists:   func(string) bool { return true },
			lookPath: func(string) error { return nil },
			layout:   func() error { return nil },
		}
	}
	tests := []struct {
		name   string
		change func(*host)
		want   []string // substrings of the reason; none: no reason
	}{
		{"complete", func(*host) {}, nil},
		{"not root", func(h *host) { h.euid = 1000 }, []string{"root"}},
		{"no systemd", func(h *host) { h.exists = func(p string) bool { return p != systemdBinary } },
			[]string{systemdBinary, Packages}},
		{"no dbus-user-session", func(h *host) { h.exists = func(p string) bool { return p != dbusSocket } },
			[]string{dbusSocket, "dbus-user-session", Packages}},
		{"no dbus-daemon", func(h *host) { h.exists = func(p string) bool { return p != dbusDaemon } },
			[]string{dbusDaemon, Packages}},
		{"no busctl", func(h *host) {
			h.lookPath = func(n string) error {
				if n == "busctl" {
					return os.ErrNotExist
				}
				return nil
			}
		}, []string{"busctl", Packages}},
		{"hybrid", func(h *host) {
			h.layout = func() error {
				return confine.Hybrid([]confine.CgroupMount{
					{Dir: "/sys/fs/cgroup/memory", FSType: "cgroup", Opts: "rw,memory"},
					{Dir: "/sys/fs/cgroup/systemd", FSType: "cgroup", Opts: "rw,name=systemd"},
					{Dir: "/sys/fs/cgroup/unified", FSType: "cgroup2", Opts: "rw"},
				})
			}
		}, nil},
		{"cgroup2 only", func(h *host) {
			h.layout = func() error {
				return confine.Hybrid([]confine.CgroupMount{{Dir: "/sys/fs/cgroup", FSType: "cgroup2", Opts: "rw"}})
			}
		}, []string{"hybrid cgroup layout"}},
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

// checkGone verifies that a manager left nothing behind: no cgroup, no
// runtime directory, no process, no goroutine of the harness.
func checkGone(t *testing.T, pid int, root, rt string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, g := range strings.Split(stacks, "\n\n") {
		// confine.StartLocked's goroutine waits for the manager: in this
		// test binary, only Start starts it.
		if strings.Contains(g, "sdtest.(*journal)") || strings.Contains(g, "confine.StartLocked") {
			t.Errorf("goroutine of the harness still running:\n%s", g)
		}
	}
	if dirs := confine.Dirs(strings.TrimPrefix(root, "/")); len(dirs) > 0 {
		t.Errorf("cgroups left behind: %v", dirs)
	}
	if _, err := os.Stat(rt); !os.IsNotExist(err) {
		t.Errorf("runtime dir %s left behind (%v)", rt, err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
		if strings.TrimSpace(string(comm)) == "systemd" {
			t.Errorf("manager pid %d still running", pid)
		}
	}
}

// waitProperty polls a unit property until ok accepts it.
func waitProperty(t *testing.T, m *Manager, unit, prop string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := m.Systemctl("show", "-p", prop, "--value", unit)
		v := strings.TrimSpace(out)
		if err == nil && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s = %q (%v) after 10 s", unit, prop, v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
