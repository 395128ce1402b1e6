package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gateway/internal/shim"
	"github.com/gatewayd/gateway/supervisor"
)

// envMode makes the test binary a worker (see TestMain) once the shim has
// exec'd it.
const envMode = "PROCESS_TEST_MODE"

func TestMain(m *testing.M) {
	// Runner.Shim defaults to os.Executable(): in a test, this binary.
	if shim.Active() {
		os.Exit(shim.Main())
	}
	switch os.Getenv(envMode) {
	case "accept":
		os.Exit(acceptMain())
	case "parent":
		os.Exit(parentMain())
	case "pgrp":
		fmt.Printf("pid=%d pgrp=%d\n", os.Getpid(), syscall.Getpgrp())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// acceptMain accepts one connection on the socket-activated fd 3 and
// tells the client who it is.
func acceptMain() int {
	if os.Getenv("LISTEN_FDS") != "1" || os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		fmt.Fprintf(os.Stderr, "LISTEN_FDS=%q LISTEN_PID=%q, want 1 and %d\n", os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_PID"), os.Getpid())
		return 2
	}
	ln, err := net.FileListener(os.NewFile(3, "fd3"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c, err := ln.Accept()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer c.Close()
	fmt.Fprintf(c, "pgrp=%d fdnames=%s\n", syscall.Getpgrp(), os.Getenv("LISTEN_FDNAMES"))
	return 0
}

const waitLimit = 10 * time.Second

// goWorkerEnv is the environment for this binary as a worker: a binary
// built with -race otherwise sleeps a second on its way out.
func goWorkerEnv(mode string) []string {
	return append(baseEnv(), envMode+"="+mode, "GORACE=atexit_sleep_ms=0")
}

// baseEnv is this process's environment without socket-activation
// variables an outer service manager may have set.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LISTEN_") {
			env = append(env, kv)
		}
	}
	return env
}

// start starts spec; the cleanup kills what is still running, with its
// process group.
func start(t *testing.T, r *Runner, spec supervisor.WorkerSpec) supervisor.Worker {
	t.Helper()
	if spec.Env == nil {
		spec.Env = baseEnv()
	}
	w, err := r.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start(%q): %v", spec.Argv, err)
	}
	t.Cleanup(func() {
		syscall.Kill(-w.PID(), syscall.SIGKILL)
		select {
		case <-w.Done():
		case <-time.After(waitLimit):
			t.Errorf("worker %d did not end after SIGKILL", w.PID())
		}
	})
	return w
}

func waitDone(t *testing.T, w supervisor.Worker) {
	t.Helper()
	select {
	case <-w.Done():
	case <-time.After(waitLimit):
		t.Fatalf("worker %d did not exit within %v; its output: %q", w.PID(), waitLimit, w.Tail())
	}
}

func sh(script string) []string { return []string{"sh", "-c", script} }

// exitCode is the exit code in err, or -1 if it is not an exit error.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// logLines collects what a worker's logger receives.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.Message)
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }
func (l *logLines) got() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

func TestExitStatusAndOutput(t *testing.T) {
	logs := &logLines{}
	w := start(t, &Runner{}, supervisor.WorkerSpec{
		Argv: sh("echo hello; echo oops >&2; exit 3"), Log: slog.New(logs)})
	waitDone(t, w)
	if got := exitCode(w.Err()); got != 3 {
		t.Errorf("exit code: got %d (%v), want 3", got, w.Err())
	}
	want := []string{"hello", "oops"}
	if got := w.Tail(); !slices.Equal(got, want) {
		t.Errorf("Tail: got %q, want %q", got, want)
	}
	if got := logs.got(); !slices.Equal(got, want) {
		t.Errorf("lines logged: got %q, want %q", got, want)
	}
}

func TestCleanExit(t *testing.T) {
	w := start(t, &Runner{}, supervisor.WorkerSpec{Argv: []string{"true"}})
	waitDone(t, w)
	if err := w.Err(); err != nil {
		t.Errorf("Err: got %v, want nil for exit code 0", err)
	}
	if got := w.Tail(); len(got) != 0 {
		t.Errorf("Tail: got %q, want nothing", got)
	}
}

func TestTailKeepsLastLines(t *testing.T) {
	for _, c := range []struct {
		name string
		r    *Runner
		want []string
	}{
		{"3 lines", &Runner{TailLines: 3}, []string{"23", "24", "25"}},
		{"default of 20", &Runner{}, func() (s []string) {
			for i := 6; i <= 25; i++ {
				s = append(s, strconv.Itoa(i))
			}
			return s
		}()},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := start(t, c.r, supervisor.WorkerSpec{Argv: sh("i=1; while [ $i -le 25 ]; do echo $i; i=$((i+1)); done")})
			waitDone(t, w)
			if got := w.Tail(); !slices.Equal(got, c.want) {
				t.Errorf("Tail: got %q, want %q", got, c.want)
			}
		})
	}
}

