package supervisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/tests/gwtest"
)

// waitLimit bounds every wait in these tests; a condition that is not met
// by then is a failure, never a reason to wait longer.
const waitLimit = 5 * time.Second

// waitFor polls cond until it returns nil, and fails the test with what it
// waited for and cond's last answer if that takes longer than waitLimit.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", waitLimit, what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitClosed waits for ch to be closed.
func waitClosed(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLimit):
		t.Fatalf("timed out after %v waiting for %s", waitLimit, what)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// checkGoroutines fails t if the number of goroutines does not come back
// to base within a few seconds, and prints the stacks of all of them.
func checkGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutines leaked: got %d, want at most %d (the count before the supervisor started); all stacks:\n%s",
				runtime.NumGoroutine(), base, buf)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// knobs are the config settings the tests vary; zero means the test default.
type knobs struct {
	socket         string // "port" or "fd"
	instances      int
	revision       string
	stopTimeout    string
	readyTimeout   string
	maxGenerations int
	maxTime        string
	closeWindow    string
	canary         string // the [canary] table's lines
}

func (k knobs) toml(d *dirs) string {
	return fmt.Sprintf(`[gateway]
runtime_directory = %q
state_directory = %q

[app]
name = "t"
directory = %q
command = ["bin/app", "--generation={generation}", "--instance={instance}", "--dir={dir}"]
socket = %q
instances = %d
revision = %q
stop_timeout = %q
restart_backoff = "10ms"
restart_backoff_max = "40ms"

[app.environment]
APP_MODE = "test"

[readiness]
path = "/ready"
timeout = %q
interval = "10ms"

[drain]
max_time = %q
close_window = %q
max_generations = %d

[canary]
%s
`, d.rt, d.state, d.app, cmp.Or(k.socket, "port"), cmp.Or(k.instances, 1), k.revision,
		cmp.Or(k.stopTimeout, "1s"), cmp.Or(k.readyTimeout, "2s"),
		cmp.Or(k.maxTime, "24h"), cmp.Or(k.closeWindow, "0s"), cmp.Or(k.maxGenerations, 5), k.canary)
}

func (k knobs) parse(d *dirs) (*config.Config, error) {
	return config.Parse([]byte(k.toml(d)), "test.toml")
}

// dirs are one test's directories: app is app.directory, a symlink to
// releases/r1 at first.
type dirs struct {
	root, rt, state, app string
}

