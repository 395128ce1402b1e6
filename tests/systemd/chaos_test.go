package systemd_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/chaos"
	"github.com/gatewayd/gateway/tests/gwtest"
)

// chaosBound is drain.max_generations in the chaos run.
const chaosBound = 6

// chaosRun is one run's plan and what the driver saw.
type chaosRun struct {
	t        *testing.T
	g        *sdGateway
	runner   string
	load     *chaos.Load
	rng      *rand.Rand
	token    string // in every worker's environment, to find leaks
	sighups  int
	dbus     int
	dbusErrs []string
	wKills   int
	gKills   int
	maxAlive int       // starting, active or detached: what drain.max_generations bounds
	maxAny   int       // retiring ones included (on their way out: forced drain)
	lastKill time.Time // of gatewayd
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// TestChaos runs virtual users (tests/chaos) through upgrades asked for in
// bursts of SIGHUPs and D-Bus Upgrade() calls at once, random kills of
// active and detached workers, and SIGKILLs of gatewayd itself (systemd
// restarts it; the socket holds the listener). It fails on any misroute,
// any failure or lost session no kill explains, any failed Upgrade() call,
// more live generations than drain.max_generations, or any worker process
// left after the gateway stops. CI runs the default (short) plan;
// docs/reliability.md has the long runs and their commands. With the
// process runner gatewayd is not killed: its workers end with it.
func TestChaos(t *testing.T) {
	for _, runner := range []string{"systemd", "process"} {
		t.Run(runner, func(t *testing.T) { chaosTest(t, runner) })
	}
}

func chaosTest(t *testing.T, runner string) {
	seed := int64(envInt(t, "GATEWAY_CHAOS_SEED", int(time.Now().UnixNano()%1e9)))
	upgrades := envInt(t, "GATEWAY_CHAOS_UPGRADES", 24)
	workerKills := envInt(t, "GATEWAY_CHAOS_WORKER_KILLS", 4)
	gatewayKills := envInt(t, "GATEWAY_CHAOS_GATEWAY_KILLS", 2)
	if runner == "process" {
		gatewayKills = 0
	}
	token := fmt.Sprintf("chaos-%d", seed)
	// A short idle timeout: a generation detached just before a gateway
	// kill is held that long for sessions the pin store had not written.
	g := startGateway(t, sdOptions{runner: runner, instances: 2, drain: fmt.Sprintf("max_generations = %d", chaosBound),
		sessions: `idle_timeout = "10s"`,
		extra:    fmt.Sprintf("\n[app.environment]\nCHAOS_RUN = %q\n", token)})
	r := &chaosRun{t: t, g: g, runner: runner, rng: rand.New(rand.NewPCG(uint64(seed), 1)), token: token,
		load: &chaos.Load{URL: g.url, Users: 8, Reads: 8, Think: 10 * time.Millisecond}}
	r.load.LimitRetired = func(gen string) bool {
		return regexp.MustCompile(`generation=` + regexp.QuoteMeta(gen) + ` [^\n]*event=generation-limit`).MatchString(g.log())
	}
	t.Logf("seed %d: %d upgrade requests, %d worker kills, %d gateway kills", seed, upgrades, workerKills, gatewayKills)

	ctx, stop := context.WithCancel(context.Background())
	figures := make(chan chaos.Figures, 1)
	go func() { figures <- r.load.Run(ctx) }()
	start := time.Now()
	bursts := r.plan(upgrades)
	wAt, gAt := r.pick(len(bursts), workerKills), r.pick(len(bursts), gatewayKills)
	for i, size := range bursts {
		if time.Since(start) > 100*time.Second {
			t.Errorf("the plan did not fit in 100s: %d of %d bursts done", i, len(bursts))
			break
		}
		r.burst(i, size)
		for range wAt[i] {
			r.killWorker()
		}
		if gAt[i] > 0 {
			r.killGateway()
		}
	}
	time.Sleep(time.Second) // sessions go on after the last event
	stop()
	f := <-figures
	elapsed := time.Since(start)
	alive := r.observe(r.status())
	leaked := r.stopAndCountLeaks()
	report := r.report(f, elapsed, alive, leaked)
	t.Log("\n" + report)
	if path := os.Getenv("GATEWAY_CHAOS_REPORT"); path != "" {
		os.WriteFile(path+"."+runner, []byte(report), 0o644)
	}
	for _, v := range f.Violations() {
		t.Error(v)
	}
	for _, e := range r.dbusErrs {
		t.Errorf("a D-Bus Upgrade() call failed: %s", e)
	}
	if r.maxAlive > chaosBound {
		t.Errorf("%d generations alive at once; drain.max_generations is %d", r.maxAlive, chaosBound)
	}
	if leaked > 0 {
		t.Errorf("%d worker processes left after the gateway stopped", leaked)
	}
}

// plan splits n upgrade requests into bursts of 1 to 4.
func (r *chaosRun) plan(n int) []int {
	var bursts []int
	for n > 0 {
		k := min(1+r.rng.IntN(4), n)
		bursts = append(bursts, k)
		n -= k
	}
	return bursts
}

// pick spreads k events over bursts 1…n-1, as counts per burst.
func (r *chaosRun) pick(n, k int) []int {
	at := make([]int, n)
	for range k {
		at[1+r.rng.IntN(max(n-1, 1))%n]++
	}
	return at
}

// burst moves the deploy symlink and asks for size upgrades at once, each
// a SIGHUP or a D-Bus Upgrade() call (gatewayctl upgrade), then waits until
// no generation is starting.
func (r *chaosRun) burst(i, size int) {
	r.g.rel.Point([]string{"rel1", "rel2"}[i%2])
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range size {
		if r.rng.IntN(2) == 0 {
			r.sighups++
			r.g.m.Systemctl("kill", "--kill-whom=main", "-s", "HUP", "gateway.service")
			continue
		}
		r.dbus++
		wg.Go(func() {
			if out, err := r.g.gatewayctl("upgrade"); err != nil {
				mu.Lock()
				r.dbusErrs = append(r.dbusErrs, fmt.Sprintf("burst %d: %v: %s", i, err, strings.TrimSpace(out)))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.settle()
}

// settle waits until no generation is starting and no upgrade is queued.
func (r *chaosRun) settle() {
	r.t.Helper()
	if !gwtest.Poll(30*time.Second, func() bool {
		st := r.status()
		r.observe(st)
		for _, g := range st.Generations {
			if g.State == "starting" {
				return false
			}
		}
		return len(st.Generations) > 0
	}) {
		r.t.Fatalf("generations still starting after 30s: %+v", r.status())
	}
}

// observe records how many generations st shows alive and returns the
// count of those drain.max_generations bounds.
func (r *chaosRun) observe(st statusJSON) int {
	alive := 0
	for _, g := range st.Generations {
		if g.State != "retiring" {
			alive++
		}
	}
	r.maxAlive = max(r.maxAlive, alive)
	r.maxAny = max(r.maxAny, len(st.Generations))
	return alive
}

// status is gatewayctl status, or empty while no gatewayd answers.
func (r *chaosRun) status() statusJSON {
	out, err := r.g.gatewayctl("status", "--json")
	var st statusJSON
	if err == nil {
		jsonDecode(strings.NewReader(out), &st)
	}
	return st
}

// killWorker SIGKILLs one worker of a random live generation.
func (r *chaosRun) killWorker() {
	var pids []int
	for _, g := range r.status().Generations {
		pids = append(pids, g.PIDs...)
	}
	if len(pids) == 0 {
		return
	}
	pid := pids[r.rng.IntN(len(pids))]
	if r.runner == "process" {
		pid = keeperChild(pid) // the app: the pid its sessions know
	}
	r.load.WorkerKilled(pid)
	syscall.Kill(pid, syscall.SIGKILL)
	r.wKills++
}

// keeperChild is the app under a process runner worker's keeper (its
// only child, forked by whichever of its threads).
func keeperChild(keeper int) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", keeper))
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		if f := strings.Fields(string(b)); len(f) > 0 {
			if pid, err := strconv.Atoi(f[0]); err == nil {
				return pid
			}
		}
	}
	return keeper
}

// killGateway SIGKILLs gatewayd and waits for systemd's restart of it to
// have re-adopted the generations. Kills are 2.5 s apart at least: systemd
// stops restarting a unit started 5 times in 10 s (StartLimitBurst=,
// StartLimitIntervalSec= defaults), and the socket with it.
func (r *chaosRun) killGateway() {
	r.t.Helper()
	time.Sleep(time.Until(r.lastKill.Add(2500 * time.Millisecond)))
	r.lastKill = time.Now()
	old := r.g.mainPID()
	adopted := gwtest.Count(r.g.log(), "re-adopted the generations")
	r.load.GatewayKilled()
	syscall.Kill(old, syscall.SIGKILL)
	r.gKills++
	r.g.waitReadopted(old, adopted)
	r.settle()
}

// stopAndCountLeaks stops the gateway as an operator would and counts the
// processes still running with this run's token in their environment.
func (r *chaosRun) stopAndCountLeaks() int {
	r.g.m.MustSystemctl(r.t, "stop", "gateway.service", "gateway.socket")
	mark := []byte("CHAOS_RUN=" + r.token)
	leaked := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && bytes.Contains(env, append(mark, 0)) {
			stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
			r.t.Logf("leaked: %s", stat)
			leaked++
		}
	}
	return leaked
}

func (r *chaosRun) report(f chaos.Figures, elapsed time.Duration, alive, leaked int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "runner                        %s\n", r.runner)
	fmt.Fprintf(&b, "run                           %.0f s, %d virtual users\n", elapsed.Seconds(), r.load.Users)
	fmt.Fprintf(&b, "upgrade requests              %d (%d SIGHUP, %d D-Bus Upgrade(); %d failed)\n",
		r.sighups+r.dbus, r.sighups, r.dbus, len(r.dbusErrs))
	fmt.Fprintf(&b, "generations started           %d\n", r.lastGeneration())
	fmt.Fprintf(&b, "workers killed                %d\n", r.wKills)
	fmt.Fprintf(&b, "gatewayd killed (SIGKILL)     %d\n", r.gKills)
	b.WriteString(f.String())
	fmt.Fprintf(&b, "generations alive, most       %d (bound %d)\n", r.maxAlive, chaosBound)
	fmt.Fprintf(&b, "  with retiring ones, most    %d\n", r.maxAny)
	fmt.Fprintf(&b, "generations alive at the end  %d\n", alive)
	fmt.Fprintf(&b, "leaked processes (must be 0)  %d\n", leaked)
	return b.String()
}

// lastGeneration is the newest generation number the log names.
func (r *chaosRun) lastGeneration() int {
	line := gwtest.Last(r.g.log(), "starting generation")
	i := strings.Index(line, " generation=")
	if i < 0 {
		return 0
	}
	n, _ := strconv.Atoi(strings.Fields(line[i+len(" generation="):])[0])
	return n
}
