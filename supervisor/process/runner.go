package process

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatewayd/gateway/internal/shim"
	"github.com/gatewayd/gateway/supervisor"
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

// Manager is nil: workers are the gateway's child processes and end with
// it (their keepers see to that).
func (r *Runner) Manager() supervisor.Manager { return nil }

// Start forks the shim as a keeper (internal/shim/keeper.go), which
// starts spec.Argv with the listener as fd 3 in the keeper's process group
// and ends that group if the gateway dies. The worker's pid is the keeper's,
// which is the group's id.
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
	cmd.Env = append(spec.Env, shim.EnvShim+"=1", shim.EnvKeep+"="+stopGrace(spec).String())
	if spec.Listener != nil {
		cmd.ExtraFiles = []*os.File{spec.Listener}
		cmd.Env = append(cmd.Env, shim.EnvFDs+"=1", shim.EnvFDNames+"=http")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: shim.ParentDeathSignal, Credential: spec.Credential}
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
		w.leaderGone.Store(true)
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

// groupGone returns once no live process is left in process group pgid.
func groupGone(pgid int) {
	for syscall.Kill(-pgid, 0) == nil && shim.GroupAlive(pgid, 0) {
		time.Sleep(50 * time.Millisecond)
	}
}

// stopGrace is how long the keeper gives the worker to stop if the
// gateway dies: the configured stop timeout.
func stopGrace(spec supervisor.WorkerSpec) time.Duration {
	if spec.StopTimeout > 0 {
		return spec.StopTimeout
	}
	return 10 * time.Second
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
	cmd        *exec.Cmd
	done       chan struct{}
	err        error
	tail       *ring
	stopping   atomic.Bool // it has been signalled
	leaderGone atomic.Bool // the keeper has exited; only its group is left
}

func (w *worker) PID() int              { return w.cmd.Process.Pid }
func (w *worker) Done() <-chan struct{} { return w.done }
func (w *worker) Err() error            { return w.err }

// Signal signals the worker's whole process group: a wrapper (sh -c "app;
// …") passes no signal on, and the app must stop with it. The keeper relays
// what it can catch (once, as for a kill(1) of the pid by an operator);
// the rest goes to the group directly.
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
	target := w.cmd.Process.Pid
	if s == syscall.SIGKILL || s == syscall.SIGSTOP || w.leaderGone.Load() {
		target = -target
	}
	if err := syscall.Kill(target, s); err != nil && err != syscall.ESRCH {
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