func TestSocketActivationEnvironment(t *testing.T) {
	const script = `read -r _ _ _ _ pgrp _ </proc/$$/stat; echo "pid=$LISTEN_PID self=$$ pgrp=$pgrp fds=$LISTEN_FDS names=$LISTEN_FDNAMES shim=${GATEWAY_SHIM-unset}${GATEWAY_SHIM_FDS-unset}${GATEWAY_SHIM_FDNAMES-unset}${GATEWAY_SHIM_KEEP-unset}"`
	for _, c := range []struct {
		name     string
		listener bool
		want     string // %[1]d is the worker's pid (its keeper's), %[2]d the app's own
	}{
		{"with a listener", true, "pid=%[2]d self=%[2]d pgrp=%[1]d fds=1 names=http shim=unsetunsetunsetunset"},
		{"without a listener", false, "pid= self=%[2]d pgrp=%[1]d fds= names= shim=unsetunsetunsetunset"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := supervisor.WorkerSpec{Argv: sh(script)}
			if c.listener {
				spec.Listener = tcpListenerFile(t)
			}
			w := start(t, &Runner{}, spec)
			waitDone(t, w)
			got := w.Tail()
			var self int
			if len(got) == 1 {
				fmt.Sscanf(got[0][strings.Index(got[0], "self="):], "self=%d", &self)
			}
			want := fmt.Sprintf(c.want, w.PID(), self)
			if len(got) != 1 || got[0] != want || self == w.PID() {
				t.Errorf("worker's view: got %q, want %q", got, want)
			}
		})
	}
}

// tcpListenerFile returns a listening loopback socket as a file; the test
// keeps no listener of its own open on it.
func tcpListenerFile(t *testing.T) *os.File {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestListenerIsFD3(t *testing.T) {
	f := tcpListenerFile(t)
	addr := fileAddr(t, f)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := start(t, &Runner{}, supervisor.WorkerSpec{Argv: []string{exe}, Listener: f,
		Env: goWorkerEnv("accept")})
	f.Close() // as the supervisor does: the worker has its own copy

	c, err := net.DialTimeout("tcp", addr, waitLimit)
	if err != nil {
		t.Fatalf("dialing the worker's socket: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitLimit))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the worker's answer: %v (its output: %q)", err, w.Tail())
	}
	if want := fmt.Sprintf("pgrp=%d fdnames=http\n", w.PID()); line != want {
		t.Errorf("answer over fd 3: got %q, want %q", line, want)
	}
	waitDone(t, w)
	if err := w.Err(); err != nil {
		t.Errorf("Err: got %v, want nil; output %q", err, w.Tail())
	}
}

func fileAddr(t *testing.T, f *os.File) string {
	t.Helper()
	l, err := net.FileListener(f)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestOwnProcessGroup(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := start(t, &Runner{}, supervisor.WorkerSpec{Argv: []string{exe}, Env: goWorkerEnv("pgrp")})
	waitDone(t, w)
	// The app is the keeper's child, in the group the keeper leads.
	var pid, pgrp int
	got := w.Tail()
	if len(got) == 1 {
		fmt.Sscanf(got[0], "pid=%d pgrp=%d", &pid, &pgrp)
	}
	if len(got) != 1 || pgrp != w.PID() || pid == w.PID() || pid == 0 {
		t.Errorf("worker's view: got %q, want pgrp=%d and a pid of its own", got, w.PID())
	}
}

func TestSignalStopsWorker(t *testing.T) {
	w := start(t, &Runner{}, supervisor.WorkerSpec{Argv: []string{"sleep", "60"}})
	// Signal the worker, not the shim before it exec'd.
	waitForProcess(t, w.PID(), "sleep")
	if err := w.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal(SIGTERM): %v", err)
	}
	waitDone(t, w)
	var ee *exec.ExitError
	if !errors.As(w.Err(), &ee) {
		t.Fatalf("Err: got %v, want an exit error", w.Err())
	}
	if ws := ee.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("exit: got %v, want killed by SIGTERM", w.Err())
	}
	if err := w.Signal(syscall.SIGTERM); err == nil {
		t.Errorf("Signal after the exit: got nil, want an error")
	}
}

func TestWorkerSees(t *testing.T) {
	dir := t.TempDir()
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		script string
		env    []string
		want   string
	}{
		{"its environment", `printf '%s|%s\n' "$APP_SETTING" "$GATEWAY_GENERATION"`,
			[]string{"APP_SETTING=a value with spaces", "GATEWAY_GENERATION=7"}, "a value with spaces|7"},
		{"its directory", `pwd -P`, nil, realDir},
		{"only the environment given", `echo "${NOT_PASSED-unset}"`, nil, "unset"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("NOT_PASSED", "leaked") // in the runner's process, not in spec.Env
			env := slices.DeleteFunc(baseEnv(), func(kv string) bool { return strings.HasPrefix(kv, "NOT_PASSED=") })
			w := start(t, &Runner{}, supervisor.WorkerSpec{Argv: sh(c.script), Dir: dir, Env: append(env, c.env...)})
			waitDone(t, w)
			if got := w.Tail(); len(got) != 1 || got[0] != c.want {
				t.Errorf("worker printed %q, want %q", got, c.want)
			}
		})
	}
}

