package confine

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testHarness is this package's own tests' harness: a prefix of its own,
// so that neither these tests nor the harnesses' sweeps, which may run at
// the same time under go test ./..., touch each other's cgroups.
var testHarness = Harness{Name: "confine", Prefix: "gwconfine-", Timeout: 5 * time.Second}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/sys/fs/cgroup/systemd`: "/sys/fs/cgroup/systemd",
		`/mnt/a\040b`:            "/mnt/a b",
		`/mnt/tab\011x\134`:      "/mnt/tab\tx\\",
		`/mnt/x\04`:              `/mnt/x\04`, // too short to be an escape
		`/mnt/\999`:              `/mnt/\999`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHybrid(t *testing.T) {
	hybrid := []CgroupMount{
		{Dir: "/sys/fs/cgroup/memory", FSType: "cgroup", Opts: "rw,memory"},
		{Dir: "/sys/fs/cgroup/systemd", FSType: "cgroup", Opts: "rw,nosuid,name=systemd"},
		{Dir: "/sys/fs/cgroup/unified", FSType: "cgroup2", Opts: "rw"},
	}
	if err := Hybrid(hybrid); err != nil {
		t.Errorf("hybrid layout: %v", err)
	}
	for name, ms := range map[string][]CgroupMount{
		"cgroup2 only":           {{Dir: "/sys/fs/cgroup", FSType: "cgroup2", Opts: "rw"}},
		"no name=systemd option": {{Dir: "/sys/fs/cgroup/systemd", FSType: "cgroup", Opts: "rw,xname=systemd"}, hybrid[2]},
		"no unified":             hybrid[:2],
	} {
		if err := Hybrid(ms); err == nil || !strings.Contains(err.Error(), "hybrid cgroup layout") {
			t.Errorf("%s: %v, want the hybrid layout asked for", name, err)
		}
	}
}

func TestUnder(t *testing.T) {
	for _, c := range []struct {
		path, root string
		want       bool
	}{
		{"/gwtest-1", "/gwtest-1", true},
		{"/gwtest-1/app.slice/x.scope", "/gwtest-1", true},
		{"/gwtest-1/app.slice", "/gwtest-1/", true},
		{"/gwtest-12", "/gwtest-1", false},
		{"/", "/gwtest-1", false},
		{"", "/gwtest-1", false},
	} {
		if got := Under(c.path, c.root); got != c.want {
			t.Errorf("Under(%q, %q) = %v, want %v", c.path, c.root, got, c.want)
		}
	}
}

// TestCgroup checks that nothing can make a harness act on a cgroup that
// is not its own: an empty prefix or PID would name every cgroup.
func TestCgroup(t *testing.T) {
	if got, err := testHarness.Cgroup(42); err != nil || got != "gwconfine-42" {
		t.Errorf("Cgroup(42) = %q, %v", got, err)
	}
	for _, c := range []struct {
		h   Harness
		pid int
	}{
		{testHarness, 0}, {testHarness, -1},
		{Harness{Name: "x", Prefix: ""}, 42}, {Harness{Name: "x", Prefix: "a/b"}, 42},
	} {
		if got, err := c.h.Cgroup(c.pid); err == nil {
			t.Errorf("%+v.Cgroup(%d) = %q, want an error", c.h, c.pid, got)
		}
		if err := c.h.Remove(c.pid, t.Logf); err == nil {
			t.Errorf("%+v.Remove(%d) accepted", c.h, c.pid)
		}
		if err := c.h.KillAll(c.pid, 0, t.Logf); err == nil {
			t.Errorf("%+v.KillAll(%d) accepted", c.h, c.pid)
		}
	}
	var logged []string
	Harness{Name: "x"}.SweepStale(func(f string, a ...any) { logged = append(logged, f) })
	if len(logged) != 1 {
		t.Errorf("SweepStale with no prefix logged %q, want one refusal", logged)
	}
}

func TestAlive(t *testing.T) {
	if !Alive(os.Getpid()) || !Alive(1) {
		t.Errorf("Alive says the test process or PID 1 is gone")
	}
	if Alive(0) || Alive(-1) {
		t.Errorf("Alive(0) or Alive(-1) is true")
	}
	p := deadPID(t)
	if Alive(p) {
		t.Errorf("Alive(%d) of a reaped process", p)
	}
}

func TestProcCgroups(t *testing.T) {
	paths, err := ProcCgroups(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := paths[""]; !ok {
		t.Errorf("no cgroup2 line in %v", paths)
	}
	if _, err := ProcCgroups(deadPID(t)); err == nil {
		t.Errorf("ProcCgroups of a reaped process succeeded")
	}
}

func TestStartLocked(t *testing.T) {
	exited := make(chan error, 1)
	if err := StartLocked(exec.Command("sh", "-c", "exit 3"), func(err error) { exited <- err }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Errorf("exited(%v), want exit status 3", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("exited not called")
	}
	called := false
	if err := StartLocked(exec.Command("/nonexistent/gwconfine"), func(error) { called = true }); err == nil {
		t.Errorf("starting a missing binary succeeded")
	}
	if called {
		t.Errorf("exited called for a process that never started")
	}
}

// TestTeardown moves two processes into a harness cgroup (one in a child
// cgroup), kills all but one, then removes the tree, and checks that a
// process outside is never signalled.
func TestTeardown(t *testing.T) {
	requireHost(t)
	top, topDone := sleeper(t)
	child, childDone := sleeper(t)
	outside, outsideDone := sleeper(t)
	name, _ := testHarness.Cgroup(top)
	t.Cleanup(func() { _ = testHarness.Remove(top, t.Logf) })
	enter(t, name, top)
	enter(t, filepath.Join(name, "sub", "deeper"), child)

	g, err := NewGuard()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Check("/"+name, Proc{"top", top}, Proc{"child", child}); err != nil {
		t.Errorf("Check of confined processes: %v", err)
	}
	if err := g.Check("/"+name, Proc{"outside", outside}); err == nil || !strings.Contains(err.Error(), "outside (pid") {
		t.Errorf("Check of a process outside: %v, want it named", err)
	}
	if err := g.Check("/", Proc{"outside", outside}); err == nil {
		t.Errorf("Check under / accepted")
	}

	testHarness.KillIn(outside, top, t.Logf)
	if err := testHarness.KillAll(top, top, t.Logf); err != nil {
		t.Fatal(err)
	}
	waitDone(t, childDone, "the child cgroup's process")
	if !Alive(top) {
		t.Errorf("KillAll killed the spared process")
	}
	if err := testHarness.Remove(top, t.Logf); err != nil {
		t.Fatal(err)
	}
	waitDone(t, topDone, "the top cgroup's process")
	if dirs := Dirs(name); len(dirs) > 0 {
		t.Errorf("left behind: %v", dirs)
	}
	select {
	case <-outsideDone:
		t.Errorf("the process outside the cgroup was killed")
	default:
	}
	if err := testHarness.Remove(top, t.Logf); err != nil {
		t.Errorf("Remove of a removed cgroup: %v", err)
	}
}

// TestSweepStale leaves what a dead test process would, next to a live
// one's and a dead one's that still holds a process, and checks that the
// sweep removes the first only and kills nothing.
func TestSweepStale(t *testing.T) {
	requireHost(t)
	dead, live := deadPID(t), os.Getpid()
	holder, holderDone := sleeper(t)
	deadName, _ := testHarness.Cgroup(dead)
	liveName, _ := testHarness.Cgroup(live)
	t.Cleanup(func() { _ = testHarness.Remove(live, t.Logf) })
	t.Cleanup(func() { _ = testHarness.Remove(dead, t.Logf) })
	for _, d := range []string{filepath.Join(deadName, "a", "b"), liveName} {
		for _, h := range []string{"systemd", "unified"} {
			if err := os.MkdirAll(filepath.Join("/sys/fs/cgroup", h, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	holderDead := deadPID(t)
	holderName, _ := testHarness.Cgroup(holderDead)
	t.Cleanup(func() { _ = testHarness.Remove(holderDead, t.Logf) })
	enter(t, holderName, holder)

	var logged []string
	testHarness.SweepStale(func(f string, a ...any) { logged = append(logged, strings.TrimSpace(fmt.Sprintf(f, a...))) })
	t.Logf("sweep said: %q", logged)
	if dirs := Dirs(deadName); len(dirs) > 0 {
		t.Errorf("stale cgroups left: %v", dirs)
	}
	if dirs := Dirs(liveName); len(dirs) != 2 {
		t.Errorf("the live process's cgroups: %v, want both left", dirs)
	}
	if dirs := Dirs(holderName); len(dirs) != 2 {
		t.Errorf("the stale cgroups that hold a process: %v, want both left", dirs)
	}
	select {
	case <-holderDone:
		t.Errorf("the sweep killed a process")
	default:
	}
	if !strings.Contains(strings.Join(logged, "\n"), "confine: stale /sys/fs/cgroup/") {
		t.Errorf("the sweep did not say it left a cgroup with a process: %q", logged)
	}
}

// requireHost skips (or, with RequireEnv=1, fails) a test that makes
// cgroups, unless it runs as root on the hybrid layout.
func requireHost(t *testing.T) {
	t.Helper()
	reason := ""
	if os.Geteuid() != 0 {
		reason = "needs root to make cgroups"
	} else if err := CheckHybrid(); err != nil {
		reason = err.Error()
	}
	testHarness.Require(t, reason)
}

// sleeper starts a sleep that the test reaps; done is closed once it is.
func sleeper(t *testing.T) (int, <-chan struct{}) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd.Process.Pid, done
}

// enter makes the cgroup name in name=systemd and cgroup2 and moves pid
// into it, never the test process itself.
func enter(t *testing.T, name string, pid int) {
	t.Helper()
	if pid == os.Getpid() || pid <= 1 {
		t.Fatalf("refusing to move pid %d", pid)
	}
	for _, h := range []string{"systemd", "unified"} {
		d := filepath.Join("/sys/fs/cgroup", h, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			t.Fatalf("moving pid %d into %s: %v", pid, d, err)
		}
	}
}

// deadPID is the PID of a process that has run and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if Alive(cmd.Process.Pid) {
		t.Skipf("pid %d was reused already", cmd.Process.Pid)
	}
	return cmd.Process.Pid
}

func waitDone(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still runs", what)
	}
}
