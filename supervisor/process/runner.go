package process

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatewayd/gateway/supervisor"
	"github.com/gatewayd/gateway/supervisor/shim"
)

var _ supervisor.Runner = (*Runner)(nil)

// Runner starts workers as child processes.
type Runner struct {
	// Shim is the executable started in shim mode. If empty, this process's
	// own executable.
	Shim string
	// TailLines is how many output lines a worker keeps for error reports.
	// If zero, 20.
	TailLines int
}

func (r *Runner) Name() string { return "process" }

// Start forks the shim, which execs spec.Argv with the listener as fd 3.
func (r *Runner) Start(ctx context.Context, spec supervisor.WorkerSpec) (supervisor.Worker, error) {
	exe := r.Shim
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding the gateway's own executable for the shim: %w", err)
		}
	}
	cmd := exec.Command(exe, spec.Argv...)
	cmd.Dir = spec.Dir
	cmd.Env = append(spec.Env, shim.EnvShim+"=1")
	if spec.Listener != nil {
		cmd.ExtraFiles = []*os.File{spec.Listener}
		cmd.Env = append(cmd.Env, shim.EnvFDs+"=1", shim.EnvFDNames+"=http")
	}
	cred, err := supervisor.Credential(spec.User, spec.Group)
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM, Credential: cred}
	out, err := r.capture(cmd, spec)
	if err != nil {
		return nil, err
	}
	err = cmd.Start()
	// The child has its copy now; the parent's must go so that the reader
	// sees EOF when the worker exits.
	out.w.Close()
	if err != nil {
		return nil, err
	}
	w := &worker{cmd: cmd, done: make(chan struct{}), tail: out.tail}
	go func() {
		err := cmd.Wait()
		// The worker is its process group (Setpgid), and done when the
		// group is. Being stopped, it is waited for (an app under a wrapper,
		// sh -c "app; …", may still be shutting down; the stop's SIGKILL
		// goes to the group). Exited by itself, what it left behind is
		// killed: nobody would stop it later.
		if !w.stopping.Load() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		groupGone(cmd.Process.Pid)
		// Let the last lines reach the tail before anyone reads it, unless a
		// grandchild holds the pipe open.
		select {
		case <-out.drained:
		case <-time.After(time.Second):
		}
		w.err = err
		close(w.done)
	}()
	return w, nil
}

// groupGone returns once no live process is left in process group pgid
// (zombies waiting for a parent that is not ours do not count).
func groupGone(pgid int) {
	for syscall.Kill(-pgid, 0) == nil && groupAlive(pgid) {
		time.Sleep(50 * time.Millisecond)
	}
}

// groupAlive reports whether a process of group pgid is alive, from /proc.
func groupAlive(pgid int) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true // cannot tell: kill(2) said someone is there
	}
	group := strconv.Itoa(pgid)
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue // not a process
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces and parens.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 2 && f[2] == group && f[0] != "Z" {
			return true
		}
	}
	return false
}

// output copies a worker's stdout and stderr, line by line, to its logger
// and keeps the last lines.
type output struct {
	w       *os.File
	tail    *ring
	drained chan struct{}
}

func (r *Runner) capture(cmd *exec.Cmd, spec supervisor.WorkerSpec) (*output, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	n := r.TailLines
	if n <= 0 {
		n = 20
	}
	o := &output{w: pw, tail: &ring{max: n}, drained: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = pw, pw
	go func() {
		defer close(o.drained)
		defer pr.Close()
		br := bufio.NewReaderSize(pr, 64<<10)
		for {
			line, err := readLine(br)
			if err != nil && line == "" {
				return
			}
			o.tail.add(line)
			if spec.Log != nil {
				spec.Log.Info(line)
			}
			if err != nil {
				return
			}
		}
	}()
	return o, nil
}

// maxLine bounds a line kept from a worker's output: the rest of a longer
// line is read and dropped, so that the worker never writes into a closed
// pipe (and dies of SIGPIPE) and later lines are still captured.
const maxLine = 1 << 20

// readLine returns the next line without its end of line, cut to maxLine
// bytes, and io.EOF with the last line if it has no newline.
func readLine(br *bufio.Reader) (string, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if room := maxLine - len(line); room > 0 {
			line = append(line, chunk[:min(len(chunk), room)]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		return string(line), err
	}
}

type worker struct {
	cmd      *exec.Cmd
	done     chan struct{}
	err      error
	tail     *ring
	stopping atomic.Bool // it has been signalled
}

func (w *worker) PID() int              { return w.cmd.Process.Pid }
func (w *worker) Done() <-chan struct{} { return w.done }
func (w *worker) Err() error            { return w.err }

// Signal signals the worker's whole process group: a wrapper (sh -c "app;
// …") passes no signal on, and the app must stop with it.
func (w *worker) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return w.cmd.Process.Signal(sig)
	}
	select {
	case <-w.done:
		return os.ErrProcessDone // its group id may belong to others by now
	default:
	}
	w.stopping.Store(true)
	if err := syscall.Kill(-w.cmd.Process.Pid, s); err != nil && err != syscall.ESRCH {
		return err
	}
	return nil
}
func (w *worker) Tail() []string { return w.tail.lines() }

// ring keeps the last max lines.
type ring struct {
	mu  sync.Mutex
	max int
	buf []string
}

func (r *ring) add(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) == r.max {
		r.buf = r.buf[1:]
	}
	r.buf = append(r.buf, line)
}

func (r *ring) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.buf...)
}