func TestCommandNotFound(t *testing.T) {
	w := start(t, &Runner{}, supervisor.WorkerSpec{Argv: []string{"gateway-test-no-such-command"}})
	waitDone(t, w)
	if got := exitCode(w.Err()); got != 127 {
		t.Errorf("exit code: got %d (%v), want 127", got, w.Err())
	}
	tail := strings.Join(w.Tail(), "\n")
	if !strings.Contains(tail, "gateway shim:") || !strings.Contains(tail, "gateway-test-no-such-command") {
		t.Errorf("Tail: got %q, want the shim to say what it cannot run", tail)
	}
}

func TestStartErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		r    *Runner
		spec supervisor.WorkerSpec
		want []string
	}{
		{name: "missing shim", r: &Runner{Shim: "/nonexistent/gateway-shim"},
			spec: supervisor.WorkerSpec{Argv: []string{"true"}}, want: []string{"/nonexistent/gateway-shim"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.r
			if r == nil {
				r = &Runner{}
			}
			c.spec.Env = baseEnv()
			w, err := r.Start(context.Background(), c.spec)
			if err == nil {
				w.Signal(syscall.SIGKILL)
				<-w.Done()
				t.Fatalf("Start: got a worker, want an error containing %q", c.want)
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Start error: got %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestRunsAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: only root may switch users")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody here: %v", err)
	}
	// The shim is this binary, which nobody may not be allowed to reach
	// where go test built it: run a copy from a world-readable directory.
	dir, err := os.MkdirTemp("", "gwshim")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shimPath := filepath.Join(dir, "shim")
	copyTestBinary(t, shimPath)
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			t.Skipf("user nobody cannot reach %s (%s is not world-executable)", shimPath, d)
		}
	}
	for _, c := range []struct {
		name, user, group string
		skip              string
		want              string // id -u:id -g
	}{
		{name: "user by name", user: "nobody", want: u.Uid + ":" + u.Gid},
		// app.user and app.group are "by name or number" (config.App).
		{name: "user by number", user: u.Uid, want: u.Uid + ":" + u.Gid},
		{name: "group by number", group: u.Gid, want: "0:" + u.Gid},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.skip != "" {
				t.Skip(c.skip)
			}
			cred, err := supervisor.Credential(c.user, c.group)
			if err != nil {
				t.Fatal(err)
			}
			w, err := (&Runner{Shim: shimPath}).Start(context.Background(), supervisor.WorkerSpec{
				Argv: sh(`echo "$(id -u):$(id -g)"`), Credential: cred, Dir: "/", Env: baseEnv()})
			if err != nil {
				t.Fatalf("Start as user %q group %q: %v", c.user, c.group, err)
			}
			waitDone(t, w)
			if got := w.Tail(); len(got) != 1 || got[0] != c.want {
				t.Errorf("id -u:id -g: got %q (%v), want %q", got, w.Err(), c.want)
			}
		})
	}
}

// copyTestBinary copies this test binary to path, executable by all.
func copyTestBinary(t *testing.T, path string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// A grandchild that keeps the output pipe open must not keep Done from
// closing once the worker itself has exited.
func TestDoneDespiteGrandchildHoldingOutput(t *testing.T) {
	w := start(t, &Runner{}, supervisor.WorkerSpec{Argv: sh("sleep 30 & echo started")})
	waitDone(t, w)
	if err := w.Err(); err != nil {
		t.Errorf("Err: got %v, want nil", err)
	}
	if got := w.Tail(); !slices.Contains(got, "started") {
		t.Errorf("Tail: got %q, want it to hold %q", got, "started")
	}
}

// A line longer than the scanner's limit must neither kill the worker
// (SIGPIPE on a closed pipe) nor stop the capture of later lines.
func TestLongOutputLine(t *testing.T) {
	w := start(t, &Runner{}, supervisor.WorkerSpec{
		Argv: sh("head -c 2000000 /dev/zero | tr '\\0' x; echo; echo after")})
	waitDone(t, w)
	if err := w.Err(); err != nil {
		t.Errorf("Err: got %v, want nil (the worker printed a long line and exited 0)", err)
	}
	if got := w.Tail(); len(got) == 0 || got[len(got)-1] != "after" {
		n := len(got)
		t.Errorf("Tail: got %d lines ending %q, want the last one to be %q", n, got[max(0, n-1):], "after")
	}
}

func TestRing(t *testing.T) {
	for _, c := range []struct {
		max  int
		add  []string
		want []string
	}{
		{3, nil, nil},
		{3, []string{"a", "b"}, []string{"a", "b"}},
		{3, []string{"a", "b", "c", "d", "e"}, []string{"c", "d", "e"}},
		{1, []string{"a", "b"}, []string{"b"}},
	} {
		r := &ring{max: c.max}
		for _, l := range c.add {
			r.add(l)
		}
		got := r.lines()
		if !slices.Equal(got, c.want) {
			t.Errorf("ring(max %d) after %q: got %q, want %q", c.max, c.add, got, c.want)
		}
		if len(got) > 0 {
			got[0] = "changed"
			if r.lines()[0] == "changed" {
				t.Errorf("ring.lines shares its buffer with the caller")
			}
		}
	}
}
