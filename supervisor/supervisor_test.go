package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// get requests path from one published endpoint, as the proxy would.
func get(e fleet.Endpoint, path string) (int, string, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, e.Network, e.Address)
		},
	}}
	resp, err := c.Get("http://worker" + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func tickHour(h *harness) { h.tick = time.Hour }

func TestFirstGenerationBecomesActive(t *testing.T) {
	for _, c := range []struct {
		socket, network string
	}{
		{"port", "tcp"},
		{"fd", "unix"},
	} {
		t.Run(c.socket, func(t *testing.T) {
			h := startHarness(t, knobs{socket: c.socket, instances: 2})
			r1 := h.d.resolved(t, "r1")

			gs := h.gens()
			if len(gs) != 1 {
				t.Fatalf("Generations: got %d, want 1: %+v", len(gs), gs)
			}
			g := gs[0]
			if g.ID != 1 || g.State != fleet.Active {
				t.Errorf("generation: got %d %s, want 1 active", g.ID, g.State)
			}
			if g.Directory != r1 {
				t.Errorf("Directory: got %q, want %q", g.Directory, r1)
			}
			if g.Revision != "r1" {
				t.Errorf("Revision: got %q, want %q", g.Revision, "r1")
			}
			if len(g.PIDs) != 2 {
				t.Errorf("PIDs: got %v, want 2 of them", g.PIDs)
			}
			for _, in := range g.Instances {
				if !in.Ready || in.Network != c.network || in.PID == 0 {
					t.Errorf("instance %d: got ready=%v network=%q pid=%d, want ready on %q", in.Index, in.Ready, in.Network, in.PID, c.network)
				}
			}

			h.wantLast("active=1[1,2] detached=")
			for _, e := range h.traffic.lastRouting().Active.Instances {
				status, body, err := get(e, "/ready")
				if err != nil || status != http.StatusOK {
					t.Errorf("GET via the published endpoint %+v: got %d, %v; want 200", e, status, err)
				}
				wantContains(t, "answer of instance "+strconv.Itoa(e.Instance), body,
					fmt.Sprintf("generation=1 instance=%d", e.Instance))
			}

			workers := h.runner.of(1)
			if len(workers) != 2 {
				t.Fatalf("workers started: got %d, want 2", len(workers))
			}
			for _, w := range workers {
				s := w.spec
				i := strconv.Itoa(s.Instance)
				wantArgv := []string{filepath.Join(r1, "bin/app"), "--generation=1", "--instance=" + i, "--dir=" + r1}
				if !slices.Equal(s.Argv, wantArgv) {
					t.Errorf("%s: Argv: got %q, want %q", w, s.Argv, wantArgv)
				}
				if s.Dir != r1 || s.Revision != "r1" || s.App != "t" || s.Log == nil {
					t.Errorf("%s: got Dir=%q Revision=%q App=%q Log=%v, want %q, r1, t and a logger", w, s.Dir, s.Revision, s.App, s.Log, r1)
				}
				for k, want := range map[string]string{"GATEWAY_APP": "t", "GATEWAY_GENERATION": "1",
					"GATEWAY_INSTANCE": i, "GATEWAY_REVISION": "r1", "APP_MODE": "test"} {
					if got := envValue(s.Env, k); got != want {
						t.Errorf("%s: $%s: got %q, want %q", w, k, got, want)
					}
				}
				port := envValue(s.Env, "PORT")
				if got, want := port != "", c.socket == "port"; got != want {
					t.Errorf("%s: $PORT=%q: got set=%v, want %v", w, port, got, want)
				}
				if got, want := s.Listener != nil, c.socket == "fd"; got != want {
					t.Errorf("%s: got a Listener %v, want %v", w, got, want)
				}
				if p := w.probed(); len(p) == 0 || p[0] != "/ready" {
					t.Errorf("%s: readiness requests: got %q, want GET /ready", w, p)
				}
			}
		})
	}
}

func TestUpgradeDetachesPrevious(t *testing.T) {
	for _, c := range []struct {
		name, maxTime string
		wantDeadline  time.Duration // after the detach; 0: none
	}{
		{"with a drain limit", "1h", time.Hour},
		{"without a drain limit", "0s", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startHarness(t, knobs{maxTime: c.maxTime})
			h.traffic.setUsage(1, fleet.Usage{Sessions: 1})
			h.mustUpgrade(2)

			h.wantStates("1:detached 2:active")
			h.wantLast("active=2[1] detached=1[1]")
			g1, _ := h.gen(1)
			if g1.Detached.IsZero() {
				t.Errorf("generation 1: Detached is zero, want the time of the upgrade")
			}
			if got := g1.Deadline.Sub(g1.Detached); !g1.Deadline.IsZero() && got != c.wantDeadline || g1.Deadline.IsZero() != (c.wantDeadline == 0) {
				t.Errorf("generation 1: drain deadline %v after the detach (zero: %v), want %v", got, g1.Deadline.IsZero(), c.wantDeadline)
			}
			old := h.runner.of(1)[0]
			if old.exited() || old.sigNames() != "" {
				t.Errorf("%s: got exited=%v signals %q, want it running and untouched", old, old.exited(), old.sigNames())
			}
			if !isClosed(h.sup.Ready()) {
				t.Errorf("Ready() is open after the upgrade, want it closed")
			}
		})
	}
}

