package sdtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/confine"
)

// Paths and packages the harness needs; see the package documentation.
const (
	systemdBinary = "/lib/systemd/systemd"
	dbusDaemon    = "/usr/bin/dbus-daemon"
	dbusSocket    = "/usr/lib/systemd/user/dbus.socket"
	bashBinary    = "/bin/bash"

	// Packages is what a fresh Debian 12 needs for Start, as an apt-get
	// install line would list it.
	Packages = "systemd dbus dbus-user-session"

	// RequireEnv, set to 1, turns every missing requirement into a test
	// failure instead of a skip. CI sets it.
	RequireEnv = confine.RequireEnv
)

// Timeouts of the harness.
const (
	readyTimeout   = 20 * time.Second // manager running and bus answering
	termTimeout    = 10 * time.Second // SIGTERM to the manager, then SIGKILL to its units' processes
	killTimeout    = 5 * time.Second  // each further step of the teardown
	commandTimeout = 2 * time.Minute  // Systemctl, Busctl without a context
	cgroupPrefix   = "gwtest-"
	runtimePrefix  = "gwtest-rt-"
	ownerFile      = ".gwtest-owner" // in the runtime dir: PID of the test process
	logFile        = "manager.log"   // in the runtime dir
)

// managerScript runs as `bash -c managerScript gwtest-manager RT MNTNS` under
// `unshare --mount --propagation private`. It leaves the root cgroup before
// anything else, checks that it did and that its mount namespace is not the
// caller's (MNTNS), and only then execs the manager. Exit status 97 means a
// check failed and no manager was started.
const managerScript = `set -eu
rt=$1 parent_ns=$2
cg=` + cgroupPrefix + `$$
# 1. Leave the root cgroup, in both hierarchies, before anything else.
for h in systemd unified; do
	mkdir -p "/sys/fs/cgroup/$h/$cg"
	echo $$ > "/sys/fs/cgroup/$h/$cg/cgroup.procs"
done
# 2. Refuse to start a manager anywhere else.
grep -Eq "^[0-9]+:name=systemd:/$cg\$" /proc/self/cgroup || {
	echo "sdtest: not in /$cg of name=systemd, refusing to start systemd:" >&2; cat /proc/self/cgroup >&2; exit 97; }
grep -Eq "^0::/$cg\$" /proc/self/cgroup || {
	echo "sdtest: not in /$cg of cgroup2, refusing to start systemd:" >&2; cat /proc/self/cgroup >&2; exit 97; }
[ "$(readlink /proc/self/ns/mnt)" != "$parent_ns" ] || {
	echo "sdtest: no private mount namespace, refusing to mount /run" >&2; exit 97; }
# 3. A private /run that says "booted with systemd", in this namespace only,
#    with the harness's journal sockets where journald's would be.
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/system
ln -s "$rt/journal" /run/systemd/journal
# 4. Nothing started here may write to the machine's console.
if [ -e /dev/console ]; then mount --bind /dev/null /dev/console; fi
export XDG_RUNTIME_DIR="$rt"
exec ` + systemdBinary + ` --user --log-target=journal
`

// Manager is one running systemd user manager, confined to the cgroup
// CgroupRoot and a private mount namespace, with its runtime directory on
// the normal file system. Its methods may be called from several goroutines.
type Manager struct {
	t       testing.TB
	rt      string
	pid     int
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the manager process is reaped
	waitErr error         // how it ended; set before exited is closed
	logFile *os.File      // O_APPEND; the manager writes its stdout and stderr here too
	journal *journal

	termTimeout time.Duration // SIGTERM to SIGKILL; tests of the harness shorten it

	stopOnce sync.Once
	mu       sync.Mutex
	stopped  bool
	finalLog string // the log as it was at teardown
}

