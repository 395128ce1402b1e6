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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/confine"
)

const (
	// Packages is what a Debian 12 host needs for Boot, as an apt-get
	// install line would list it (util-linux, coreutils and bash are
	// there anyway).
	Packages = "systemd-container debootstrap"

	// RequireEnv, set to 1, turns every missing requirement into a test
	// failure instead of a skip. CI sets it.
	RequireEnv = confine.RequireEnv

	// ConsoleEnv, set to 1, has the console log printed at every teardown,
	// not only when the test failed.
	ConsoleEnv = "GATEWAY_NSPAWN_CONSOLE"

	// ContainerPath is $PATH of the commands Exec runs.
	ContainerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// Timeouts and names of the harness.
const (
	defaultBootTimeout = 60 * time.Second // systemd-nspawn started to "running"
	leaderTimeout      = 10 * time.Second // systemd-nspawn started to the container's PID 1 found
	poweroffTimeout    = 30 * time.Second // SIGTERM to systemd-nspawn until it has exited
	killTimeout        = 5 * time.Second  // each further step of the teardown
	commandTimeout     = 2 * time.Minute  // Exec without a context
	cgroupPrefix       = "gwnspawn-"      // cgroup gwnspawn-PID of systemd-nspawn's PID
	bootDirPrefix      = "gwnspawn-"      // /var/tmp/gwnspawn-*: one boot's root and console log
	ownerFile          = "owner"          // in the boot dir: "TESTPID NSPAWNPID"
	consoleFile        = "console.log"    // in the boot dir
)

// harness is what tests/confine, which holds the cgroup handling nspawn
// shares with tests/sdtest, knows of nspawn: its log prefix, its cgroups
// /gwnspawn-PID, and how long each step of a teardown may take.
var harness = confine.Harness{Name: "nspawn", Prefix: cgroupPrefix, Timeout: killTimeout}

// bootDirParent is where the boot directories are made: on disk, not on
// /tmp, which may be a tmpfs, as a boot copies ~170 MB where overlayfs is
// refused.
var bootDirParent = "/var/tmp"

// bootScript runs as `bash -c bootScript gwnspawn ROOT MNTNS NSPAWN-ARGS…`
// under `unshare --mount --propagation private`. It leaves the root cgroup
// before anything else, checks that it did and that its mount namespace is
// not the caller's (MNTNS), and only then mounts a private /run (where
// systemd-nspawn keeps its locks and propagation directories) and execs
// systemd-nspawn, which keeps its PID. Exit status 97 means a check failed
// and nothing was started.
const bootScript = `set -eu
parent_ns=$1; shift
cg=` + cgroupPrefix + `$$
# 1. Leave the root cgroup, in both hierarchies, before anything else: into
#    a fresh cgroup (mkdir fails if it exists).
for h in systemd unified; do
	mkdir "/sys/fs/cgroup/$h/$cg"
	echo $$ > "/sys/fs/cgroup/$h/$cg/cgroup.procs"
done
# 2. Refuse to start a container anywhere else.
grep -Eq "^[0-9]+:name=systemd:/$cg\$" /proc/self/cgroup || {
	echo "nspawn: not in /$cg of name=systemd, refusing to start systemd-nspawn:" >&2; cat /proc/self/cgroup >&2; exit 97; }
grep -Eq "^0::/$cg\$" /proc/self/cgroup || {
	echo "nspawn: not in /$cg of cgroup2, refusing to start systemd-nspawn:" >&2; cat /proc/self/cgroup >&2; exit 97; }
[ "$(readlink /proc/self/ns/mnt)" != "$parent_ns" ] || {
	echo "nspawn: no private mount namespace, refusing to start systemd-nspawn" >&2; exit 97; }
# 3. A private /run for systemd-nspawn's own files, in this namespace only.
mount -t tmpfs -o mode=0755 tmpfs /run
exec systemd-nspawn "$@"
`

// Options say what to boot. The zero value boots the base system with the
// unified cgroup layout and no bind mounts.
type Options struct {
	// Binds are host paths made visible inside the container. None if
	// empty.
	Binds []Bind
	// ExtraPackages are Debian packages added to the cached root file
	// system (BasePackages are always there). Each list has its own cache,
	// built once with debootstrap --include, which resolves dependencies
	// but not Recommends. None if empty.
	ExtraPackages []string
	// HybridCgroups boots the container with the host's hybrid cgroup
	// layout (v1 controllers, name=systemd and cgroup2 at
	// /sys/fs/cgroup/unified). If false, the container sees cgroup2 only
	// at /sys/fs/cgroup, as a stock Debian 12 does
	// (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1).
	HybridCgroups bool
	// BootTimeout bounds the wait for the container's systemd to report
	// "running" or "degraded". If zero, 60 s.
	BootTimeout time.Duration
}

// Bind is one bind mount from the host into the container.
type Bind struct {
	Host      string // absolute path on the host; must exist
	Container string // absolute path in the container; created if missing
	ReadOnly  bool
}

// arg is the systemd-nspawn option for b.
func (b Bind) arg() (string, error) {
	for _, p := range []string{b.Host, b.Container} {
		if !filepath.IsAbs(p) || strings.ContainsAny(p, ":,\n") {
			return "", fmt.Errorf("bind %q:%q: paths must be absolute and without ':' or ','", b.Host, b.Container)
		}
	}
	if _, err := os.Stat(b.Host); err != nil {
		return "", fmt.Errorf("bind %q:%q: %w", b.Host, b.Container, err)
	}
	opt := "--bind="
	if b.ReadOnly {
		opt = "--bind-ro="
	}
	return opt + filepath.Clean(b.Host) + ":" + filepath.Clean(b.Container), nil
}

// nspawnArgs are systemd-nspawn's arguments for booting root as name.
func nspawnArgs(root, name string, binds []Bind) ([]string, error) {
	args := []string{
		"--directory=" + root,
		"--machine=" + name,
		"--boot",
		"--register=no",            // no systemd-machined (no system manager runs here)
		"--keep-unit",              // no scope from a system manager: our own cgroup
		"--private-network",        // only a loopback of its own
		"--console=read-only",      // the console goes to our stdout, the log file
		"--link-journal=no",        // nothing in the machine's /var/log/journal
		"--settings=no",            // no .nspawn file applies
		"--kill-signal=SIGRTMIN+4", // SIGTERM to systemd-nspawn: poweroff in the container
	}
	for _, b := range binds {
		a, err := b.arg()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
	}
	return args, nil
}

// nspawnEnv is the environment of systemd-nspawn: none of the test's, so
// that nothing ties the container to another manager, plus the choice of
// cgroup layout.
func nspawnEnv(hybridCgroups bool) []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
		"TERM=dumb"} // passed on to the container: a console log without colours
	if !hybridCgroups {
		env = append(env, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1")
	}
	return env
}