func TestDetachedRetiresWhenIdle(t *testing.T) {
	for _, c := range []struct {
		name string
		busy fleet.Usage
	}{
		{"sessions", fleet.Usage{Sessions: 1}},
		{"requests in flight", fleet.Usage{InFlight: 1}},
		{"upgraded connections", fleet.Usage{Upgraded: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startHarness(t, knobs{socket: "fd"}, tickHour) // only the proxy's signals make it look
			h.traffic.setUsage(1, c.busy)
			h.mustUpgrade(2)
			old := h.runner.of(1)[0]
			g1, _ := h.gen(1)
			sock := g1.Instances[0].Address

			before := h.traffic.calls(1)
			h.traffic.sessionsChanged()
			waitFor(t, "the supervisor to look at generation 1 after SessionsChanged", func() error {
				if n := h.traffic.calls(1); n <= before {
					return fmt.Errorf("Usage(1) called %d times, as before SessionsChanged", n)
				}
				return nil
			})
			h.wantStates("1:detached 2:active")
			if old.exited() || old.sigNames() != "" {
				t.Fatalf("%s while busy: got exited=%v signals %q, want it running", old, old.exited(), old.sigNames())
			}

			h.traffic.setUsage(1, fleet.Usage{})
			h.traffic.requestDone()
			h.waitStates("2:active")
			if !old.exited() || old.sigNames() != "terminated" {
				t.Errorf("%s: got exited=%v signals %q, want it stopped by SIGTERM", old, old.exited(), old.sigNames())
			}
			if !h.traffic.hasEvent("forget 1") {
				t.Errorf("Traffic events: got %q, want Forget(1)", h.traffic.gotEvents())
			}
			h.wantLast("active=2[1] detached=")
			if _, err := os.Stat(sock); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("socket %s of the retired worker: got %v, want it removed", sock, err)
			}
			if cur := h.runner.of(2)[0]; cur.exited() || cur.sigNames() != "" {
				t.Errorf("%s: got exited=%v signals %q, want it untouched", cur, cur.exited(), cur.sigNames())
			}
		})
	}
}

// wantInOrder checks that want occur in got in this order (not
// necessarily next to each other).
func wantInOrder(t *testing.T, what string, got, want []string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("%s: got %q, want %q in this order", what, got, want)
	}
}

func TestDrainMaxTimeForcesRetire(t *testing.T) {
	h := startHarness(t, knobs{maxTime: "100ms", closeWindow: "50ms"})
	h.traffic.setUsage(1, fleet.Usage{Sessions: 3, Upgraded: 2})
	h.mustUpgrade(2)
	g1, _ := h.gen(1)
	old := h.runner.of(1)[0]

	h.waitStates("2:active")
	wantInOrder(t, "Traffic events", h.traffic.gotEvents(), []string{"drop-gen 1", "close-held 1 50ms", "forget 1"})
	sigs := old.gotSignals()
	if len(sigs) == 0 || sigs[0].sig != syscall.SIGTERM {
		t.Fatalf("%s: got signals %q, want SIGTERM", old, old.sigNames())
	}
	if early := sigs[0].at.Sub(g1.Detached); early < 100*time.Millisecond {
		t.Errorf("%s: stopped %v after the detach, want no earlier than drain.max_time (100ms)", old, early)
	}
	h.wantLast("active=2[1] detached=")
}