// Start starts a confined `systemd --user` manager for the test and
// registers its teardown with t.Cleanup; Stop tears it down earlier.
//
// It skips the test (t.Skip with the reason) when the process is not root or
// systemd, its user D-Bus integration or the hybrid cgroup layout is
// missing, unless the environment variable GATEWAY_REQUIRE_SYSTEMD=1 is set:
// then those conditions fail the test. Start returns once the manager reports
// "running" (or "degraded") and its session bus answers, or fails the test
// with the manager's log after 20 s.
func Start(t testing.TB) *Manager {
	t.Helper()
	harness.Require(t, missingRequirement())
	sweepStale(t)

	guard, err := confine.NewGuard()
	if err != nil {
		t.Fatalf("sdtest: %v", err)
	}
	// Under /tmp, not $TMPDIR: the bus socket path must stay well below the
	// 108 bytes of a unix socket address.
	rt, err := os.MkdirTemp("/tmp", runtimePrefix)
	if err != nil {
		t.Fatalf("sdtest: creating the runtime directory: %v", err)
	}
	m := &Manager{t: t, rt: rt, exited: make(chan struct{}), termTimeout: termTimeout}
	t.Cleanup(m.Stop)
	if err := os.Chmod(rt, 0o700); err != nil {
		t.Fatalf("sdtest: %v", err)
	}
	if err := os.WriteFile(filepath.Join(rt, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		t.Fatalf("sdtest: %v", err)
	}
	if err := os.MkdirAll(m.UnitDir(), 0o755); err != nil {
		t.Fatalf("sdtest: creating the unit directory: %v", err)
	}
	log, err := os.OpenFile(filepath.Join(rt, logFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("sdtest: creating the manager's log: %v", err)
	}
	m.logFile = log
	if m.journal, err = listenJournal(filepath.Join(rt, "journal"), log); err != nil {
		t.Fatalf("sdtest: %v", err)
	}

	m.cmd = exec.Command("unshare", "--mount", "--propagation", "private",
		bashBinary, "-c", managerScript, "gwtest-manager", rt, guard.MountNS())
	m.cmd.Env = managerEnv(rt)
	m.cmd.Stdout = log
	m.cmd.Stderr = log
	m.cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid: true,
		// Stop the manager if the test process dies without cleaning up.
		Pdeathsig: syscall.SIGTERM,
	}
	if err := m.run(); err != nil {
		m.cmd = nil
		t.Fatalf("sdtest: starting the manager: %v", err)
	}
	m.journal.setCgroup(m.CgroupRoot())
	t.Logf("sdtest: systemd --user pid %d, cgroup %s, runtime dir %s", m.pid, m.CgroupRoot(), rt)

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	state, err := m.waitReady(ctx)
	if err != nil {
		t.Fatalf("sdtest: waiting for the manager: %v (its log follows at cleanup)", err)
	}
	if err := m.checkConfined(guard); err != nil {
		t.Fatalf("sdtest: %v (the manager's log follows at cleanup)", err)
	}
	t.Logf("sdtest: manager %s after %v", state, time.Since(start).Round(time.Millisecond))
	if state == "degraded" {
		out, _ := m.Systemctl("--failed")
		t.Logf("sdtest: failed units:\n%s", out)
	}
	return m
}

// run starts the manager from a locked OS thread, for Pdeathsig (see
// confine.StartLocked); exited is closed once it is reaped.
func (m *Manager) run() error {
	if err := confine.StartLocked(m.cmd, func(err error) { m.waitErr = err; close(m.exited) }); err != nil {
		return err
	}
	m.pid = m.cmd.Process.Pid
	return nil
}

// waitReady polls until the manager's SystemState is running or degraded
// and the bus lists its peers. It returns the state.
func (m *Manager) waitReady(ctx context.Context) (string, error) {
	var last string
	for {
		select {
		case <-m.exited:
			return "", fmt.Errorf("the manager exited: %v", m.waitErr)
		case <-ctx.Done():
			return "", fmt.Errorf("not ready after %v (last: %s)", readyTimeout, last)
		case <-time.After(50 * time.Millisecond):
		}
		// Not is-system-running: that says "offline" outside the manager's
		// namespace, where /run/systemd/system does not exist.
		out, err := m.SystemctlContext(ctx, "show", "--property=SystemState", "--value")
		state := strings.TrimSpace(out)
		if state != "running" && state != "degraded" {
			last = fmt.Sprintf("systemctl --user show -p SystemState: %q, %v", state, err)
			continue
		}
		if out, err := m.BusctlContext(ctx, "list"); err != nil {
			last = fmt.Sprintf("busctl --user list: %v: %s", err, strings.TrimSpace(out))
			continue
		}
		return state, nil
	}
}

// checkConfined verifies that the manager is the process Start started, that
// it lives under CgroupRoot in both hierarchies, and that PID 1 stayed where
// it was.
func (m *Manager) checkConfined(guard *confine.Guard) error {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", m.pid))
	if err != nil {
		return fmt.Errorf("reading the manager's name: %w", err)
	}
	if got := strings.TrimSpace(string(comm)); got != "systemd" {
		return fmt.Errorf("pid %d is %q, want systemd", m.pid, got)
	}
	return guard.Check(m.CgroupRoot(), confine.Proc{What: "the manager", PID: m.pid})
}

// managerEnv is the test's environment without what would tie the manager
// to another manager, bus or runtime directory, plus its own.
func managerEnv(rt string) []string {
	drop := map[string]bool{
		"NOTIFY_SOCKET": true, "LISTEN_PID": true, "LISTEN_FDS": true, "LISTEN_FDNAMES": true,
		"WATCHDOG_PID": true, "WATCHDOG_USEC": true, "INVOCATION_ID": true, "JOURNAL_STREAM": true,
		"MANAGERPID": true, "SYSTEMD_EXEC_PID": true, "DBUS_SESSION_BUS_ADDRESS": true,
		"XDG_RUNTIME_DIR": true, "XDG_CONFIG_HOME": true, "XDG_DATA_HOME": true,
		"XDG_STATE_HOME": true, "XDG_CACHE_HOME": true,
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	return append(env,
		"XDG_RUNTIME_DIR="+rt,
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(rt, "bus"),
		"XDG_CONFIG_HOME="+filepath.Join(rt, "home", "config"),
		"XDG_DATA_HOME="+filepath.Join(rt, "home", "data"),
		"XDG_STATE_HOME="+filepath.Join(rt, "home", "state"),
		"XDG_CACHE_HOME="+filepath.Join(rt, "home", "cache"),
	)
}

// host is what Start asks of the machine before it starts anything; a seam
// so that the requirement checks can be tested anywhere.
type host struct {
	euid     int
	exists   func(path string) bool
	lookPath func(name string) error
	layout   func() error // returns nil when the cgroup layout is the hybrid one
}

func realHost() host {
	return host{
		euid:     os.Geteuid(),
		exists:   func(p string) bool { _, err := os.Stat(p); return err == nil },
		lookPath: func(n string) error { _, err := exec.LookPath(n); return err },
		layout:   confine.CheckHybrid,
	}
}

// missingRequirement says what keeps Start from running here, or "".
func missingRequirement() string { return realHost().missing() }

func (h host) missing() string {
	if h.euid != 0 {
		return "needs root to start a confined systemd user manager"
	}
	for _, f := range []struct{ path, pkg string }{
		{systemdBinary, "systemd"},
		{dbusDaemon, "dbus-daemon, which dbus pulls in"},
		{dbusSocket, "dbus-user-session"},
		{bashBinary, "bash"},
	} {
		if !h.exists(f.path) {
			return fmt.Sprintf("%s is missing: install the Debian packages %s (it comes with %s)", f.path, Packages, f.pkg)
		}
	}
	for _, c := range []struct{ name, pkg string }{
		{"systemctl", "systemd"}, {"busctl", "systemd"}, {"systemd-run", "systemd"}, {"unshare", "util-linux"},
	} {
		if h.lookPath(c.name) != nil {
			return fmt.Sprintf("%s is not in PATH: install the Debian packages %s (it comes with %s)", c.name, Packages, c.pkg)
		}
	}
	if err := h.layout(); err != nil {
		return err.Error()
	}
	return ""
}

// RuntimeDir is the manager's $XDG_RUNTIME_DIR, a fresh 0700 directory under
// /tmp that teardown removes.
func (m *Manager) RuntimeDir() string { return m.rt }

// BusAddress is the address of the manager's session bus.
func (m *Manager) BusAddress() string { return "unix:path=" + filepath.Join(m.rt, "bus") }

// Env is what a child process needs to talk to this manager and its bus:
// append it to os.Environ().
func (m *Manager) Env() []string {
	return []string{"XDG_RUNTIME_DIR=" + m.rt, "DBUS_SESSION_BUS_ADDRESS=" + m.BusAddress()}
}

// UnitDir is $XDG_RUNTIME_DIR/systemd/user, where tests write unit files
// (see WriteUnit).
func (m *Manager) UnitDir() string { return filepath.Join(m.rt, "systemd", "user") }

// ManagerPID is the PID of the systemd --user process.
func (m *Manager) ManagerPID() int { return m.pid }

// CgroupRoot is the manager's cgroup root in both hierarchies, "/gwtest-PID".
// Its own process is in CgroupRoot()+"/init.scope", scopes and services
// without a Slice= in CgroupRoot()+"/app.slice".
func (m *Manager) CgroupRoot() string { return "/" + cgroupPrefix + strconv.Itoa(m.pid) }

// Command is exec.Command with Env() appended to the test's environment,
// e.g. for systemd-run --user.
func (m *Manager) Command(name string, args ...string) *exec.Cmd {
	return m.CommandContext(context.Background(), name, args...)
}

// CommandContext is Command with a context.
func (m *Manager) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), m.Env()...)
	cmd.Env = append(cmd.Env, "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=")
	return cmd
}

