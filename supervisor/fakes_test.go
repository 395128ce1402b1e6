package supervisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

var (
	_ Runner  = (*fakeRunner)(nil)
	_ Worker  = (*fakeWorker)(nil)
	_ Traffic = (*fakeTraffic)(nil)
)

// behavior says what a fake worker does. The zero value starts, serves
// HTTP on its socket, answers 200 and exits on SIGTERM.
type behavior struct {
	startErr   error         // Start fails with this error
	exit       bool          // exits at once, before it serves anything
	exitErr    error         // its exit status then; if nil, "exit status 1"
	output     []string      // lines it printed (its Tail)
	status     int           // readiness answer; 0 means 200
	gate       chan struct{} // if set, readiness answers 503 until it is closed
	ignoreTERM bool          // only SIGKILL ends it
}

// fakeRunner starts fake workers that serve HTTP where the spec says: on
// the unix socket passed as spec.Listener, or on 127.0.0.1:$PORT.
type fakeRunner struct {
	mu      sync.Mutex
	starts  int
	byStart map[int]behavior // by start number, from 1; wins over byGen
	byGen   map[int]behavior
	workers []*fakeWorker
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{byStart: map[int]behavior{}, byGen: map[int]behavior{}}
}

func (r *fakeRunner) Name() string { return "fake" }

// Manager is nil: the fake runner has no units, as the process runner.
func (r *fakeRunner) Manager() Manager { return nil }

func (r *fakeRunner) Start(ctx context.Context, spec WorkerSpec) (Worker, error) {
	r.mu.Lock()
	r.starts++
	n := r.starts
	b, ok := r.byStart[n]
	if !ok {
		b = r.byGen[spec.Generation]
	}
	r.mu.Unlock()
	if b.startErr != nil {
		return nil, b.startErr
	}
	w := &fakeWorker{pid: 10000 + n, spec: spec, b: b, done: make(chan struct{}),
		tail: slices.Clone(b.output)}
	if b.exit {
		w.finish(cmp.Or(b.exitErr, errors.New("exit status 1")))
	} else if err := w.serve(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.workers = append(r.workers, w)
	r.mu.Unlock()
	return w, nil
}

func (r *fakeRunner) set(f func(r *fakeRunner)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

// all returns every worker started so far, in start order.
func (r *fakeRunner) all() []*fakeWorker {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.workers)
}

// of returns the workers started for generation gen.
func (r *fakeRunner) of(gen int) []*fakeWorker {
	var out []*fakeWorker
	for _, w := range r.all() {
		if w.spec.Generation == gen {
			out = append(out, w)
		}
	}
	return out
}

func (r *fakeRunner) byPID(pid int) *fakeWorker {
	for _, w := range r.all() {
		if w.pid == pid {
			return w
		}
	}
	return nil
}

type signalAt struct {
	sig os.Signal
	at  time.Time
}

type fakeWorker struct {
	pid    int
	spec   WorkerSpec
	b      behavior
	done   chan struct{}
	once   sync.Once
	srv    *http.Server
	served chan struct{}

	mu      sync.Mutex
	err     error
	tail    []string
	signals []signalAt
	probes  []string // paths requested
}

func (w *fakeWorker) serve() error {
	var ln net.Listener
	var err error
	if w.spec.Listener != nil {
		ln, err = net.FileListener(w.spec.Listener) // a copy: the caller closes its own
	} else {
		port := envValue(w.spec.Env, "PORT")
		if port == "" {
			return errors.New("fake worker: no Listener and no PORT in the environment")
		}
		ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	}
	if err != nil {
		return fmt.Errorf("fake worker: %w", err)
	}
	w.srv = &http.Server{Handler: http.HandlerFunc(w.handle)}
	w.served = make(chan struct{})
	go func() {
		defer close(w.served)
		w.srv.Serve(ln)
	}()
	return nil
}

func (w *fakeWorker) handle(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	w.probes = append(w.probes, r.URL.Path)
	w.mu.Unlock()
	status := cmp.Or(w.b.status, http.StatusOK)
	if w.b.gate != nil {
		select {
		case <-w.b.gate:
		default:
			status = http.StatusServiceUnavailable
		}
	}
	rw.WriteHeader(status)
	fmt.Fprintf(rw, "pid=%d generation=%d instance=%d\n", w.pid, w.spec.Generation, w.spec.Instance)
}

// finish ends the worker with err as its exit status; only the first call
// counts. The server is closed before Done is.
func (w *fakeWorker) finish(err error) {
	w.once.Do(func() {
		if w.srv != nil {
			w.srv.Close()
			<-w.served
		}
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
		close(w.done)
	})
}

// crash makes the worker exit on its own after printing lines.
func (w *fakeWorker) crash(err error, lines ...string) {
	w.mu.Lock()
	w.tail = append(w.tail, lines...)
	w.mu.Unlock()
	w.finish(err)
}

func (w *fakeWorker) PID() int              { return w.pid }
func (w *fakeWorker) Done() <-chan struct{} { return w.done }

func (w *fakeWorker) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *fakeWorker) Tail() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.tail)
}