func TestStopTimeoutEscalatesToKill(t *testing.T) {
	for _, c := range []struct {
		name string
		stop func(h *harness)
	}{
		{"when retired", func(h *harness) {
			h.mustUpgrade(2) // generation 1 is idle: it retires at the next tick
			h.waitStates("2:active")
		}},
		{"at shutdown", func(h *harness) {
			if err := h.stop(); err != nil {
				h.t.Errorf("Run: got %v, want nil", err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startHarness(t, knobs{stopTimeout: "300ms"}, func(h *harness) {
				h.runner.byGen[1] = behavior{ignoreTERM: true}
			})
			c.stop(h)
			old := h.runner.of(1)[0]
			sigs := old.gotSignals()
			if got := old.sigNames(); got != "terminated,killed" {
				t.Fatalf("%s: got signals %q, want %q", old, got, "terminated,killed")
			}
			if gap := sigs[1].at.Sub(sigs[0].at); gap < 300*time.Millisecond {
				t.Errorf("SIGKILL came %v after SIGTERM, want at least app.stop_timeout (300ms)", gap)
			}
			if err := old.Err(); !old.exited() || err == nil || err.Error() != "signal: killed" {
				t.Errorf("%s: got exited=%v err=%v, want killed", old, old.exited(), err)
			}
		})
	}
}

func TestUpgradeFailureKeepsActive(t *testing.T) {
	for _, c := range []struct {
		name     string
		k        knobs
		setup    func(h *harness)
		want     []string // in the error
		fix      func(h *harness)
		wantNext int // the generation the next (good) upgrade gets
	}{
		{
			name: "worker exits before it is ready",
			setup: func(h *harness) {
				h.runner.set(func(r *fakeRunner) {
					r.byGen[2] = behavior{exit: true, exitErr: errors.New("exit status 3"),
						output: []string{"loading config", "panic: no database at db:5432"}}
				})
			},
			want:     []string{"generation 2", "exited before it was ready", "exit status 3", "loading config", "panic: no database at db:5432"},
			wantNext: 3,
		},
		{
			name: "worker never ready",
			setup: func(h *harness) {
				h.setNext(func(k *knobs) { k.readyTimeout = "200ms" })
				h.runner.set(func(r *fakeRunner) { r.byGen[2] = behavior{status: http.StatusServiceUnavailable} })
			},
			want:     []string{"generation 2", "not ready after 200ms", "GET /ready", "503"},
			wantNext: 3,
		},
		{
			name: "runner cannot start the worker",
			setup: func(h *harness) {
				h.runner.set(func(r *fakeRunner) {
					r.byStart[2] = behavior{startErr: errors.New("fork/exec: resource temporarily unavailable")}
				})
			},
			want:     []string{"generation 2", "bin/app", "fork/exec: resource temporarily unavailable"},
			wantNext: 3,
		},
		{
			name: "one of two instances cannot start",
			k:    knobs{instances: 2, socket: "fd"},
			setup: func(h *harness) {
				h.runner.set(func(r *fakeRunner) { r.byStart[4] = behavior{startErr: errors.New("out of pids")} })
			},
			want:     []string{"generation 2", "instance", "out of pids"},
			wantNext: 3,
		},
		{
			name:     "broken config",
			setup:    func(h *harness) { h.setLoadErr(errors.New("test.toml:12: app.instances: 0 is out of range")) },
			want:     []string{"reading the configuration", "test.toml:12: app.instances"},
			fix:      func(h *harness) { h.setLoadErr(nil) },
			wantNext: 2, // no generation was created
		},
		{
			name:     "app.directory links to a missing target",
			setup:    func(h *harness) { h.d.relink(h.t, h.d.release("gone")) },
			want:     []string{"generation 2", "resolving app.directory", "gone"},
			fix:      func(h *harness) { h.d.relink(h.t, h.d.release("r2")) },
			wantNext: 3,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startHarness(t, c.k)
			h.traffic.setUsage(1, fleet.Usage{Sessions: 1})
			before := h.traffic.last()
			c.setup(h)

			_, err := h.upgrade()
			if err == nil {
				t.Fatalf("Upgrade: got nil error, want one containing %q", c.want)
			}
			wantContains(t, "Upgrade error", err.Error(), c.want...)

			h.wantStates("1:active")
			h.wantLast(before)
			for _, w := range h.runner.of(1) {
				if w.exited() || w.sigNames() != "" {
					t.Errorf("%s: got exited=%v signals %q, want it running and untouched", w, w.exited(), w.sigNames())
				}
			}
			for _, w := range h.runner.of(2) {
				if !w.exited() {
					t.Errorf("%s of the failed generation still runs", w)
				}
				if w.spec.Listener != nil {
					sock := filepath.Join(h.d.rt, fmt.Sprintf("t-gen2-%d.sock", w.spec.Instance))
					if _, err := os.Stat(sock); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("socket %s of the failed generation: got %v, want it removed", sock, err)
					}
				}
			}
			if t.Failed() {
				return
			}

			if c.fix != nil {
				c.fix(h)
			}
			h.mustUpgrade(c.wantNext)
			h.wantStates(fmt.Sprintf("1:detached %d:active", c.wantNext))
		})
	}
}

