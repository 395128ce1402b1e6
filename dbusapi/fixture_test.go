package dbusapi

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/tests/dbustest"
	"github.com/gatewayd/gateway/tests/gwtest"
)

// fakeCore records every call and answers with what the test configured.
// godbus runs each method call on its own goroutine, so everything is
// behind mu.
type fakeCore struct {
	mu    sync.Mutex
	calls []string

	upgradeGen  int
	upgradeErr  error
	upgradeWait chan struct{} // if set, Upgrade blocks until it is closed
	detachGen   int
	detachErr   error
	rollbackGen int
	rollbackErr error
	retireErr   error
	gens        []fleet.Generation
	gensErr     error
	afterGens   func(f *fakeCore) // if set, runs once after Generations answers: what changed before the next call
	sessions    []fleet.Pin
	sessionsErr error
	endErr      error
	store       fleet.PinStore
}

var _ fleet.Core = (*fakeCore)(nil)

// set changes the configuration under the lock.
func (f *fakeCore) set(fn func(f *fakeCore)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeCore) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// Calls returns the calls so far, e.g. "Retire 3 true".
func (f *fakeCore) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// reset forgets the calls and the configuration.
func (f *fakeCore) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
	f.upgradeGen, f.upgradeErr, f.upgradeWait = 0, nil, nil
	f.detachGen, f.detachErr = 0, nil
	f.rollbackGen, f.rollbackErr = 0, nil
	f.retireErr, f.endErr = nil, nil
	f.gens, f.gensErr, f.afterGens = nil, nil, nil
	f.sessions, f.sessionsErr = nil, nil
}

func (f *fakeCore) resetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

func (f *fakeCore) Upgrade(ctx context.Context) (int, error) {
	f.record("Upgrade")
	f.mu.Lock()
	wait := f.upgradeWait
	f.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.upgradeGen, f.upgradeErr
}

func (f *fakeCore) Detach(_ context.Context, gen int) (int, error) {
	f.record("Detach %d", gen)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.detachGen, f.detachErr
}

func (f *fakeCore) Rollback(_ context.Context, move bool) (int, error) {
	f.record("Rollback %t", move)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rollbackGen, f.rollbackErr
}

func (f *fakeCore) UpgradeCanary(_ context.Context, share float64) (int, error) {
	f.record("UpgradeCanary %g", share)
	return 9, nil
}

func (f *fakeCore) Promote(context.Context) (int, error) {
	f.record("Promote")
	return 9, nil
}

func (f *fakeCore) Abort(_ context.Context, move bool) (int, error) {
	f.record("Abort %t", move)
	return 9, nil
}

func (f *fakeCore) Retire(_ context.Context, gen int, force bool) error {
	f.record("Retire %d %t", gen, force)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.retireErr
}

func (f *fakeCore) Generations(context.Context) ([]fleet.Generation, error) {
	f.record("Generations")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gens == nil {
		return nil, f.gensErr
	}
	out := make([]fleet.Generation, len(f.gens))
	for i, g := range f.gens {
		g.PIDs = slices.Clone(g.PIDs)
		out[i] = g
	}
	err := f.gensErr
	if next := f.afterGens; next != nil {
		f.afterGens = nil
		next(f)
	}
	return out, err
}

func (f *fakeCore) Sessions(context.Context) ([]fleet.Pin, error) {
	f.record("Sessions")
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sessions), f.sessionsErr
}

func (f *fakeCore) RecentSessions(ctx context.Context, n int) ([]fleet.Pin, error) {
	return f.Sessions(ctx)
}

// listeners are what the fake's Listeners returns: the property carries
// them through the API's wire types and back.
var listeners = []fleet.Listener{{Name: "https", Address: "127.0.0.1:8443", TLS: true, HTTP2: true,
	Certificates: []fleet.Certificate{{File: "/etc/ssl/site.pem", Names: []string{"site.test"}, NotAfter: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)}}}}

func (f *fakeCore) Listeners(context.Context) ([]fleet.Listener, error) { return listeners, nil }

func (f *fakeCore) PinStore(context.Context) (fleet.PinStore, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.store, nil
}

func (f *fakeCore) EndSession(_ context.Context, key fleet.SessionKey) error {
	f.record("EndSession %s", key)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.endErr
}

// testInfo is what every test gateway reports as App and Version.
var testInfo = Info{App: "notes", Version: "1.2.3"}

// gateway is a Server on a private bus that owns its bus name, and a
// Client on another connection.
type gateway struct {
	bus    *dbustest.Bus
	core   *fakeCore
	srv    *Server
	conn   *dbus.Conn // the server's connection
	name   string
	client *Client
	logs   *gwtest.Buffer
}

