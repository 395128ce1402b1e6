package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gateway/internal/shim"
	"github.com/gatewayd/gateway/tests/gwtest"
)

// wrapped lays out release "wrapped": the notes app under a wrapper that
// passes no signal on (with socket = "port"; a socket-activated app must
// be exec'd to keep LISTEN_PID), next to a helper that ignores SIGTERM: the
// two ways a worker command leaves processes behind when only its pid is
// signalled.
func (g *gateway) wrapped(exec bool) {
	app := `"` + bin.Notes + `" "$@"; echo after`
	if exec {
		app = `exec "` + bin.Notes + `" "$@"`
	}
	g.release("wrapped", `trap "" TERM; sleep 300 & `+app)
	g.point("wrapped")
}

// groupOf returns the live processes of the process group of generation
// gen's first worker, by pid (the process runner's worker pid leads it).
func (g *gateway) groupOf(gen int) (int, []int) {
	g.t.Helper()
	for _, sg := range g.state().Generations {
		if sg.ID == gen && len(sg.Instances) > 0 {
			pgid := sg.Instances[0].PID
			return pgid, groupMembers(pgid)
		}
	}
	g.t.Fatalf("generation %d is not in the state file", gen)
	return 0, nil
}

// groupMembers lists the live (not zombie) processes of group pgid.
func groupMembers(pgid int) []int {
	pids, _ := shim.GroupMembers(pgid)
	return pids
}

// waitGroupGone waits until group pgid has no live process; it kills what
// is left when the test fails.
func waitGroupGone(t *testing.T, pgid int, limit time.Duration, what string) {
	t.Helper()
	if !gwtest.Poll(limit, func() bool { return len(groupMembers(pgid)) == 0 }) {
		var left []string
		for _, pid := range groupMembers(pgid) {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			left = append(left, string(b))
		}
		syscall.Kill(-pgid, syscall.SIGKILL)
		t.Fatalf("%s: processes of group %d still run after %v: %q", what, pgid, limit, left)
	}
}

// A retired generation and a gateway killed by SIGKILL leave no process
// of their workers behind, wrapper and SIGTERM-ignoring helper included.
func TestWorkersLeaveNothingBehind(t *testing.T) {
	g := startGateway(t, options{socket: "port"})
	g.wrapped(false)
	g.upgrade()
	a := g.browser()
	if w := a.Login("alice"); w.Generation != "2" {
		t.Fatalf("alice: got %+v, want generation 2", w)
	}
	pgid2, members := g.groupOf(2)
	if len(members) < 3 {
		t.Fatalf("generation 2's group %d: got %v, want the wrapper, its helper and the app", pgid2, members)
	}
	g.point("rel1")
	g.upgrade()
	a.Post("/signout", nil)
	g.waitLog(`msg="generation retired" component=supervisor generation=2`, 1, 10*time.Second)
	waitGroupGone(t, pgid2, time.Second, "retired generation 2")

	g.wrapped(false)
	g.upgrade()
	a.Login("bob")
	pgid4, _ := g.groupOf(4)
	g.cmd.Process.Kill()
	<-g.exited
	// app.stop_timeout is 2s; the helper ignores SIGTERM.
	waitGroupGone(t, pgid4, 5*time.Second, "the workers of a gateway killed by SIGKILL")
}

// A worker that outlived its gateway (its keeper killed with it) is
// stopped by the next gateway at start, and its socket removed.
func TestLeftoverWorkersStoppedAtStart(t *testing.T) {
	g := startGateway(t, options{})
	g.wrapped(true)
	g.upgrade()
	g.browser().Login("alice")
	pgid, _ := g.groupOf(2)
	sock := filepath.Join(g.dir, "run", "notes-gen2-1.sock")
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("generation 2's socket: %v", err)
	}
	g.cmd.Process.Kill()
	syscall.Kill(pgid, syscall.SIGKILL) // the keeper: its group lives on
	<-g.exited
	if len(groupMembers(pgid)) == 0 {
		t.Fatal("killing the gateway and the keeper left no process: nothing to test")
	}
	g.point("rel1")
	g.start()
	// gatewayd is ready only once the leftover is gone.
	for _, re := range []string{`generation=2 .*event=leftover`, `generation=2 .*event=killed`} { // its helper ignores SIGTERM
		if !g.log.matches(re) {
			t.Errorf("no line matching %q in the log", re)
		}
	}
	waitGroupGone(t, pgid, time.Second, "a leftover worker after the next gateway's start")
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("generation 2's socket after the next start: got %v, want it removed", err)
	}
	if !g.log.matches(`event=stale-socket`) {
		t.Errorf("no stale-socket line in the log")
	}
}
