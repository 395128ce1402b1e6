package dbusapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gateway/dbusapi/dbustest"
	"github.com/godbus/dbus/v5"
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
	retireErr   error
	gens        []Generation
	gensErr     error
	sessions    []Session
	sessionsErr error
	endErr      error
	store       PinStore
}

var _ Core = (*fakeCore)(nil)

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
	f.retireErr, f.endErr = nil, nil
	f.gens, f.gensErr = nil, nil
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

func (f *fakeCore) Retire(_ context.Context, gen int, force bool) error {
	f.record("Retire %d %t", gen, force)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.retireErr
}

func (f *fakeCore) Generations(context.Context) ([]Generation, error) {
	f.record("Generations")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gens == nil {
		return nil, f.gensErr
	}
	out := make([]Generation, len(f.gens))
	for i, g := range f.gens {
		g.PIDs = slices.Clone(g.PIDs)
		out[i] = g
	}
	return out, f.gensErr
}

func (f *fakeCore) Sessions(context.Context) ([]Session, error) {
	f.record("Sessions")
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sessions), f.sessionsErr
}

func (f *fakeCore) RecentSessions(ctx context.Context, n int) ([]Session, error) {
	return f.Sessions(ctx)
}

func (f *fakeCore) PinStore(context.Context) (PinStore, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.store, nil
}

func (f *fakeCore) EndSession(_ context.Context, hash string) error {
	f.record("EndSession %s", hash)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.endErr
}

// syncBuffer collects the server's logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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
	logs   *syncBuffer
}

// newGateway exports a fake Core on a fresh private bus as the gateway
// instance (BusName(instance)) and connects a Client to it.
func newGateway(t *testing.T, instance string, o Options) *gateway {
	t.Helper()
	return newGatewayOn(t, dbustest.Start(t), instance, o)
}

// newGatewayOn is newGateway on a bus that may hold other gateways.
func newGatewayOn(t *testing.T, bus *dbustest.Bus, instance string, o Options) *gateway {
	t.Helper()
	g := &gateway{bus: bus, core: &fakeCore{}, conn: bus.Conn(t), name: BusName(instance), logs: &syncBuffer{}}
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

// sampleGenerations has every field set, including the extremes of the
// wire types.
func sampleGenerations() []Generation {
	return []Generation{
		{ID: 1, State: "detached", Revision: "r1", Unit: "gateway-gen1.scope", PIDs: []uint32{100, 101},
			Sessions: 3, InFlight: 1, Upgraded: 2,
			StartedUSec: 1_700_000_000_000_000, DetachedUSec: 1_700_000_100_000_000, DeadlineUSec: 1_700_003_700_000_000},
		{ID: 2, State: "active", Revision: "r2 (release 2024-05-01)", Unit: "gateway-gen2.scope", PIDs: []uint32{200, 4294967295},
			Sessions: 5, InFlight: 4294967295, Upgraded: 0,
			StartedUSec: 1<<64 - 1, DetachedUSec: 0, DeadlineUSec: 0},
		{ID: 4294967295, State: "starting", Revision: "", Unit: "", PIDs: []uint32{},
			StartedUSec: 1},
	}
}

func sampleSessions() []Session {
	return []Session{
		{Hash: "k1-3f9a0c", Generation: 1, Instance: 1, IdleSeconds: 0},
		{Hash: "k1-77e0b2", Generation: 2, Instance: 3, IdleSeconds: 4294967295},
	}
}

// normGens makes nil and empty PID lists compare equal: D-Bus has no nil.
func normGens(gens []Generation) []Generation {
	out := slices.Clone(gens)
	for i := range out {
		if out[i].PIDs == nil {
			out[i].PIDs = []uint32{}
		}
	}
	return out
}
