package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatewayd/gateway/config"
)

// startInstance gives one worker its socket, starts it, and waits until
// its readiness check passes. It runs off the loop.
func (s *Supervisor) startInstance(g *generation, index int) (*instance, error) {
	in := &instance{index: index}
	spec, err := s.workerSpec(g, in)
	if err != nil {
		in.removeSocket()
		return nil, fmt.Errorf("instance %d: %w", index, err)
	}
	w, err := s.o.Runner.Start(s.ctx, spec)
	if spec.Listener != nil {
		// The worker has its own copy. Ours must go now: while the gateway
		// holds it, connections to a dead worker wait in the backlog
		// instead of being refused.
		spec.Listener.Close()
	}
	if err != nil {
		in.removeSocket()
		return nil, fmt.Errorf("instance %d: starting %q: %w", index, spec.Argv[0], err)
	}
	in.worker = w
	if err := s.probe(g, in); err != nil {
		s.stopInstances(g, []*instance{in}, g.cfg.App.StopTimeout.Duration)
		return nil, fmt.Errorf("instance %d (pid %d): %w%s", index, w.PID(), err, tail(w))
	}
	in.ready = true
	return in, nil
}

func tail(w Worker) string {
	lines := w.Tail()
	if len(lines) == 0 {
		return "; the worker printed nothing"
	}
	return "; its last output:\n    " + strings.Join(lines, "\n    ")
}

// workerSpec creates the instance's socket and the command that will use it.
func (s *Supervisor) workerSpec(g *generation, in *instance) (WorkerSpec, error) {
	app := g.cfg.App
	cred, err := Credential(app.User, app.Group)
	if err != nil {
		return WorkerSpec{}, err
	}
	spec := WorkerSpec{App: app.Name, Generation: g.id, Instance: in.index, Revision: g.revision,
		Dir: g.dir, Credential: cred, Log: s.genLog(g).With("instance", in.index),
		StopTimeout: app.StopTimeout.Duration, UnitStopTimeout: unitStopTimeout(g.cfg), Limits: limits(g.cfg.Systemd)}
	port := ""
	if app.Socket == "fd" {
		f, path, err := listenUnix(g.cfg.Gateway.RuntimeDirectory, app.Name, g.id, in.index)
		if err != nil {
			return spec, err
		}
		spec.Listener, in.network, in.address, in.socket = f, "unix", path, path
	} else {
		p, err := freePort()
		if err != nil {
			return spec, err
		}
		port = strconv.Itoa(p)
		in.network, in.address = "tcp", net.JoinHostPort("127.0.0.1", port)
	}
	repl := strings.NewReplacer("{port}", port, "{dir}", g.dir,
		"{generation}", strconv.Itoa(g.id), "{instance}", strconv.Itoa(in.index))
	for _, a := range app.Command {
		spec.Argv = append(spec.Argv, repl.Replace(a))
	}
	if !filepath.IsAbs(spec.Argv[0]) && strings.Contains(spec.Argv[0], "/") {
		spec.Argv[0] = filepath.Join(g.dir, spec.Argv[0])
	}
	spec.Env = workerEnv(g, in.index, port)
	return spec, nil
}

// listenUnix creates the worker's socket; the gateway keeps the path (to
// connect to) and hands the fd to the worker.
func listenUnix(dir, app string, gen, index int) (*os.File, string, error) {
	path := filepath.Join(dir, fmt.Sprintf("%s-gen%d-%d.sock", app, gen, index))
	if len(path) >= 108 {
		return nil, "", fmt.Errorf("socket path %s is longer than a unix socket allows: use a shorter gateway.runtime_directory", path)
	}
	os.Remove(path)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, "", fmt.Errorf("creating the worker's socket: %w", err)
	}
	l.SetUnlinkOnClose(false)
	defer l.Close()
	f, err := l.File()
	if err != nil {
		os.Remove(path)
		return nil, "", fmt.Errorf("creating the worker's socket: %w", err)
	}
	return f, path, nil
}