// Systemctl runs `systemctl --user ARGS…` against the manager and returns
// its combined output. It gives up after 2 minutes.
func (m *Manager) Systemctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	return m.SystemctlContext(ctx, args...)
}

// SystemctlContext is Systemctl with a context.
func (m *Manager) SystemctlContext(ctx context.Context, args ...string) (string, error) {
	return m.runTool(ctx, "systemctl", args)
}

// MustSystemctl is Systemctl that fails the test on an error.
func (m *Manager) MustSystemctl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := m.Systemctl(args...)
	if err != nil {
		t.Fatalf("systemctl --user %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Busctl runs `busctl --user ARGS…` against the manager's bus and returns
// its combined output. It gives up after 2 minutes.
func (m *Manager) Busctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	return m.BusctlContext(ctx, args...)
}

// BusctlContext is Busctl with a context.
func (m *Manager) BusctlContext(ctx context.Context, args ...string) (string, error) {
	return m.runTool(ctx, "busctl", args)
}

func (m *Manager) runTool(ctx context.Context, tool string, args []string) (string, error) {
	cmd := m.CommandContext(ctx, tool, append([]string{"--user", "--no-pager"}, args...)...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// WriteUnit writes a unit file into UnitDir and runs daemon-reload; it fails
// the test on an error. name may be a drop-in below UnitDir too, such as
// "app.service.d/10-test.conf".
func (m *Manager) WriteUnit(t testing.TB, name, content string) {
	t.Helper()
	if !filepath.IsLocal(name) {
		t.Fatalf("sdtest: WriteUnit: %q is not a path below %s", name, m.UnitDir())
	}
	path := filepath.Join(m.UnitDir(), name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatalf("sdtest: WriteUnit: %v", err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("sdtest: WriteUnit: %v", err)
	}
	m.MustSystemctl(t, "daemon-reload")
}

// Log returns the manager's log so far: what the manager process wrote to
// its stdout and stderr, and every journal entry (the manager's own
// messages, its services' output and sd_journal messages) rendered as
// "IDENTIFIER[PID]: MESSAGE", in the order received. After teardown it
// returns the log as it was then.
func (m *Manager) Log() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return m.finalLog
	}
	b, err := os.ReadFile(filepath.Join(m.rt, logFile))
	if err != nil {
		return fmt.Sprintf("(reading the manager's log: %v)", err)
	}
	return string(b)
}

// WaitLog waits until the log contains substr and returns the log; it fails
// the test with the log after timeout.
func (m *Manager) WaitLog(t testing.TB, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := m.Log()
		if strings.Contains(log, substr) {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("sdtest: %q not in the manager's log after %v; log:\n%s", substr, timeout, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Journal returns the journal entries received so far, oldest first. The
// harness stands in for journald, which does not run here; see Entry.
func (m *Manager) Journal() []Entry {
	if m.journal == nil {
		return nil
	}
	return m.journal.snapshot()
}

// WaitJournal waits for the first entry that match accepts and returns it;
// it fails the test with the log after timeout.
func (m *Manager) WaitJournal(t testing.TB, match func(Entry) bool, timeout time.Duration) Entry {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, e := range m.Journal() {
			if match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sdtest: no matching journal entry after %v; log:\n%s", timeout, m.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Exited is closed once the manager process has ended.
func (m *Manager) Exited() <-chan struct{} { return m.exited }

// Stop tears the manager down now: SIGTERM (after 10 s SIGKILL to its units'
// processes, then to the manager), SIGKILL to whatever is left in its cgroups, removal of the cgroups in every hierarchy
// and of the runtime directory. It is idempotent and also runs at cleanup;
// what it cannot remove fails the test.
func (m *Manager) Stop() { m.stopOnce.Do(m.stop) }

func (m *Manager) stop() {
	t := m.t
	start := time.Now()
	if m.cmd != nil {
		if err := m.terminate(); err != nil {
			t.Errorf("sdtest: %v", err)
		} else {
			t.Logf("sdtest: systemd --user (pid %d) gone %v after SIGTERM (%v)", m.pid, time.Since(start).Round(time.Millisecond), m.waitErr)
		}
	}
	if m.pid != 0 {
		if err := harness.Remove(m.pid, t.Logf); err != nil {
			t.Errorf("sdtest: removing the manager's cgroups: %v", err)
		}
	}
	if m.journal != nil {
		m.journal.close()
	}
	log := m.Log()
	if m.logFile != nil {
		m.logFile.Close()
	}
	if t.Failed() && m.cmd != nil {
		t.Logf("sdtest: log of systemd --user (pid %d):\n%s", m.pid, log)
	}
	m.mu.Lock()
	m.finalLog, m.stopped = log, true
	m.mu.Unlock()
	if err := os.RemoveAll(m.rt); err != nil {
		t.Errorf("sdtest: removing the runtime directory: %v", err)
	}
}

// terminate ends the manager process and waits until it is reaped. When
// SIGTERM is not enough, it first SIGKILLs what the manager runs, so that the
// manager, still alive, reaps those processes (nothing here reaps orphans:
// they would stay zombies of PID 1), then the manager.
func (m *Manager) terminate() error {
	return harness.Terminate(confine.Ending{
		Process: m.cmd.Process, What: "the manager", Exited: m.exited, Grace: m.termTimeout,
		Step: func() {
			m.t.Logf("sdtest: the manager (pid %d) still runs %v after SIGTERM; SIGKILL to its units' processes", m.pid, m.termTimeout)
			if err := harness.KillAll(m.pid, m.pid, m.t.Logf); err != nil {
				m.t.Logf("sdtest: %v", err)
			}
		},
	}, m.t.Logf)
}