func (w *fakeWorker) Signal(sig os.Signal) error {
	w.mu.Lock()
	w.signals = append(w.signals, signalAt{sig, time.Now()})
	w.mu.Unlock()
	if w.exited() {
		return os.ErrProcessDone
	}
	switch {
	case sig == syscall.SIGKILL:
		w.finish(errors.New("signal: killed"))
	case sig == syscall.SIGTERM && !w.b.ignoreTERM:
		w.finish(errors.New("signal: terminated"))
	}
	return nil
}

func (w *fakeWorker) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

func (w *fakeWorker) gotSignals() []signalAt {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.signals)
}

// sigNames is the worker's signals as text, e.g. "terminated,killed".
func (w *fakeWorker) sigNames() string {
	var names []string
	for _, s := range w.gotSignals() {
		names = append(names, s.sig.String())
	}
	return strings.Join(names, ",")
}

func (w *fakeWorker) probed() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.probes)
}

func (w *fakeWorker) String() string {
	return fmt.Sprintf("worker pid %d (generation %d, instance %d)", w.pid, w.spec.Generation, w.spec.Instance)
}

func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val // the last one wins, as in exec
		}
	}
	return v
}

// fakeTraffic stands in for the proxy: tests set the usage of each
// generation and read back what the supervisor told it, in order.
type fakeTraffic struct {
	mu         sync.Mutex
	usage      map[int]fleet.Usage
	usageCalls map[int]int
	routes     []*fleet.Routes
	events     []string // "drop-gen 1", "drop-inst 1/2", "forget 1", "close-held 1 50ms"
	pins       []fleet.Pin
	// instSessions are the sessions of one instance, [gen, instance]:
	// DropInstance returns them (and takes them from the usage).
	instSessions map[[2]int]int
	// The proxy's signals; tests send them.
	sessions, requests chan struct{}
}

func newFakeTraffic() *fakeTraffic {
	return &fakeTraffic{usage: map[int]fleet.Usage{}, usageCalls: map[int]int{}, instSessions: map[[2]int]int{},
		sessions: make(chan struct{}, 1), requests: make(chan struct{}, 1)}
}

func (f *fakeTraffic) SessionsChanged() <-chan struct{} { return f.sessions }
func (f *fakeTraffic) RequestsDone() <-chan struct{}    { return f.requests }

// sessionsChanged and requestDone signal as the proxy does.
func (f *fakeTraffic) sessionsChanged() { f.sessions <- struct{}{} }
func (f *fakeTraffic) requestDone()     { f.requests <- struct{}{} }

func (f *fakeTraffic) Publish(r *fleet.Routes) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes = append(f.routes, r)
}

func (f *fakeTraffic) Usage(gen int) fleet.Usage {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.usageCalls[gen]++
	return f.usage[gen]
}

func (f *fakeTraffic) DropGeneration(gen int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, fmt.Sprintf("drop-gen %d", gen))
	u := f.usage[gen]
	n := u.Sessions
	u.Sessions = 0
	f.usage[gen] = u
	return n
}

func (f *fakeTraffic) DropInstance(gen, inst int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, fmt.Sprintf("drop-inst %d/%d", gen, inst))
	n := f.instSessions[[2]int{gen, inst}]
	delete(f.instSessions, [2]int{gen, inst})
	u := f.usage[gen]
	u.Sessions -= n
	f.usage[gen] = u
	return n
}