func newDirs(t *testing.T) *dirs {
	t.Helper()
	root := t.TempDir()
	// Worker sockets live in the runtime directory; t.TempDir's long names
	// could pass the 108 bytes a unix socket path may have.
	rt, err := os.MkdirTemp("", "gwt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rt) })
	d := &dirs{root: root, rt: rt, state: filepath.Join(root, "state"), app: filepath.Join(root, "current")}
	for _, r := range []string{"r1", "r2", "r3"} {
		if err := os.MkdirAll(d.release(r), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d.relink(t, d.release("r1"))
	return d
}

func (d *dirs) release(name string) string { return filepath.Join(d.root, "releases", name) }

// resolved is what a generation's Directory should be for release name.
func (d *dirs) resolved(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.EvalSymlinks(d.release(name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// relink points app.directory at target, atomically as a deploy would.
func (d *dirs) relink(t *testing.T, target string) {
	t.Helper()
	tmp := d.app + ".tmp"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, d.app); err != nil {
		t.Fatal(err)
	}
}

// harness runs one Supervisor on a fake runner and a fake traffic.
type harness struct {
	t       *testing.T
	d       *dirs
	runner  *fakeRunner
	traffic *fakeTraffic
	obs     *fakeObserver
	figures fakeFigures
	logs    *gwtest.Buffer
	tick    time.Duration
	sup     *Supervisor
	changes atomic.Int32 // OnChange calls

	mu      sync.Mutex
	next    knobs // what Load returns
	loadErr error

	cancel context.CancelFunc
	done   chan struct{}
	runErr error
}

// newHarness prepares a supervisor; the test may set up the runner and
// traffic before run. Its cleanup stops the supervisor, checks that every
// worker was stopped and that no goroutine is left behind.
func newHarness(t *testing.T, k knobs) *harness {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() { checkGoroutines(t, base) })
	h := &harness{t: t, d: newDirs(t), runner: newFakeRunner(), traffic: newFakeTraffic(), obs: newFakeObserver(),
		logs: &gwtest.Buffer{}, tick: 10 * time.Millisecond, next: k}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("supervisor log:\n%s", h.logs.String())
		}
	})
	t.Cleanup(h.cleanup)
	return h
}

// startHarness is newHarness, then the setups (which may change the
// runner, the traffic or the tick), then run; it waits until the first
// generation is active.
func startHarness(t *testing.T, k knobs, setups ...func(h *harness)) *harness {
	t.Helper()
	h := newHarness(t, k)
	for _, f := range setups {
		f(h)
	}
	h.run()
	h.waitReady()
	return h
}

func (h *harness) run() {
	h.t.Helper()
	cfg, err := h.next.parse(h.d)
	if err != nil {
		h.t.Fatalf("the test config does not parse: %v", err)
	}
	h.sup, err = New(Options{Config: cfg, Runner: h.runner, Traffic: h.traffic, Load: h.load, Tick: h.tick, Observer: h.obs,
		Figures: h.figures.get, OnChange: func() { h.changes.Add(1) },
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		h.runErr = h.sup.Run(ctx)
	}()
}

func (h *harness) load() (*config.Config, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.loadErr != nil {
		return nil, h.loadErr
	}
	return h.next.parse(h.d)
}

// setNext changes the config the next upgrade reads.
func (h *harness) setNext(f func(k *knobs)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(&h.next)
}

func (h *harness) setLoadErr(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.loadErr = err
}

func (h *harness) waitReady() {
	h.t.Helper()
	select {
	case <-h.sup.Ready():
	case <-h.done:
		h.t.Fatalf("Run returned before the first generation was ready: %v", h.runErr)
	case <-time.After(waitLimit):
		h.t.Fatalf("timed out after %v waiting for the first generation to be ready", waitLimit)
	}
}

// wait waits for Run to return and returns its error.
func (h *harness) wait() error {
	h.t.Helper()
	waitClosed(h.t, "Run to return", h.done)
	return h.runErr
}

// stop cancels Run's context and returns Run's error.
func (h *harness) stop() error {
	h.t.Helper()
	h.cancel()
	return h.wait()
}

func (h *harness) cleanup() {
	if h.sup == nil {
		return
	}
	h.cancel()
	select {
	case <-h.done:
	case <-time.After(waitLimit):
		h.t.Errorf("Run did not return within %v of its context's end", waitLimit)
		return
	}
	for _, w := range h.runner.all() {
		if !w.exited() {
			h.t.Errorf("%s still runs after Run returned", w)
			w.finish(errors.New("killed by the test"))
		}
	}
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	h.t.Cleanup(cancel)
	return ctx
}

func (h *harness) upgrade() (int, error) {
	h.t.Helper()
	return h.sup.Upgrade(h.ctx())
}

// mustUpgrade upgrades and fails the test unless generation want is active.
func (h *harness) mustUpgrade(want int) {
	h.t.Helper()
	got, err := h.upgrade()
	if err != nil || got != want {
		h.t.Fatalf("Upgrade() = %d, %v; want %d, nil", got, err, want)
	}
}

func (h *harness) gens() []fleet.Generation {
	h.t.Helper()
	gs, err := h.sup.Generations(h.ctx())
	if err != nil {
		h.t.Fatalf("Generations: %v", err)
	}
	return gs
}

func (h *harness) gen(id int) (fleet.Generation, bool) {
	h.t.Helper()
	for _, g := range h.gens() {
		if g.ID == id {
			return g, true
		}
	}
	return fleet.Generation{}, false
}

// states is the generations as text: "1:detached 2:active".
func (h *harness) states() string {
	h.t.Helper()
	var s []string
	for _, g := range h.gens() {
		s = append(s, fmt.Sprintf("%d:%s", g.ID, g.State))
	}
	return strings.Join(s, " ")
}

// waitStates waits until the generations are want.
func (h *harness) waitStates(want string) {
	h.t.Helper()
	waitFor(h.t, "generations "+want, func() error {
		if got := h.states(); got != want {
			return fmt.Errorf("got %q", got)
		}
		return nil
	})
}

func (h *harness) wantStates(want string) {
	h.t.Helper()
	if got := h.states(); got != want {
		h.t.Errorf("generations: got %q, want %q", got, want)
	}
}

func (h *harness) wantLast(want string) {
	h.t.Helper()
	if got := h.traffic.last(); got != want {
		h.t.Errorf("last Publish: got %q, want %q", got, want)
	}
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: got %q, want it to contain %q", what, got, w)
		}
	}
}