// freePort asks the kernel for an unused loopback port. The worker binds it
// itself, so another process could take it in between; the readiness check
// then fails and the upgrade reports it.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// workerEnv is the gateway's environment without what belongs to the
// gateway's own service (notify socket, listeners, watchdog), plus the app's
// configured variables and the worker's identity.
func workerEnv(g *generation, index int, port string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "NOTIFY_SOCKET", k == "PORT", strings.HasPrefix(k, "LISTEN_"),
			strings.HasPrefix(k, "WATCHDOG_"), strings.HasPrefix(k, "GATEWAY_"):
			continue
		}
		env = append(env, kv)
	}
	keys := make([]string, 0, len(g.cfg.App.Environment))
	for k := range g.cfg.App.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+g.cfg.App.Environment[k])
	}
	env = append(env, "GATEWAY_APP="+g.cfg.App.Name, "GATEWAY_GENERATION="+strconv.Itoa(g.id),
		"GATEWAY_INSTANCE="+strconv.Itoa(index), "GATEWAY_REVISION="+g.revision)
	if port != "" {
		env = append(env, "PORT="+port)
	}
	return env
}

// probe polls the readiness path until it answers 2xx, the worker exits, or
// the readiness timeout passes.
func (s *Supervisor) probe(g *generation, in *instance) error {
	rd := g.cfg.Readiness
	ctx, cancel := context.WithTimeout(s.ctx, rd.Timeout.Duration)
	defer cancel()
	exited, cancelOnExit := context.WithCancel(ctx)
	defer cancelOnExit()
	done := in.worker.Done()
	go func() {
		select {
		case <-done:
			cancelOnExit()
		case <-exited.Done():
		}
	}()
	dialer := &net.Dialer{Timeout: time.Second}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, in.network, in.address)
		},
	}}
	last := errors.New("no answer yet")
	t := time.NewTicker(rd.Interval.Duration)
	defer t.Stop()
	for {
		last = probeOnce(exited, client, rd.Path, last)
		if last == nil {
			return nil
		}
		select {
		case <-in.worker.Done():
			return fmt.Errorf("worker exited before it was ready (%v)", exitText(in.worker.Err()))
		case <-ctx.Done():
			if s.ctx.Err() != nil {
				return errors.New("the gateway is shutting down")
			}
			return fmt.Errorf("not ready after %v: GET %s: %v", rd.Timeout.Duration, rd.Path, last)
		case <-t.C:
		}
	}
}

func probeOnce(ctx context.Context, c *http.Client, path string, prev error) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://worker"+path, nil)
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return prev
		}
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return fmt.Errorf("answered %s", resp.Status)
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// stopInstances stops the workers of insts (of g) at once: SIGTERM, then
// SIGKILL after grace, which is logged. It returns when all have exited.
func (s *Supervisor) stopInstances(g *generation, insts []*instance, grace time.Duration) {
	var wg sync.WaitGroup
	for _, in := range insts {
		if in == nil || in.worker == nil {
			continue
		}
		wg.Go(func() {
			pid := in.worker.PID()
			if StopWorker(context.Background(), in.worker, grace) {
				s.genLog(g).Warn("a worker did not stop within app.stop_timeout; killed it (SIGKILL)", "event", "killed",
					"instance", in.index, "pid", pid, "stop_timeout", grace)
			}
			in.removeSocket()
		})
	}
	wg.Wait()
}

// StopWorker sends SIGTERM, then SIGKILL after grace, and returns once the
// worker has exited or ctx has ended; killed says whether it took SIGKILL.
// Runners that stop workers themselves (the systemd runner, next to the
// scope's stop job) use it too.
func StopWorker(ctx context.Context, w Worker, grace time.Duration) (killed bool) {
	w.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-w.Done():
		return false
	case <-t.C:
	case <-ctx.Done():
	}
	w.Signal(syscall.SIGKILL)
	select {
	case <-w.Done():
	case <-ctx.Done():
	}
	return true
}

// unitStopTimeout leaves a unit stopped from outside room for what the
// gateway does then: start a replacement, close held connections over the
// drain window, then stop the workers; the manager kills what is left
// after it.
func unitStopTimeout(cfg *config.Config) time.Duration {
	return cfg.Readiness.Timeout.Duration + cfg.Drain.CloseWindow.Duration + cfg.App.StopTimeout.Duration + 10*time.Second
}

func limits(c config.Systemd) Limits {
	var l Limits
	l.MemoryMax, _ = c.MemoryMaxBytes()
	l.CPUQuotaPerSecUSec, _ = c.CPUQuotaPerSecUSec()
	if c.TasksMax > 0 {
		l.TasksMax = uint64(c.TasksMax)
	}
	return l
}