// setInstanceSessions gives instance inst of gen n sessions, counted in
// the generation's usage too.
func (f *fakeTraffic) setInstanceSessions(gen, inst, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := [2]int{gen, inst}
	u := f.usage[gen]
	u.Sessions += n - f.instSessions[k]
	f.usage[gen] = u
	f.instSessions[k] = n
}

// fakeObserver records the supervisor's Observer calls as text:
// "retired 1 forced", "lost 1", "sessions-lost 1 crash 2".
type fakeObserver struct {
	mu      sync.Mutex
	events  []string
	drained map[int]time.Duration
}

func newFakeObserver() *fakeObserver { return &fakeObserver{drained: map[int]time.Duration{}} }

func (o *fakeObserver) GenerationRetired(gen int, drained time.Duration, forced bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	how := "drained"
	if forced {
		how = "forced"
	}
	o.events = append(o.events, fmt.Sprintf("retired %d %s", gen, how))
	o.drained[gen] = drained
}

func (o *fakeObserver) GenerationLost(gen int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, fmt.Sprintf("lost %d", gen))
}

func (o *fakeObserver) SessionsLost(gen int, cause LossCause, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, fmt.Sprintf("sessions-lost %d %s %d", gen, cause, n))
}

func (o *fakeObserver) RolledBack(from, to int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, fmt.Sprintf("rolled-back %d to %d", from, to))
}

func (o *fakeObserver) CanaryEnded(gen int, promoted bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, fmt.Sprintf("canary-ended %d promoted=%t", gen, promoted))
}

func (o *fakeObserver) got() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.events)
}

func (o *fakeObserver) drainedOf(gen int) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.drained[gen]
}

func (f *fakeTraffic) Forget(gen int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, fmt.Sprintf("forget %d", gen))
}

func (f *fakeTraffic) CloseHeld(ctx context.Context, gen int, window time.Duration) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, fmt.Sprintf("close-held %d %v", gen, window))
	u := f.usage[gen]
	n := u.Upgraded
	u.Upgraded = 0
	f.usage[gen] = u
	return n
}

// RestorePins takes the pins of a version 1 state file.
func (f *fakeTraffic) RestorePins(p []fleet.Pin) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pins = append(f.pins, p...)
	return len(p)
}

// KeepPins ends the pins alive refuses, like the proxy.
func (f *fakeTraffic) KeepPins(alive func(gen, inst int) bool) map[int]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	lost := map[int]int{}
	f.pins = slices.DeleteFunc(f.pins, func(p fleet.Pin) bool {
		if !alive(p.Generation, p.Instance) {
			lost[p.Generation]++
			return true
		}
		return false
	})
	return lost
}

func (f *fakeTraffic) setUsage(gen int, u fleet.Usage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.usage[gen] = u
}

func (f *fakeTraffic) calls(gen int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.usageCalls[gen]
}

func (f *fakeTraffic) gotEvents() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

func (f *fakeTraffic) hasEvent(e string) bool { return slices.Contains(f.gotEvents(), e) }

// last is the most recent Routing published, as text: "active=2[1,2] detached=1[1]".
func (f *fakeTraffic) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.routes) == 0 {
		return "(nothing published)"
	}
	return routingText(f.routes[len(f.routes)-1])
}

func (f *fakeTraffic) lastRouting() *fleet.Routes {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.routes) == 0 {
		return &fleet.Routes{}
	}
	return f.routes[len(f.routes)-1]
}

func routingText(r *fleet.Routes) string {
	route := func(rt *fleet.Route) string {
		var idx []string
		for _, e := range rt.Instances {
			idx = append(idx, fmt.Sprint(e.Instance))
		}
		return fmt.Sprintf("%d[%s]", rt.Generation, strings.Join(idx, ","))
	}
	a := "none"
	if r.Active != nil {
		a = route(r.Active)
	}
	var d []string
	for _, rt := range r.Detached {
		d = append(d, route(rt))
	}
	if r.Canary != nil {
		a += fmt.Sprintf(" canary=%s@%g", route(r.Canary), r.CanaryShare)
	}
	return fmt.Sprintf("active=%s detached=%s", a, strings.Join(d, ","))
}