// Upgrades asked for while a generation starts are queued and coalesce into
// one follow-up upgrade that begins when the starting one is done, with the
// revision current then; every caller gets the generation that serves what
// was current when it called.
func TestConcurrentUpgrade(t *testing.T) {
	type result struct {
		gen int
		err error
	}
	upgrade := func(h *harness) <-chan result {
		out := make(chan result, 1)
		ctx := h.ctx()
		go func() {
			g, err := h.sup.Upgrade(ctx)
			out <- result{g, err}
		}()
		return out
	}
	want := func(t *testing.T, what string, ch <-chan result, gen int) {
		t.Helper()
		select {
		case r := <-ch:
			if r.gen != gen || r.err != nil {
				t.Errorf("%s: got %d, %v; want %d, nil", what, r.gen, r.err, gen)
			}
		case <-time.After(waitLimit):
			t.Fatalf("%s did not return within %v", what, waitLimit)
		}
	}
	probed := func(t *testing.T, h *harness, gen int) {
		t.Helper()
		waitFor(t, fmt.Sprintf("generation %d to be probed", gen), func() error {
			if ws := h.runner.of(gen); len(ws) == 0 || len(ws[0].probed()) == 0 {
				return errors.New("not yet")
			}
			return nil
		})
	}

	t.Run("while an upgrade is starting: the newest revision wins", func(t *testing.T) {
		gate := make(chan struct{})
		h := startHarness(t, knobs{})
		h.traffic.setUsage(1, fleet.Usage{Sessions: 1})
		h.traffic.setUsage(2, fleet.Usage{Sessions: 1}) // so that it stays, detached
		h.runner.set(func(r *fakeRunner) { r.byGen[2] = behavior{gate: gate} })
		h.d.relink(t, h.d.release("r3"))
		first := upgrade(h)
		probed(t, h, 2)
		h.d.relink(t, h.d.release("r2")) // the deploy is corrected at once
		second, third := upgrade(h), upgrade(h)
		waitFor(t, "both requests queued", func() error {
			if gwLogs := h.logs.String(); !strings.Contains(gwLogs, "joins the queued upgrade") {
				return errors.New("not yet")
			}
			return nil
		})
		if n := len(h.runner.all()); n != 2 {
			t.Fatalf("workers started while generation 2 starts: %d, want 2 (queued upgrades wait)", n)
		}
		close(gate)
		want(t, "the first Upgrade", first, 2)
		want(t, "the second Upgrade", second, 3)
		want(t, "the third Upgrade", third, 3)
		h.wantStates("1:detached 2:detached 3:active")
		if g := h.gens(); g[2].Revision != "r2" {
			t.Errorf("generation 3 runs revision %q, want r2 (the symlink's target when the follow-up began)", g[2].Revision)
		}
		if n := len(h.runner.all()); n != 3 {
			t.Errorf("workers started: got %d, want 3 (one follow-up for two queued requests)", n)
		}
	})

	t.Run("while the first generation is starting", func(t *testing.T) {
		gate := make(chan struct{})
		h := newHarness(t, knobs{})
		h.runner.byGen[1] = behavior{gate: gate}
		h.traffic.setUsage(1, fleet.Usage{Sessions: 1}) // so that it stays, detached
		h.run()
		probed(t, h, 1)
		queued := upgrade(h)
		waitFor(t, "the request queued", func() error {
			if !strings.Contains(h.logs.String(), "upgrade queued") {
				return errors.New("not yet")
			}
			return nil
		})
		close(gate)
		h.waitReady()
		want(t, "the queued Upgrade", queued, 2)
		h.wantStates("1:detached 2:active")
	})

	t.Run("a failed upgrade still runs the queued one", func(t *testing.T) {
		gate := make(chan struct{})
		h := startHarness(t, knobs{readyTimeout: "300ms"})
		h.traffic.setUsage(1, fleet.Usage{Sessions: 1})                                      // so that it stays, detached
		h.runner.set(func(r *fakeRunner) { r.byGen[2] = behavior{gate: gate, status: 500} }) // never ready
		first := upgrade(h)
		probed(t, h, 2)
		second := upgrade(h)
		waitFor(t, "the request queued", func() error {
			if !strings.Contains(h.logs.String(), "upgrade queued") {
				return errors.New("not yet")
			}
			return nil
		})
		close(gate)
		if r := <-first; r.err == nil {
			t.Errorf("the first Upgrade: got generation %d, want its failure", r.gen)
		}
		want(t, "the queued Upgrade", second, 3)
		h.wantStates("1:detached 3:active")
	})
}

func TestSymlinkResolvedAtStart(t *testing.T) {
	for _, c := range []struct {
		name, revision string
		want1, want2   string // revision labels
	}{
		{"revision from the target's name", "", "r1", "r2"},
		{"revision from the config", "v7", "v7", "v7"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startHarness(t, knobs{revision: c.revision})
			h.traffic.setUsage(1, fleet.Usage{Sessions: 1})
			h.d.relink(t, h.d.release("r2"))
			h.mustUpgrade(2)

			for _, w := range []struct {
				gen           int
				dir, revision string
			}{
				{1, h.d.resolved(t, "r1"), c.want1},
				{2, h.d.resolved(t, "r2"), c.want2},
			} {
				g, _ := h.gen(w.gen)
				if g.Directory != w.dir || g.Revision != w.revision {
					t.Errorf("generation %d: got directory %q revision %q, want %q %q", w.gen, g.Directory, g.Revision, w.dir, w.revision)
				}
				spec := h.runner.of(w.gen)[0].spec
				if spec.Dir != w.dir || spec.Argv[0] != filepath.Join(w.dir, "bin/app") ||
					envValue(spec.Env, "GATEWAY_REVISION") != w.revision {
					t.Errorf("generation %d's worker: got Dir %q Argv[0] %q $GATEWAY_REVISION %q, want %q, under it, %q",
						w.gen, spec.Dir, spec.Argv[0], envValue(spec.Env, "GATEWAY_REVISION"), w.dir, w.revision)
				}
			}
			r := h.traffic.lastRouting()
			if r.Active == nil || r.Active.Revision != c.want2 || len(r.Detached) != 1 || r.Detached[0].Revision != c.want1 {
				t.Errorf("last Publish: got %s, want revisions %q active and %q detached", routingText(r), c.want2, c.want1)
			}
		})
	}
}

