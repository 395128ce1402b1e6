package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/supervisor"
	"github.com/gatewayd/gateway/supervisor/process"
)

// These tests run real workers through the process runner and its shim:
// the worker is this test binary in the mode of TestMain's testWorkerMain.

// traffic is a Traffic with no sessions at all.
type traffic struct {
	mu   sync.Mutex
	last *fleet.Routes
}

var _ supervisor.Traffic = (*traffic)(nil)

func (t *traffic) Publish(r *fleet.Routes) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last = r
}
func (t *traffic) routing() *fleet.Routes {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}
func (t *traffic) SessionsChanged() <-chan struct{}                  { return nil }
func (t *traffic) RequestsDone() <-chan struct{}                     { return nil }
func (t *traffic) Usage(int) fleet.Usage                             { return fleet.Usage{} }
func (t *traffic) DropGeneration(int) int                            { return 0 }
func (t *traffic) DropInstance(int, int) int                         { return 0 }
func (t *traffic) Forget(int)                                        {}
func (t *traffic) CloseHeld(context.Context, int, time.Duration) int { return 0 }
func (t *traffic) KeepPins(func(int, int) bool) map[int]int          { return nil }
func (t *traffic) RestorePins([]fleet.Pin) int                       { return 0 }

// recorder is the process runner, keeping every worker it started.
type recorder struct {
	process.Runner
	mu      sync.Mutex
	workers []supervisor.Worker
}

func (r *recorder) Start(ctx context.Context, spec supervisor.WorkerSpec) (supervisor.Worker, error) {
	w, err := r.Runner.Start(ctx, spec)
	if err == nil {
		r.mu.Lock()
		r.workers = append(r.workers, w)
		r.mu.Unlock()
	}
	return w, err
}

func (r *recorder) all() []supervisor.Worker {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.workers)
}

type e2e struct {
	t       *testing.T
	root    string
	sup     *supervisor.Supervisor
	runner  *recorder
	traffic *traffic
	mu      sync.Mutex
	socket  string
	command string // TOML array of the next config's app.command
	done    chan struct{}
	runErr  error
}

func (e *e2e) config() (*config.Config, error) {
	e.mu.Lock()
	command := e.command
	e.mu.Unlock()
	return config.Parse(fmt.Appendf(nil, `[gateway]
runtime_directory = %q
state_directory = %q
[app]
name = "e2e"
directory = %q
command = %s
socket = %q
stop_timeout = "5s"
[app.environment]
SUPERVISOR_TEST_WORKER = "http"
GORACE = "atexit_sleep_ms=0"
[readiness]
timeout = "10s"
interval = "10ms"
`, filepath.Join(e.root, "rt"), filepath.Join(e.root, "state"), filepath.Join(e.root, "current"), command, e.socket), "e2e.toml")
}

func (e *e2e) relink(target string) {
	e.t.Helper()
	tmp := filepath.Join(e.root, "current.tmp")
	if err := os.Symlink(filepath.Join(e.root, target), tmp); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(e.root, "current")); err != nil {
		e.t.Fatal(err)
	}
}

func startE2E(t *testing.T, socket string) *e2e {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() { supervisor.CheckGoroutines(t, base) })
	// A short root: the runtime directory holds unix sockets.
	root, err := os.MkdirTemp("", "gwe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, root: root, runner: &recorder{}, traffic: &traffic{}, socket: socket,
		command: fmt.Sprintf("[%q]", exe)}
	for _, r := range []string{"r1", "r2"} {
		if err := os.MkdirAll(filepath.Join(root, r), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.relink("r1")
	cfg, err := e.config()
	if err != nil {
		t.Fatal(err)
	}
	e.sup, err = supervisor.New(supervisor.Options{Config: cfg, Load: e.config, Runner: e.runner, Traffic: e.traffic,
		Tick: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		e.runErr = e.sup.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-e.done:
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30s of its context's end")
			return
		}
		for _, w := range e.runner.all() {
			select {
			case <-w.Done():
			default:
				t.Errorf("worker %d still runs after Run returned", w.PID())
			}
		}
	})
	select {
	case <-e.sup.Ready():
	case <-e.done:
		t.Fatalf("Run returned before the first generation was ready: %v", e.runErr)
	case <-time.After(30 * time.Second):
		t.Fatalf("the first generation was not ready within 30s")
	}
	return e
}

// ask GETs / from the active generation's first instance.
func (e *e2e) ask() string {
	e.t.Helper()
	r := e.traffic.routing()
	if r.Active == nil || len(r.Active.Instances) == 0 {
		e.t.Fatalf("no active instance published")
	}
	ep := r.Active.Instances[0]
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, ep.Network, ep.Address)
		}}}
	resp, err := c.Get("http://worker/")
	if err != nil {
		e.t.Fatalf("GET via %s %s: %v", ep.Network, ep.Address, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(body))
}

func (e *e2e) pid(gen int) int {
	e.t.Helper()
	gs, err := e.sup.Generations(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, g := range gs {
		if g.ID == gen && len(g.PIDs) == 1 {
			return g.PIDs[0]
		}
	}
	e.t.Fatalf("generation %d with one worker not found in %+v", gen, gs)
	return 0
}

func TestProcessRunnerEndToEnd(t *testing.T) {
	for _, socket := range []string{"fd", "port"} {
		t.Run(socket, func(t *testing.T) {
			e := startE2E(t, socket)
			if got, want := e.ask(), fmt.Sprintf("pgrp=%d generation=1 instance=1 revision=r1", e.pid(1)); got != want {
				t.Errorf("generation 1 answers %q, want %q", got, want)
			}

			e.relink("r2")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if g, err := e.sup.Upgrade(ctx); g != 2 || err != nil {
				t.Fatalf("Upgrade() = %d, %v; want 2, nil", g, err)
			}
			if got, want := e.ask(), fmt.Sprintf("pgrp=%d generation=2 instance=1 revision=r2", e.pid(2)); got != want {
				t.Errorf("generation 2 answers %q, want %q", got, want)
			}

			// Generation 1 has no sessions: it retires, its worker stops cleanly.
			old := e.runner.all()[0]
			supervisor.WaitFor(t, "generation 1's worker to stop", func() error {
				select {
				case <-old.Done():
					return nil
				default:
					return errors.New("it still runs")
				}
			})
			if err := old.Err(); err != nil {
				t.Errorf("generation 1's worker: got exit %v, want 0 after SIGTERM; output %q", err, old.Tail())
			}
			if tail := old.Tail(); !slices.Contains(tail, "test worker stopping") {
				t.Errorf("generation 1's worker output: got %q, want it to have stopped on SIGTERM", tail)
			}
		})
	}
}

func TestProcessRunnerUpgradeFailure(t *testing.T) {
	e := startE2E(t, "port")
	e.mu.Lock()
	e.command = `["sh", "-c", "echo starting; echo 'fatal: cannot open db' >&2; exit 4"]`
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := e.sup.Upgrade(ctx)
	if err == nil {
		t.Fatalf("Upgrade: got nil error, want the worker's exit")
	}
	for _, want := range []string{"generation 2", "exit status 4", "starting", "fatal: cannot open db"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Upgrade error: got %q, want it to contain %q", err, want)
		}
	}
	if got, want := e.ask(), fmt.Sprintf("pgrp=%d generation=1 instance=1 revision=r1", e.pid(1)); got != want {
		t.Errorf("after the failed upgrade generation 1 answers %q, want %q", got, want)
	}
}