// newGateway exports a fake fleet.Core on a fresh private bus as the gateway
// instance (BusName(instance)) and connects a Client to it.
func newGateway(t *testing.T, instance string, o Options) *gateway {
	t.Helper()
	return newGatewayOn(t, dbustest.Start(t), instance, o)
}

// newGatewayOn is newGateway on a bus that may hold other gateways.
func newGatewayOn(t *testing.T, bus *dbustest.Bus, instance string, o Options) *gateway {
	t.Helper()
	g := &gateway{bus: bus, core: &fakeCore{}, conn: bus.Conn(t), name: BusName(instance), logs: &gwtest.Buffer{}}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(g.logs, nil))
	}
	srv, err := Export(g.conn, g.core, testInfo, o)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	g.srv = srv
	reply, err := g.conn.RequestName(g.name, dbus.NameFlagDoNotQueue)
	if err != nil {
		t.Fatalf("RequestName(%q): %v", g.name, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName(%q): got reply %v, want %v", g.name, reply, dbus.RequestNameReplyPrimaryOwner)
	}
	c, err := NewClient(testContext(t), bus.Conn(t), g.name)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	g.client = c
	return g
}

// testContext bounds every call a test makes.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sampleGenerations has every field the API carries set, including the
// extremes of the wire types.
func sampleGenerations() []fleet.Generation {
	at := func(usec int64) time.Time { return time.UnixMicro(usec).UTC() }
	return []fleet.Generation{
		{ID: 1, State: "detached", Revision: "r1", Unit: "gateway-gen1.scope", PIDs: []int{100, 101},
			Usage:   fleet.Usage{Sessions: 3, InFlight: 1, Upgraded: 2},
			Started: at(1_700_000_000_000_000), Detached: at(1_700_000_100_000_000), Deadline: at(1_700_003_700_000_000)},
		{ID: 2, State: "active", Revision: "r2 (release 2024-05-01)", Unit: "gateway-gen2.scope", PIDs: []int{200, 4294967295},
			Usage:   fleet.Usage{Sessions: 5, InFlight: 4294967295},
			Started: at(253402300799_999_999)}, // the last microsecond of year 9999
		{ID: 4294967295, State: "starting", PIDs: []int{}, Started: at(1)},
	}
}

// sampleTrial is a judged trial with every field the API carries set,
// each exact to the microsecond as the wire keeps it.
func sampleTrial() *fleet.Trial {
	return &fleet.Trial{Share: 0.125, Started: time.UnixMicro(1_700_000_200_000_001).UTC(),
		Canary: fleet.Summary{Requests: 250, Errors: 1, P99: 40_960 * time.Microsecond},
		Active: fleet.Summary{Requests: 1<<64 - 1, Errors: 2, P99: 36 * time.Millisecond},
		Judge: &fleet.Judge{MinRequests: 200, ErrorMargin: 0.01, LatencyMargin: 0.5, LatencyMin: 10 * time.Millisecond,
			PromoteAfter: 30 * time.Minute},
		Verdict: "within the margins so far: 5xx 0.40% against 0.00%"}
}

// withCanary is the first two of sampleGenerations and generation 3 on
// trial.
func withCanary(t *fleet.Trial) []fleet.Generation {
	return append(sampleGenerations()[:2], fleet.Generation{ID: 3, State: fleet.Canary, Revision: "r3",
		Unit: "gateway-gen3.scope", PIDs: []int{300}, Usage: fleet.Usage{Sessions: 1},
		Started: time.UnixMicro(1_700_000_150_000_000).UTC(), Trial: t})
}

// sampleSessions are idle for 0 seconds and for the most the wire carries.
func sampleSessions() []fleet.Pin {
	now := time.Now()
	k1, _ := fleet.ParseSessionKey("3f9a0c00000000000000000000000001")
	k2, _ := fleet.ParseSessionKey("77e0b200000000000000000000000002")
	return []fleet.Pin{
		{Key: k1, Generation: 1, Instance: 1, LastSeen: now},
		{Key: k2, Generation: 2, Instance: 3, LastSeen: now.Add(-4294967295 * time.Second)},
	}
}

// sessionRows are pins as the API shows them: hash, generation, instance
// and idle seconds (the wire carries no last-seen time).
func sessionRows(ps []fleet.Pin) []string {
	now := time.Now()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprintf("%s %d %d %d", p.Key, p.Generation, p.Instance, p.Idle(now)/time.Second)
	}
	return out
}

// normGens makes nil and empty PID lists compare equal: D-Bus has no nil.
func normGens(gens []fleet.Generation) []fleet.Generation {
	out := slices.Clone(gens)
	for i := range out {
		if out[i].PIDs == nil {
			out[i].PIDs = []int{}
		}
	}
	return out
}