func TestActiveWorkerCrashIsReplaced(t *testing.T) {
	for _, c := range []struct {
		name          string
		socket        string
		failReplace   bool
		crashes       int
		wantCrashes   int // counted on the instance after the last replacement
		wantStartsPer int // Start calls per crash
	}{
		{name: "port", socket: "port", crashes: 2, wantCrashes: 2},
		{name: "fd", socket: "fd", crashes: 2, wantCrashes: 2},
		{name: "replacement fails once", socket: "port", failReplace: true, crashes: 1, wantCrashes: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startHarness(t, knobs{socket: c.socket}, func(h *harness) {
				if c.failReplace {
					h.runner.byStart[2] = behavior{startErr: errors.New("fork/exec: resource temporarily unavailable")}
				}
			})
			pids := map[int]bool{}
			for range c.crashes {
				g, _ := h.gen(1)
				old := h.runner.byPID(g.Instances[0].PID)
				pids[old.pid] = true
				old.crash(errors.New("exit status 2"), "panic: assignment to entry in nil map")
				waitFor(t, "a new worker in instance 1", func() error {
					g, _ := h.gen(1)
					in := g.Instances[0]
					if in.PID == 0 || pids[in.PID] || !in.Ready {
						return fmt.Errorf("got instance %+v", in)
					}
					return nil
				})
			}

			g, _ := h.gen(1)
			in := g.Instances[0]
			if g.State != fleet.Active || in.Crashes != c.wantCrashes {
				t.Errorf("generation 1: got %s with %d crashes, want active with %d", g.State, in.Crashes, c.wantCrashes)
			}
			fresh := h.runner.byPID(in.PID)
			if fresh == nil || fresh.spec.Generation != 1 || fresh.spec.Instance != 1 {
				t.Fatalf("new worker: got %v, want one for generation 1, instance 1", fresh)
			}
			if got := h.traffic.gotEvents(); !slices.Contains(got, "drop-inst 1/1") {
				t.Errorf("Traffic events: got %q, want DropInstance(1, 1)", got)
			}
			h.wantLast("active=1[1] detached=")
			e := h.traffic.lastRouting().Active.Instances[0]
			if e.Address != in.Address {
				t.Errorf("published address: got %q, want the new worker's %q", e.Address, in.Address)
			}
			status, body, err := get(e, "/")
			if err != nil || status != http.StatusOK || !strings.Contains(body, fmt.Sprintf("pid=%d ", fresh.pid)) {
				t.Errorf("GET via the published endpoint: got %d %q %v, want 200 from pid %d", status, body, err, fresh.pid)
			}
		})
	}
}

func TestDetachedWorkerCrashLosesGeneration(t *testing.T) {
	h := startHarness(t, knobs{instances: 2})
	h.traffic.setUsage(1, fleet.Usage{Sessions: 2})
	h.mustUpgrade(2)
	w := h.runner.of(1)
	first, second := w[0], w[1]

	first.crash(errors.New("exit status 1"), "out of memory")
	waitFor(t, "generation 1 to have one worker left", func() error {
		if g, _ := h.gen(1); len(g.PIDs) != 1 {
			return fmt.Errorf("got pids %v", g.PIDs)
		}
		return nil
	})
	h.wantStates("1:detached 2:active")
	h.wantLast(fmt.Sprintf("active=2[1,2] detached=1[%d]", second.spec.Instance))
	if e := fmt.Sprintf("drop-inst 1/%d", first.spec.Instance); !h.traffic.hasEvent(e) {
		t.Errorf("Traffic events: got %q, want %q", h.traffic.gotEvents(), e)
	}

	second.crash(errors.New("exit status 1"), "out of memory")
	h.waitStates("2:active")
	wantInOrder(t, "Traffic events", h.traffic.gotEvents(), []string{"drop-gen 1", "forget 1"})
	h.wantLast("active=2[1,2] detached=")
	if n := len(h.runner.of(1)); n != 2 {
		t.Errorf("workers started for generation 1: got %d, want 2 (a detached generation gets no replacements)", n)
	}
}

func TestRetire(t *testing.T) {
	for _, c := range []struct {
		name       string
		usage      fleet.Usage
		id         int
		force      bool
		wantIs     error
		wantErr    string // "" for success
		wantGone   bool
		wantEvents []string
	}{
		{name: "unknown generation", id: 99, wantIs: fleet.ErrNoSuchGeneration, wantErr: "generation 99"},
		{name: "the active generation", id: 2, usage: fleet.Usage{Sessions: 1}, wantErr: "generation 2 is active"},
		{name: "sessions remain", id: 1, usage: fleet.Usage{Sessions: 2}, wantErr: "still has 2 sessions"},
		{name: "an upgraded connection remains", id: 1, usage: fleet.Usage{Upgraded: 1}, wantErr: "1 upgraded connections"},
		{name: "forced", id: 1, force: true, usage: fleet.Usage{Sessions: 2, Upgraded: 1}, wantGone: true,
			wantEvents: []string{"drop-gen 1", "close-held 1 0s", "forget 1"}},
		{name: "idle", id: 1, usage: fleet.Usage{}, wantGone: true, wantEvents: []string{"drop-gen 1", "forget 1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startHarness(t, knobs{}, tickHour)
			h.traffic.setUsage(1, c.usage)
			h.mustUpgrade(2)

			err := h.sup.Retire(h.ctx(), c.id, c.force)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("Retire(%d, %v): got %v, want nil", c.id, c.force, err)
			case c.wantErr != "" && err == nil:
				t.Fatalf("Retire(%d, %v): got nil, want an error containing %q", c.id, c.force, c.wantErr)
			case err != nil:
				wantContains(t, "Retire error", err.Error(), c.wantErr)
			}
			if c.wantIs != nil && !errors.Is(err, c.wantIs) {
				t.Errorf("Retire(%d): got %v, want errors.Is %v", c.id, err, c.wantIs)
			}
			old := h.runner.of(1)[0]
			if !c.wantGone {
				h.wantStates("1:detached 2:active")
				if old.sigNames() != "" {
					t.Errorf("%s: got signals %q, want none", old, old.sigNames())
				}
				return
			}
			h.waitStates("2:active")
			got := h.traffic.gotEvents()
			wantInOrder(t, "Traffic events", got, c.wantEvents)
			if !c.force && slices.ContainsFunc(got, func(e string) bool { return strings.HasPrefix(e, "close-held") }) {
				t.Errorf("Traffic events: got %q, want no CloseHeld without force", got)
			}
			if !old.exited() || old.sigNames() != "terminated" {
				t.Errorf("%s: got exited=%v signals %q, want it stopped by SIGTERM", old, old.exited(), old.sigNames())
			}
		})
	}
}

