package process

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gateway/internal/shim"
	"github.com/gatewayd/gateway/supervisor"
)

// members returns the live processes of group pgid by pid, with their
// command names.
func members(pgid int) map[int]string {
	out := map[int]string{}
	pids, _ := shim.GroupMembers(pgid)
	for _, pid := range pids {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		out[pid] = strings.TrimSpace(string(comm))
	}
	return out
}

// waitForProcess returns the pid of the process named comm in group pgid
// once there is one.
func waitForProcess(t *testing.T, pgid int, comm string) int {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for pid, c := range members(pgid) {
			if c == comm {
				return pid
			}
		}
	}
	t.Fatalf("no process %q in group %d within %v: %v", comm, pgid, waitLimit, members(pgid))
	return 0
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func waitGone(t *testing.T, pid int, limit time.Duration, what string) {
	t.Helper()
	for deadline := time.Now().Add(limit); alive(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("%s (pid %d) still runs after %v", what, pid, limit)
		}
	}
}

// A wrapper passes no signal on: stopping the worker must stop the app
// under it too, whether the gateway stops it or an operator kills the pid
// the gateway shows.
func TestWrapperStopsWithItsWorker(t *testing.T) {
	for _, c := range []struct {
		name string
		stop func(w supervisor.Worker) error
	}{
		{"by the runner", func(w supervisor.Worker) error { return w.Signal(syscall.SIGTERM) }},
		{"by kill(1) of the pid", func(w supervisor.Worker) error { return syscall.Kill(w.PID(), syscall.SIGTERM) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := start(t, &Runner{}, supervisor.WorkerSpec{Argv: sh("sleep 300; echo after")})
			app := waitForProcess(t, w.PID(), "sleep")
			if err := c.stop(w); err != nil {
				t.Fatal(err)
			}
			waitDone(t, w)
			waitGone(t, app, time.Second, "the app under the wrapper")
			var ee *exec.ExitError
			if !errors.As(w.Err(), &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
				t.Errorf("Err: got %v, want the wrapper's own end by SIGTERM", w.Err())
			}
		})
	}
}

// The worker's exit status is the app's, not its keeper's.
func TestExitStatusMirrored(t *testing.T) {
	w := start(t, &Runner{}, supervisor.WorkerSpec{Argv: sh("kill -KILL $$")})
	waitDone(t, w)
	var ee *exec.ExitError
	if !errors.As(w.Err(), &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("Err: got %v, want signal: killed", w.Err())
	}
}

// What a worker that exited by itself left behind in its group is ended.
func TestLeftoversOfAnExitedWorkerAreKilled(t *testing.T) {
	w := start(t, &Runner{}, supervisor.WorkerSpec{Argv: sh(`trap "" TERM; sleep 300 & echo $!; sleep 0.2`)})
	waitDone(t, w)
	tail := w.Tail()
	if len(tail) == 0 {
		t.Fatal("the worker printed no pid")
	}
	pid, _ := strconv.Atoi(tail[0])
	waitGone(t, pid, time.Second, "the worker's background child")
}

// envScript is the worker script of parentMain.
const envScript = "PROCESS_TEST_SCRIPT"

// parentMain is a stand-in gateway: it starts one worker running the
// script in $PROCESS_TEST_SCRIPT, prints the worker's pid and waits to be
// killed.
func parentMain() int {
	var env []string
	for _, kv := range baseEnv() {
		if !strings.HasPrefix(kv, envMode+"=") && !strings.HasPrefix(kv, envScript+"=") {
			env = append(env, kv)
		}
	}
	w, err := (&Runner{}).Start(context.Background(), supervisor.WorkerSpec{
		Argv: sh(os.Getenv(envScript)), Env: env, StopTimeout: 500 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println(w.PID())
	time.Sleep(time.Minute)
	return 0
}

// When the gateway dies by SIGKILL, its workers die with it, down to the
// app under a wrapper that ignores SIGTERM (after app.stop_timeout), and
// down to what a wrapper leaves when the closed output pipe kills it first.
func TestParentDeathEndsTheWorkersGroup(t *testing.T) {
	for _, c := range []struct{ name, script string }{
		{"wrapper ignoring SIGTERM", `trap "" TERM; sleep 300; echo after`},
		{"wrapper killed by SIGPIPE", `trap "" TERM; sleep 300 & while echo tick; do sleep 0.01; done`},
	} {
		t.Run(c.name, func(t *testing.T) { parentDies(t, c.script) })
	}
}

func parentDies(t *testing.T, script string) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parent := exec.Command(exe)
	parent.Env = append(goWorkerEnv("parent"), envScript+"="+script)
	out, _ := parent.StdoutPipe()
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	group, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("the stand-in gateway said %q, want a pid", line)
	}
	defer syscall.Kill(-group, syscall.SIGKILL)
	app := waitForProcess(t, group, "sleep")
	parent.Process.Kill()
	parent.Wait()
	waitGone(t, app, 5*time.Second, "the app of a dead gateway's worker")
	waitGone(t, group, time.Second, "the keeper of a dead gateway's worker")
}