// containerEnv is the environment of what Exec runs.
var containerEnv = []string{
	"PATH=" + ContainerPath, "HOME=/root", "LANG=C.UTF-8", "TERM=dumb",
	"PAGER=cat", "SYSTEMD_PAGER=cat", "SYSTEMD_COLORS=0",
}

// Machine is one booted container. Its methods may be called from several
// goroutines.
type Machine struct {
	t       testing.TB
	name    string
	dir     string // boot directory: root/, console.log, owner
	root    string
	pid     int // systemd-nspawn, also the name of our cgroups
	leader  int // the container's PID 1
	cmd     *exec.Cmd
	exited  chan struct{} // closed once systemd-nspawn is reaped
	waitErr error         // how it ended; set before exited is closed
	console *os.File
	overlay bool // root is an overlayfs mounted by makeRoot

	stopOnce sync.Once
	stopped  atomic.Bool
	mu       sync.Mutex
	final    *string // the console log as it was at teardown
}

var bootCount atomic.Int64

// Boot boots a fresh container from the cached root file system (building
// the cache with debootstrap when it is missing) and registers its teardown
// with t.Cleanup; Stop tears it down earlier.
//
// It skips the test when the process is not root, systemd-nspawn,
// debootstrap or another tool is missing, or the cgroup layout is not the
// hybrid one, unless GATEWAY_REQUIRE_SYSTEMD=1 is set: then those fail the
// test. Boot returns once the container's systemd says "running" or
// "degraded" (then it logs the failed units), or fails the test after
// Options.BootTimeout.
func Boot(t testing.TB, o Options) *Machine {
	t.Helper()
	harness.Require(t, missingRequirement())
	if o.BootTimeout == 0 {
		o.BootTimeout = defaultBootTimeout
	}
	pkgs, err := packageList(o.ExtraPackages)
	if err != nil {
		t.Fatalf("nspawn: %v", err)
	}
	sweepStale(t)
	cache, err := rootfs(t, pkgs)
	if err != nil {
		t.Fatalf("nspawn: %v", err)
	}

	guard, err := confine.NewGuard()
	if err != nil {
		t.Fatalf("nspawn: %v", err)
	}
	dir, err := os.MkdirTemp(bootDirParent, bootDirPrefix)
	if err != nil {
		t.Fatalf("nspawn: creating the boot directory: %v", err)
	}
	m := &Machine{
		t:      t,
		name:   fmt.Sprintf("gw-%d-%d", os.Getpid(), bootCount.Add(1)),
		dir:    dir,
		root:   filepath.Join(dir, "root"),
		exited: make(chan struct{}),
	}
	t.Cleanup(m.Stop)
	if err := m.writeOwner(); err != nil {
		t.Fatalf("nspawn: %v", err)
	}

	start := time.Now()
	how, err := m.makeRoot(filepath.Join(cache, "root"))
	if err != nil {
		t.Fatalf("nspawn: %v", err)
	}
	if err := m.personalize(); err != nil {
		t.Fatalf("nspawn: %v", err)
	}
	prepared := time.Since(start)

	args, err := nspawnArgs(m.root, m.name, o.Binds)
	if err != nil {
		t.Fatalf("nspawn: %v", err)
	}
	if m.console, err = os.OpenFile(filepath.Join(dir, consoleFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		t.Fatalf("nspawn: creating the console log: %v", err)
	}
	m.cmd = exec.Command("unshare", append([]string{"--mount", "--propagation", "private",
		"bash", "-c", bootScript, "gwnspawn", guard.MountNS()}, args...)...)
	m.cmd.Env = nspawnEnv(o.HybridCgroups)
	m.cmd.Stdout, m.cmd.Stderr = m.console, m.console
	m.cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid: true,
		// If the test process dies without cleaning up, systemd-nspawn
		// powers the container off.
		Pdeathsig: syscall.SIGTERM,
	}
	booting := time.Now()
	if err := m.run(); err != nil {
		m.cmd = nil
		t.Fatalf("nspawn: starting systemd-nspawn: %v", err)
	}
	if err := m.writeOwner(); err != nil {
		t.Fatalf("nspawn: %v", err)
	}
	if m.leader, err = m.findLeader(leaderTimeout); err != nil {
		t.Fatalf("nspawn: %v (the console log follows at cleanup)", err)
	}
	if err := m.checkConfined(guard); err != nil {
		t.Fatalf("nspawn: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.BootTimeout)
	defer cancel()
	state, err := m.waitRunning(ctx)
	if err != nil {
		jobs, _ := m.Exec("systemctl", "list-jobs", "--no-pager")
		t.Fatalf("nspawn: %v; jobs:\n%s(the console log follows at cleanup)", err, jobs)
	}
	t.Logf("nspawn: %s (systemd-nspawn pid %d, PID 1 = %d, cgroup %s, root %s, %s) %s %v after systemd-nspawn started; the root took %v",
		m.name, m.pid, m.leader, m.CgroupRoot(), m.root, how, state, time.Since(booting).Round(time.Millisecond), prepared.Round(10*time.Microsecond))
	if state == "degraded" {
		out, _ := m.Exec("systemctl", "--failed", "--no-pager")
		t.Logf("nspawn: %s is degraded; failed units:\n%s", m.name, out)
	}
	return m
}

// makeRoot makes the container's root directory m.root: an overlayfs
// mounted in the test's mount namespace, with the cached tree as its lower
// layer and m.dir/upper for what this boot changes (the cache stays as it
// is), or, where overlayfs is refused, a copy of the cached tree. It says
// which.
//
// The mount is in the test's namespace, not systemd-nspawn's private one,
// so that Root is an ordinary directory on the host; stop and sweepStale
// unmount it.
func (m *Machine) makeRoot(cacheRoot string) (string, error) {
	upper, work := filepath.Join(m.dir, "upper"), filepath.Join(m.dir, "work")
	for _, d := range []string{m.root, upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", fmt.Errorf("creating %s: %w", d, err)
		}
	}
	opts := "lowerdir=" + cacheRoot + ",upperdir=" + upper + ",workdir=" + work
	err := mountOverlay(m.root, opts)
	if err == nil {
		m.overlay = true
		return "overlayfs", nil
	}
	m.t.Logf("nspawn: mounting an overlayfs (%s) failed: %v; copying the root instead", opts, err)
	if err := os.Remove(m.root); err != nil {
		return "", err
	}
	if out, err := exec.Command("cp", "-a", "--reflink=auto", cacheRoot, m.root).CombinedOutput(); err != nil {
		return "", fmt.Errorf("copying the root file system: %v\n%s", err, out)
	}
	return "a copy", nil
}

// mountOverlay mounts an overlayfs; a seam for the test of the fallback.
var mountOverlay = func(target, opts string) error {
	return syscall.Mount("overlay", target, "overlay", 0, opts)
}

// unmountRoot unmounts the overlayfs at root, if there is one: after a
// lazy unmount when it stays busy.
func unmountRoot(root string) error {
	if !isOverlay(root) {
		return nil
	}
	deadline := time.Now().Add(killTimeout)
	for {
		err := syscall.Unmount(root, 0)
		if err == nil || errors.Is(err, syscall.EINVAL) { // EINVAL: not a mount point (any more)
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) {
			return fmt.Errorf("unmounting %s: %w", root, err)
		}
		if time.Now().After(deadline) {
			if err := syscall.Unmount(root, syscall.MNT_DETACH); err != nil {
				return fmt.Errorf("unmounting %s (lazily, busy for %v): %w", root, killTimeout, err)
			}
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// isOverlay says whether an overlayfs is mounted at dir in the test's
// mount namespace.
func isOverlay(dir string) bool {
	ms, _ := confine.Mounts()
	for _, mi := range ms {
		if mi.Point == dir && mi.FSType == "overlay" {
			return true
		}
	}
	return false
}

// personalize gives the copied tree its own identity: host name and a fresh
// machine ID (the cache has an empty one).
func (m *Machine) personalize() error {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	for name, content := range map[string]string{
		"etc/hostname":   m.name + "\n",
		"etc/machine-id": hex.EncodeToString(id) + "\n",
	} {
		p := filepath.Join(m.root, name)
		_ = os.Remove(p) // machine-id is read-only
		if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return nil
}

// writeOwner records who owns the boot directory, for sweepStale.
func (m *Machine) writeOwner() error {
	content := fmt.Sprintf("%d %d\n", os.Getpid(), m.pid)
	if err := os.WriteFile(filepath.Join(m.dir, ownerFile), []byte(content), 0o600); err != nil {
		return fmt.Errorf("writing the owner of %s: %w", m.dir, err)
	}
	return nil
}

// run starts systemd-nspawn from a locked OS thread, for Pdeathsig (see
// confine.StartLocked); exited is closed once it is reaped.
func (m *Machine) run() error {
	if err := confine.StartLocked(m.cmd, func(err error) { m.waitErr = err; close(m.exited) }); err != nil {
		return err
	}
	m.pid = m.cmd.Process.Pid
	return nil
}

// findLeader waits for the container's PID 1: the child of systemd-nspawn
// that runs systemd in a PID namespace of its own.
func (m *Machine) findLeader(timeout time.Duration) (int, error) {
	ourNS, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return 0, fmt.Errorf("reading the test's PID namespace: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-m.exited:
			return 0, fmt.Errorf("systemd-nspawn exited: %v", m.waitErr)
		default:
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", m.pid, m.pid))
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
			if strings.TrimSpace(string(comm)) == "systemd" && ns != "" && ns != ourNS {
				return pid, nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no systemd child of systemd-nspawn (pid %d) after %v", m.pid, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkConfined verifies that systemd-nspawn and the container's PID 1 live
// under CgroupRoot in both hierarchies and that the machine's PID 1 stayed
// where it was.
func (m *Machine) checkConfined(guard *confine.Guard) error {
	return guard.Check(m.CgroupRoot(),
		confine.Proc{What: "systemd-nspawn", PID: m.pid},
		confine.Proc{What: "the container's PID 1", PID: m.leader})
}

// waitRunning polls `systemctl is-system-running` inside until it says
// running or degraded, and returns that.
func (m *Machine) waitRunning(ctx context.Context) (string, error) {
	var last string
	for {
		out, err := m.ExecContext(ctx, "systemctl", "is-system-running")
		state := strings.TrimSpace(out)
		if state == "running" || state == "degraded" {
			return state, nil
		}
		last = fmt.Sprintf("%q (%v)", state, err)
		select {
		case <-m.exited:
			return "", fmt.Errorf("systemd-nspawn exited while booting: %v", m.waitErr)
		case <-ctx.Done():
			return "", fmt.Errorf("systemctl is-system-running still says %s: %w", last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Name is the container's machine name and host name, unique on the host
// while it runs.
func (m *Machine) Name() string { return m.name }

// Root is the container's root directory on the host, writable, for this
// boot only: an overlayfs of the cached tree and a fresh upper layer (a copy
// of the tree where overlayfs is not available), unmounted and removed at
// teardown. What is written there appears inside at once and the reverse.
// Bind mounts are not visible there, only inside. Beware of absolute
// symbolic links in it: on the host they point into the host (WriteFile
// refuses to follow them).
func (m *Machine) Root() string { return m.root }

// Leader is the container's PID 1 as seen from the host.
func (m *Machine) Leader() int { return m.leader }

// NspawnPID is the PID of systemd-nspawn.
func (m *Machine) NspawnPID() int { return m.pid }

// CgroupRoot is the cgroup of systemd-nspawn in both hierarchies,
// "/gwnspawn-PID": systemd-nspawn moves itself to CgroupRoot()+"/supervisor"
// and the container to CgroupRoot()+"/payload", the container's cgroup
// namespace root.
func (m *Machine) CgroupRoot() string { return "/" + cgroupPrefix + strconv.Itoa(m.pid) }

// ErrStopped is returned by Exec after teardown.
var ErrStopped = errors.New("the container is stopped")

// Exec runs a command inside the container, in all namespaces of its PID 1
// (nsenter --all), as root in / with $PATH set to ContainerPath, and returns
// its combined output. It gives up after 2 minutes.
//
// The command runs outside the container's cgroups (in the test's own) but
// in its PID namespace: what it leaves running dies with the container at
// the latest. Its output goes through a file, so a background process that
// keeps it open does not keep Exec waiting.
func (m *Machine) Exec(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	return m.ExecContext(ctx, args...)
}

// ExecContext is Exec with a context; when it is done, the command's
// processes get SIGKILL (those of its process group).
func (m *Machine) ExecContext(ctx context.Context, args ...string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("nspawn: Exec: no command")
	}
	if m.stopped.Load() || m.leader == 0 {
		return "", ErrStopped
	}
	select {
	case <-m.exited:
		return "", ErrStopped
	default:
	}
	out, err := os.CreateTemp(m.dir, "exec-*.out")
	if err != nil {
		return "", fmt.Errorf("nspawn: Exec: %w", err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--target", strconv.Itoa(m.leader), "--all", "--"}, args...)...)
	cmd.Env = containerEnv
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { killGroupBut(cmd.Process.Pid); return nil }
	cmd.WaitDelay = killTimeout // then SIGKILL to nsenter too
	runErr := cmd.Run()
	b, err := os.ReadFile(out.Name())
	if err != nil {
		return "", fmt.Errorf("nspawn: Exec: reading the output: %w", err)
	}
	return string(b), runErr
}

// killGroupBut sends SIGKILL to every process of the process group pgid
// but its leader, nsenter, which then reaps its child and exits. Were
// nsenter killed first, its child inside would be reparented to the host's
// init, not the container's, and stay a zombie there that the container's
// systemd-shutdown waits 10 s for at poweroff. Each process is signalled
// through a pidfd taken before its group is checked.
func killGroupBut(pgid int) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == pgid {
			continue
		}
		p, err := os.FindProcess(pid)
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err == nil && g == pgid {
			_ = p.Signal(syscall.SIGKILL)
		}
		p.Release()
	}
}

// MustExec is Exec that fails the test on an error.
func (m *Machine) MustExec(t testing.TB, args ...string) string {
	t.Helper()
	out, err := m.Exec(args...)
	if err != nil {
		t.Fatalf("nspawn: in %s: %s: %v\n%s", m.name, strings.Join(args, " "), err, out)
	}
	return out
}

// Shell runs script with bash -c inside the container and returns its
// combined output; it fails the test unless the script succeeds.
func (m *Machine) Shell(t testing.TB, script string) string {
	t.Helper()
	out, err := m.Exec("bash", "-c", script)
	if err != nil {
		t.Fatalf("nspawn: in %s: bash -c %q: %v\n%s", m.name, script, err, out)
	}
	return out
}

// WriteFile writes a file inside the container (path is absolute there),
// creating its parent directories (0755), and sets its mode. It works on
// Root and refuses paths that leave it, also through absolute symbolic
// links; it fails the test on an error.
func (m *Machine) WriteFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := m.writeFile(path, data, mode); err != nil {
		t.Fatalf("nspawn: WriteFile %s in %s: %v", path, m.name, err)
	}
}

func (m *Machine) writeFile(path string, data []byte, mode os.FileMode) error {
	if !filepath.IsAbs(path) {
		return errors.New("the path must be absolute")
	}
	rel := strings.TrimPrefix(filepath.Clean(path), "/")
	if rel == "" {
		return errors.New("the path is the root")
	}
	root, err := os.OpenRoot(m.root)
	if err != nil {
		return err
	}
	defer root.Close()
	if dir := filepath.Dir(rel); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := root.WriteFile(rel, data, mode); err != nil {
		return err
	}
	return root.Chmod(rel, mode) // WriteFile's mode is subject to the umask and only for new files
}

// Journal runs `journalctl --no-pager ARGS…` inside the container and
// returns its output; it fails the test on an error.
func (m *Machine) Journal(t testing.TB, args ...string) string {
	t.Helper()
	return m.MustExec(t, append([]string{"journalctl", "--no-pager"}, args...)...)
}

// WaitJournal polls `journalctl --no-pager ARGS…` inside until its output
// contains substr, and returns the output; it fails the test after timeout.
func (m *Machine) WaitJournal(t testing.TB, substr string, timeout time.Duration, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := m.Exec(append([]string{"journalctl", "--no-pager"}, args...)...)
		if err == nil && strings.Contains(out, substr) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("nspawn: %q not in journalctl %s of %s after %v (%v):\n%s", substr, strings.Join(args, " "), m.name, timeout, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Console returns what the container wrote to its console so far (systemd's
// boot and shutdown messages), with systemd-nspawn's own messages.
// After teardown it returns the log as it was then.
func (m *Machine) Console() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.final != nil {
		return *m.final
	}
	b, err := os.ReadFile(filepath.Join(m.dir, consoleFile))
	if err != nil {
		return fmt.Sprintf("(reading the console log: %v)", err)
	}
	return string(b)
}

// Exited is closed once systemd-nspawn has ended.
func (m *Machine) Exited() <-chan struct{} { return m.exited }

// Stop tears the container down now: SIGTERM to systemd-nspawn, which
// powers the container off (after 30 s SIGKILL to the container's PID 1,
// which ends everything in its PID namespace), SIGKILL to whatever is left
// in its cgroups, removal of the cgroups depth first and of the boot
// directory with the root. It is idempotent and also runs at cleanup; what
// it cannot remove fails the test. When the test has failed, it logs the
// end of the container's journal and its console first.
func (m *Machine) Stop() { m.stopOnce.Do(m.stop) }

func (m *Machine) stop() {
	t := m.t
	if t.Failed() && m.leader != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
		if out, err := m.ExecContext(ctx, "journalctl", "--no-pager", "-b", "-n", "200"); err == nil {
			t.Logf("nspawn: the end of the journal of %s:\n%s", m.name, out)
		}
		cancel()
	}
	m.stopped.Store(true)
	start := time.Now()
	if m.cmd != nil {
		if err := m.terminate(); err != nil {
			t.Errorf("nspawn: %v", err)
		} else {
			t.Logf("nspawn: %s (systemd-nspawn pid %d) gone %v after SIGTERM (%v)", m.name, m.pid, time.Since(start).Round(time.Millisecond), m.waitErr)
		}
	}
	if m.pid != 0 {
		if err := harness.Remove(m.pid, t.Logf); err != nil {
			t.Errorf("nspawn: removing the cgroups of %s: %v", m.name, err)
		}
	}
	if m.console != nil {
		m.console.Close()
		console := m.Console()
		m.mu.Lock()
		m.final = &console
		m.mu.Unlock()
		if t.Failed() || os.Getenv(ConsoleEnv) == "1" {
			t.Logf("nspawn: console of %s:\n%s", m.name, console)
		}
	}
	if m.overlay {
		if err := unmountRoot(m.root); err != nil {
			t.Errorf("nspawn: %v", err)
		}
	}
	if err := removeDir(m.dir); err != nil {
		t.Errorf("nspawn: removing the boot directory: %v", err)
	}
	t.Logf("nspawn: teardown of %s took %v", m.name, time.Since(start).Round(time.Millisecond))
}

// terminate ends systemd-nspawn and waits until it is reaped: SIGTERM,
// which it turns into a poweroff of the container; if that takes too long,
// SIGKILL to the container's PID 1 (the kernel then kills every process in
// its PID namespace and systemd-nspawn exits), then to systemd-nspawn.
func (m *Machine) terminate() error {
	return harness.Terminate(confine.Ending{
		Process: m.cmd.Process, What: "systemd-nspawn", Exited: m.exited, Grace: poweroffTimeout,
		Step: func() {
			m.t.Logf("nspawn: %s still runs %v after SIGTERM; SIGKILL to its PID 1", m.name, poweroffTimeout)
			if m.leader != 0 {
				harness.KillIn(m.leader, m.pid, m.t.Logf)
			}
		},
	}, m.t.Logf)
}

// host is what Boot asks of the machine before it starts anything; a seam
// so that the requirement checks can be tested anywhere.
type host struct {
	euid     int
	lookPath func(name string) error
	layout   func() error // nil when the cgroup layout is the hybrid one
}

func realHost() host {
	return host{
		euid:     os.Geteuid(),
		lookPath: func(n string) error { _, err := exec.LookPath(n); return err },
		layout:   confine.CheckHybrid,
	}
}

// missingRequirement says what keeps Boot from running here, or "".
func missingRequirement() string { return realHost().missing() }

func (h host) missing() string {
	if h.euid != 0 {
		return "needs root to boot a container with systemd-nspawn"
	}
	for _, c := range []struct{ name, pkg string }{
		{"systemd-nspawn", "systemd-container"}, {"debootstrap", "debootstrap"},
		{"nsenter", "util-linux"}, {"unshare", "util-linux"}, {"bash", "bash"}, {"cp", "coreutils"},
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

// sweepStale removes what earlier test processes left when they died
// without cleaning up: gwnspawn-PID cgroups whose systemd-nspawn is gone
// and that hold no process, and boot directories whose test process and
// systemd-nspawn are both gone. It never kills anything.
func sweepStale(t testing.TB) {
	harness.SweepStale(t.Logf)
	dirs, _ := filepath.Glob(filepath.Join(bootDirParent, bootDirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue // not ours, or being created right now
		}
		var owner, nspawn int
		if n, _ := fmt.Sscan(string(b), &owner, &nspawn); n != 2 || owner <= 0 || confine.Alive(owner) || confine.Alive(nspawn) {
			continue
		}
		if err := unmountRoot(filepath.Join(d, "root")); err != nil {
			t.Logf("nspawn: removing stale %s: %v", d, err)
			continue
		}
		if err := removeDir(d); err != nil {
			t.Logf("nspawn: removing stale %s: %v", d, err)
		} else {
			t.Logf("nspawn: removed stale boot directory %s", d)
		}
	}
}