// savedState is the state file as a reader outside the package sees it.
type savedState struct {
	Version        int    `json:"version"`
	App            string `json:"app"`
	NextGeneration int    `json:"next_generation"`
	Generations    []struct {
		ID        int    `json:"id"`
		State     string `json:"state"`
		Revision  string `json:"revision"`
		Directory string `json:"directory"`
		Instances []struct {
			Index   int    `json:"instance"`
			PID     int    `json:"pid"`
			Network string `json:"network"`
			Address string `json:"address"`
		} `json:"instances"`
	} `json:"generations"`
	Pins []fleet.Pin `json:"pins"`
}

func readSaved(t *testing.T, d *dirs) savedState {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(d.rt, "t.state.json"))
	if err != nil {
		t.Fatalf("reading the state file: %v", err)
	}
	if !json.Valid(data) {
		t.Fatalf("the state file is not valid JSON:\n%s", data)
	}
	var st savedState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("decoding the state file: %v\n%s", err, data)
	}
	return st
}

func TestStateFile(t *testing.T) {
	t.Run("after an upgrade, and numbering after a restart", func(t *testing.T) {
		h := startHarness(t, knobs{instances: 2})
		h.traffic.setUsage(1, fleet.Usage{Sessions: 1})
		h.mustUpgrade(2)

		st := readSaved(t, h.d)
		if st.Version != 3 || st.App != "t" || st.NextGeneration != 3 {
			t.Errorf("state file: got version %d app %q next_generation %d, want 3, t, 3", st.Version, st.App, st.NextGeneration)
		}
		live := h.gens()
		if len(st.Generations) != len(live) {
			t.Fatalf("state file generations: got %+v, want %d", st.Generations, len(live))
		}
		for i, sg := range st.Generations {
			g := live[i]
			var pids []int
			for _, in := range sg.Instances {
				pids = append(pids, in.PID)
			}
			if sg.ID != g.ID || sg.State != string(g.State) || sg.Directory != g.Directory || !slices.Equal(pids, g.PIDs) {
				t.Errorf("state file generation %d: got %+v, want %d %s %s pids %v", i, sg, g.ID, g.State, g.Directory, g.PIDs)
			}
		}
		if st.Pins != nil {
			t.Errorf("state file pins: got %+v, want none (the pin store has them)", st.Pins)
		}
		if left, _ := filepath.Glob(filepath.Join(h.d.rt, ".state-*")); len(left) > 0 {
			t.Errorf("temporary files left in the runtime directory: %q", left)
		}
		if err := h.stop(); err != nil {
			t.Fatalf("Run: got %v, want nil", err)
		}
		if st := readSaved(t, h.d); st.NextGeneration != 3 || len(st.Generations) != 0 {
			t.Errorf("state file after shutdown: got next_generation %d and %d generations, want 3 and none", st.NextGeneration, len(st.Generations))
		}

		h2 := startHarness(t, knobs{}, func(h2 *harness) { h2.d = h.d })
		h2.wantStates("3:active")
		if w := h2.runner.all(); len(w) != 1 || w[0].spec.Generation != 3 {
			t.Errorf("the restarted supervisor's workers: got %v, want one of generation 3", w)
		}
	})

	t.Run("an unusable state file is set aside", func(t *testing.T) {
		for _, c := range []struct{ name, state, want string }{
			{"garbled", `{"version": 1, "next_generation": `, "decoding"},
			{"other app", `{"version": 2, "app": "wiki", "next_generation": 4}`, `the state of app \"wiki\", and this gateway runs app \"t\"`},
			{"future version", `{"version": 4, "app": "t", "next_generation": 4}`, "state version 4, this gateway reads versions 1 to 3"},
			{"generation out of range", `{"version": 2, "app": "t", "next_generation": 4,
				"generations": [{"id": 4294967297, "state": "active", "instances": [{"index": 1, "pid": 999999}]}]}`,
				"generation 4294967297 is out of range (1 to 2147483647)"},
			{"next generation out of range", `{"version": 2, "app": "t", "next_generation": 9223372036854775807}`,
				"next_generation 9223372036854775807 is out of range"},
			{"instance out of range", `{"version": 2, "app": "t", "next_generation": 4,
				"generations": [{"id": 2, "state": "active", "instances": [{"index": 70000, "pid": 999999}]}]}`,
				"instance 70000 (pid 999999) is out of range"},
		} {
			t.Run(c.name, func(t *testing.T) {
				path := ""
				h := startHarness(t, knobs{}, func(h *harness) {
					path = filepath.Join(h.d.rt, "t.state.json")
					if err := os.WriteFile(path, []byte(c.state), 0o644); err != nil {
						t.Fatal(err)
					}
				})
				h.wantStates("1:active")
				if st := readSaved(t, h.d); st.NextGeneration != 2 {
					t.Errorf("state file: got next_generation %d, want 2 (a fresh start)", st.NextGeneration)
				}
				if data, err := os.ReadFile(path + ".refused"); err != nil || string(data) != c.state {
					t.Errorf("the refused file: %q, %v; want it kept as %s.refused", data, err, path)
				}
				wantContains(t, "log", h.logs.String(), "refusing the state file", path, c.want, "moved_to="+path+".refused")
			})
		}
	})

	t.Run("a version 2 file, from the gateway before, is read", func(t *testing.T) {
		h := startHarness(t, knobs{}, func(h *harness) {
			state := `{"version": 2, "app": "t", "next_generation": 7,
				"generations": [{"id": 6, "state": "detached", "revision": "r0", "directory": "/x",
					"drain_deadline": "2026-12-01T10:00:00Z", "instances": [{"index": 1, "pid": 999999, "network": "tcp", "address": "127.0.0.1:1"}]}]}`
			if err := os.WriteFile(filepath.Join(h.d.rt, "t.state.json"), []byte(state), 0o644); err != nil {
				t.Fatal(err)
			}
		})
		h.wantStates("7:active")
		// The fake runner re-adopts nothing, so generation 6 is gone; the
		// log names it as the file did.
		wantContains(t, "log", h.logs.String(), "generation=6 revision=r0")
		if st := readSaved(t, h.d); st.Version != 3 || st.NextGeneration != 8 {
			t.Errorf("state file: got version %d next_generation %d, want 3 and 8", st.Version, st.NextGeneration)
		}
	})

	t.Run("generation numbers end at MaxGeneration", func(t *testing.T) {
		h := startHarness(t, knobs{}, func(h *harness) {
			state := fmt.Sprintf(`{"version": 2, "app": "t", "next_generation": %d}`, fleet.MaxGeneration)
			if err := os.WriteFile(filepath.Join(h.d.rt, "t.state.json"), []byte(state), 0o644); err != nil {
				t.Fatal(err)
			}
		})
		h.wantStates(fmt.Sprintf("%d:active", fleet.MaxGeneration))
		if _, err := h.upgrade(); !errors.Is(err, ErrNoGenerationLeft) {
			t.Fatalf("upgrade past fleet.MaxGeneration: got %v, want ErrNoGenerationLeft", err)
		}
		h.wantStates(fmt.Sprintf("%d:active", fleet.MaxGeneration))
	})
}

