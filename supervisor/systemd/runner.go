package systemd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"

	"github.com/godbus/dbus/v5"

	"github.com/gatewayd/gateway/internal/shim"
	"github.com/gatewayd/gateway/supervisor"
)

var (
	_ supervisor.Runner  = (*Runner)(nil)
	_ supervisor.Manager = (*Runner)(nil)
)

// Options configure a Runner.
type Options struct {
	// User selects the session bus of a `systemd --user` manager instead of
	// the system bus.
	User bool
	// UnitPrefix names the scopes: "<prefix>-gen<N>.scope". If empty,
	// "gateway"; template instances use "gateway-<instance>".
	UnitPrefix string
	// Slice holds the scopes. If empty, "gateway.slice" under the system
	// manager and "app.slice" under a user manager.
	Slice string
	// Controller is a bus name the gateway owns (or will own) that
	// survives its restarts; scopes name it as their Controller so that a
	// later gateway process still receives RequestStop. If empty, or if it
	// cannot be acquired, the connection's unique name is used.
	Controller string
	// Conn is the gateway's connection to the manager's bus, on which
	// RequestStop arrives (and which owns Controller). If nil, the runner
	// opens its own. The runner does not close a Conn it was given.
	Conn *dbus.Conn
	// Shim is the executable started in shim mode. If empty, this process's
	// own executable.
	Shim string
	// Logger receives the runner's logs. If nil, slog.Default().
	Logger *slog.Logger
}

// Runner starts workers in transient scopes.
type Runner struct {
	o          Options
	log        *slog.Logger
	bus        *bus
	signals    *dbus.Conn // RequestStop arrives here
	controller string
	requests   chan int

	mu        sync.Mutex
	gens      map[int]*scope
	paths     map[dbus.ObjectPath]int
	done      chan struct{}
	closeOnce sync.Once
}

// New connects to the manager and starts listening for RequestStop.
func New(ctx context.Context, o Options) (*Runner, error) {
	if o.UnitPrefix == "" {
		o.UnitPrefix = "gateway"
	}
	if o.Slice == "" {
		o.Slice = "gateway.slice"
		if o.User {
			o.Slice = "app.slice"
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &Runner{o: o, log: o.Logger, bus: &bus{user: o.User}, requests: make(chan int, 16),
		gens: map[int]*scope{}, paths: map[dbus.ObjectPath]int{}, done: make(chan struct{})}
	if _, err := r.bus.get(ctx); err != nil {
		return nil, err
	}
	if err := r.listen(); err != nil {
		r.bus.close()
		return nil, err
	}
	return r, nil
}

func (r *Runner) Name() string { return "systemd" }

// Manager is the runner itself: each generation is a scope of systemd.
func (r *Runner) Manager() supervisor.Manager { return r }

// Close stops listening and closes the bus connections. Scopes stay.
func (r *Runner) Close() {
	r.closeOnce.Do(func() {
		close(r.done)
		if r.o.Conn == nil {
			r.signals.Close()
		}
		r.bus.close()
	})
}

// Start forks the shim, has systemd move it into the generation's scope,
// and then lets it exec the worker.
func (r *Runner) Start(ctx context.Context, spec supervisor.WorkerSpec) (supervisor.Worker, error) {
	cmd, wait, goAhead, err := r.shimCommand(spec)
	if err != nil {
		return nil, err
	}
	err = cmd.Start()
	wait.Close() // the shim has its copy
	if err != nil {
		goAhead.Close()
		return nil, err
	}
	w := newChildWorker(cmd, r.scopeName(spec.Generation), r.o.User)
	if err := r.place(ctx, spec, cmd.Process.Pid); err != nil {
		goAhead.Close() // the shim gives up and exits
		<-w.Done()
		return nil, err
	}
	_, err = goAhead.Write([]byte{1})
	goAhead.Close()
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("releasing the worker: %w", err)
	}
	r.track(spec.Generation, w)
	return w, nil
}

// shimCommand prepares the shim: fd 3 is the worker's socket (if any), the
// next fd the read end of the go-ahead pipe. Output goes where the
// gateway's goes (the journal under systemd) rather than through a pipe to
// the gateway, so that it outlives a restart of the gateway; the shim
// reconnects it to the journal from inside the scope when it can.
func (r *Runner) shimCommand(spec supervisor.WorkerSpec) (cmd *exec.Cmd, wait, goAhead *os.File, err error) {
	exe := r.o.Shim
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, nil, nil, fmt.Errorf("finding the gateway's own executable for the shim: %w", err)
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, nil, err
	}
	cmd = exec.Command(exe, spec.Argv...)
	cmd.Dir = spec.Dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Env = append(spec.Env, shim.EnvShim+"=1", shim.EnvJournal+"="+spec.App)
	if spec.Listener != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, spec.Listener)
		cmd.Env = append(cmd.Env, shim.EnvFDs+"=1", shim.EnvFDNames+"=http")
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, pr)
	cmd.Env = append(cmd.Env, shim.EnvWaitFD+"="+strconv.Itoa(2+len(cmd.ExtraFiles)))
	// No Pdeathsig: workers outlive a restart of the gateway.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: spec.Credential}
	return cmd, pr, pw, nil
}