func TestRunFailsWhenFirstGenerationFails(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(h *harness)
		want  []string
	}{
		{"worker exits", func(h *harness) {
			h.runner.byGen[1] = behavior{exit: true, output: []string{"listen tcp: address already in use"}}
		}, []string{"generation 1 failed to start", "exited before it was ready", "address already in use"}},
		{"runner fails", func(h *harness) {
			h.runner.byStart[1] = behavior{startErr: fs.ErrPermission}
		}, []string{"generation 1 failed to start", "permission denied"}},
		{"app.directory missing", func(h *harness) {
			h.d.relink(h.t, h.d.release("gone"))
		}, []string{"generation 1 failed to start", "resolving app.directory"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, knobs{})
			c.setup(h)
			h.run()
			err := h.wait()
			if err == nil {
				t.Fatalf("Run: got nil, want an error containing %q", c.want)
			}
			wantContains(t, "Run error", err.Error(), c.want...)
			wantContains(t, "log", h.logs.String(), "generation failed to start, and no generation is active: the gateway cannot serve")
			if strings.Contains(h.logs.String(), "stays active") {
				t.Errorf("the log says a previous generation stays active, and there is none:\n%s", h.logs.String())
			}
			if isClosed(h.sup.Ready()) {
				t.Errorf("Ready() is closed, want it open: no generation became active")
			}
			if !isClosed(h.sup.Done()) {
				t.Errorf("Done() is open after Run returned")
			}
			if _, err := h.sup.Generations(h.ctx()); !errors.Is(err, ErrStopped) {
				t.Errorf("Generations after Run: got %v, want ErrStopped", err)
			}
			if _, err := h.upgrade(); !errors.Is(err, ErrStopped) {
				t.Errorf("Upgrade after Run: got %v, want ErrStopped", err)
			}
		})
	}
}

func TestShutdownStopsEveryWorker(t *testing.T) {
	h := startHarness(t, knobs{socket: "fd", instances: 2})
	h.traffic.setUsage(1, fleet.Usage{Sessions: 1})
	h.traffic.setUsage(2, fleet.Usage{Sessions: 1})
	h.mustUpgrade(2)
	h.mustUpgrade(3)
	h.wantStates("1:detached 2:detached 3:active")
	var socks []string
	for _, g := range h.gens() {
		for _, in := range g.Instances {
			socks = append(socks, in.Address)
		}
	}

	if err := h.stop(); err != nil {
		t.Errorf("Run: got %v, want nil after its context ended", err)
	}
	workers := h.runner.all()
	if len(workers) != 6 {
		t.Errorf("workers started: got %d, want 6", len(workers))
	}
	for _, w := range workers {
		if !w.exited() || w.sigNames() != "terminated" {
			t.Errorf("%s: got exited=%v signals %q, want it stopped by SIGTERM", w, w.exited(), w.sigNames())
		}
	}
	for _, s := range socks {
		if _, err := os.Stat(s); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("socket %s: got %v, want it removed", s, err)
		}
	}
	h.wantLast("active=none detached=")
	if st := readSaved(t, h.d); st.NextGeneration != 4 || len(st.Generations) != 0 {
		t.Errorf("state file: got next_generation %d and %d generations, want 4 and none", st.NextGeneration, len(st.Generations))
	}
	if _, err := h.sup.Generations(h.ctx()); !errors.Is(err, ErrStopped) {
		t.Errorf("Generations after Run: got %v, want ErrStopped", err)
	}
	if err := h.sup.Retire(h.ctx(), 1, true); !errors.Is(err, ErrStopped) {
		t.Errorf("Retire after Run: got %v, want ErrStopped", err)
	}
}

func TestShutdownDuringUpgrade(t *testing.T) {
	h := startHarness(t, knobs{})
	h.runner.set(func(r *fakeRunner) { r.byGen[2] = behavior{gate: make(chan struct{})} }) // never ready
	res := make(chan error, 1)
	ctx := h.ctx()
	go func() {
		_, err := h.sup.Upgrade(ctx)
		res <- err
	}()
	waitFor(t, "generation 2 to be probed", func() error {
		if ws := h.runner.of(2); len(ws) == 0 || len(ws[0].probed()) == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	if err := h.stop(); err != nil {
		t.Errorf("Run: got %v, want nil after its context ended", err)
	}
	select {
	case err := <-res:
		if err == nil {
			t.Errorf("Upgrade interrupted by the shutdown: got nil error, want one")
		}
	case <-time.After(waitLimit):
		t.Fatalf("Upgrade did not return within %v of the shutdown", waitLimit)
	}
	for _, w := range h.runner.all() {
		if !w.exited() {
			t.Errorf("%s still runs", w)
		}
	}
}

// A release directory whose name is not UTF-8 (or holds control
// characters) would name the generation in logs, D-Bus and metric labels:
// the upgrade is refused with a clear message, and the active generation
// keeps serving.
func TestRevisionMustBePrintable(t *testing.T) {
	for _, name := range []string{"rel\xff\xfe", "rel\x1b[31m"} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			h := startHarness(t, knobs{})
			if err := os.MkdirAll(h.d.release(name), 0o755); err != nil {
				t.Fatal(err)
			}
			h.d.relink(t, h.d.release(name))
			_, err := h.upgrade()
			if err == nil {
				t.Fatal("upgrade to a revision that is not printable: got nil, want an error")
			}
			wantContains(t, "upgrade error", err.Error(), "rename the release directory or set app.revision")
			h.wantStates("1:active")
		})
	}
}

// Upgrades past drain.max_generations retire the oldest detached generation
// by force first: the bound holds, its sessions are counted lost as
// "generation-limit", and the younger ones keep theirs.
func TestMaxGenerations(t *testing.T) {
	h := startHarness(t, knobs{maxGenerations: 3})
	for gen := 1; gen <= 5; gen++ {
		h.traffic.setUsage(gen, fleet.Usage{Sessions: 1}) // nobody leaves by themselves
	}
	h.mustUpgrade(2)
	h.mustUpgrade(3)
	h.wantStates("1:detached 2:detached 3:active")
	h.mustUpgrade(4) // 1 must go: 2, 3 and 4 remain
	h.waitObserved("sessions-lost 1 generation-limit 1", "retired 1 forced")
	h.mustUpgrade(5)
	h.waitObserved("sessions-lost 1 generation-limit 1", "retired 1 forced", "sessions-lost 2 generation-limit 1", "retired 2 forced")
	waitFor(t, "generations 1 and 2 gone", func() error {
		if got := h.states(); got != "3:detached 4:detached 5:active" {
			return fmt.Errorf("generations %q", got)
		}
		return nil
	})
	wantContains(t, "log", h.logs.String(), "retiring the oldest detached generation", "max_generations=3")
}

// The proxy's two signals: both make the loop look at the detached
// generations; only SessionsChanged announces new session counts
// (OnChange, at most once a second).
func TestSessionsChangedIsAnnounced(t *testing.T) {
	h := startHarness(t, knobs{}, tickHour)
	h.traffic.setUsage(1, fleet.Usage{InFlight: 1}) // detached, and kept
	h.mustUpgrade(2)
	time.Sleep(1100 * time.Millisecond) // past the once-a-second limit
	before := h.changes.Load()
	for range 3 {
		before2 := h.traffic.calls(1)
		h.traffic.requestDone()
		waitFor(t, "the loop to look after RequestDone", func() error {
			if h.traffic.calls(1) == before2 {
				return errors.New("not yet")
			}
			return nil
		})
	}
	if n := h.changes.Load(); n != before {
		t.Errorf("OnChange after RequestDone: called %d times, want none", n-before)
	}
	h.traffic.sessionsChanged()
	waitFor(t, "OnChange after SessionsChanged", func() error {
		if h.changes.Load() == before {
			return errors.New("not called")
		}
		return nil
	})
}
