package dbusapi

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/tests/dbustest"
)

func TestMethods(t *testing.T) {
	g := newGateway(t, "", Options{})
	ctx := testContext(t)
	tests := []struct {
		name      string
		setup     func(f *fakeCore)
		call      func(c *Client) (any, error)
		want      any
		wantCalls []string
	}{
		{
			name:      "Upgrade returns the new generation",
			setup:     func(f *fakeCore) { f.upgradeGen = 7 },
			call:      func(c *Client) (any, error) { return c.Upgrade(ctx) },
			want:      7,
			wantCalls: []string{"Upgrade"},
		},
		{
			name:      "Detach passes the generation and returns the replacement",
			setup:     func(f *fakeCore) { f.detachGen = 4 },
			call:      func(c *Client) (any, error) { return c.Detach(ctx, 3) },
			want:      4,
			wantCalls: []string{"Detach 3"},
		},
		{
			name:      "Rollback passes the flag and returns the restored generation",
			setup:     func(f *fakeCore) { f.rollbackGen = 3 },
			call:      func(c *Client) (any, error) { return c.Rollback(ctx, true) },
			want:      3,
			wantCalls: []string{"Rollback true"},
		},
		{
			name:      "UpgradeCanary takes a percentage and gives the core a share",
			call:      func(c *Client) (any, error) { return c.UpgradeCanary(ctx, 10) },
			want:      9,
			wantCalls: []string{"UpgradeCanary 0.1"},
		},
		{
			name:      "Promote",
			call:      func(c *Client) (any, error) { return c.Promote(ctx) },
			want:      9,
			wantCalls: []string{"Promote"},
		},
		{
			name:      "Abort passes the flag",
			call:      func(c *Client) (any, error) { return c.Abort(ctx, true) },
			want:      9,
			wantCalls: []string{"Abort true"},
		},
		{
			name:      "Retire with force",
			call:      func(c *Client) (any, error) { return nil, c.Retire(ctx, 3, true) },
			wantCalls: []string{"Retire 3 true"},
		},
		{
			name:      "Retire without force",
			call:      func(c *Client) (any, error) { return nil, c.Retire(ctx, 4294967295, false) },
			wantCalls: []string{"Retire 4294967295 false"},
		},
		{
			name:      "ListGenerations round-trips every field",
			setup:     func(f *fakeCore) { f.gens = sampleGenerations() },
			call:      func(c *Client) (any, error) { gens, err := c.Generations(ctx); return normGens(gens), err },
			want:      normGens(sampleGenerations()),
			wantCalls: []string{"Generations"},
		},
		{
			name:      "ListGenerations with none",
			setup:     func(f *fakeCore) { f.gens = nil },
			call:      func(c *Client) (any, error) { gens, err := c.Generations(ctx); return len(gens), err },
			want:      0,
			wantCalls: []string{"Generations"},
		},
		{
			name:      "ListGenerations attaches the canary's trial, every field round-tripped",
			setup:     func(f *fakeCore) { f.gens = withCanary(sampleTrial()) },
			call:      func(c *Client) (any, error) { gens, err := c.Generations(ctx); return normGens(gens), err },
			want:      normGens(withCanary(sampleTrial())),
			wantCalls: []string{"Generations", "Generations"},
		},
		{
			name: "a trial an admin decides has no judge and no verdict",
			setup: func(f *fakeCore) {
				f.gens = withCanary(&fleet.Trial{Share: 1, Started: time.UnixMicro(1).UTC(), Canary: fleet.Summary{Requests: 3}})
			},
			call:      func(c *Client) (any, error) { gens, err := c.Generations(ctx); return normGens(gens), err },
			want:      normGens(withCanary(&fleet.Trial{Share: 1, Started: time.UnixMicro(1).UTC(), Canary: fleet.Summary{Requests: 3}})),
			wantCalls: []string{"Generations", "Generations"},
		},
		{
			// The listing and the trial are two snapshots: canary 3 was
			// aborted and 4 started between them.
			name: "the trial of another canary is not attached",
			setup: func(f *fakeCore) {
				f.gens = withCanary(sampleTrial())
				f.afterGens = func(f *fakeCore) {
					f.gens = withCanary(nil)
					f.gens[2].State = fleet.Detached
					f.gens = append(f.gens, fleet.Generation{ID: 4, State: fleet.Canary, Trial: sampleTrial()})
				}
			},
			call:      func(c *Client) (any, error) { gens, err := c.Generations(ctx); return normGens(gens), err },
			want:      normGens(withCanary(nil)),
			wantCalls: []string{"Generations", "Generations"},
		},
		{
			name:      "GetTrial names the canary",
			setup:     func(f *fakeCore) { f.gens = withCanary(sampleTrial()) },
			call:      func(c *Client) (any, error) { gen, tr, err := c.Trial(ctx); return onTrial{gen, tr}, err },
			want:      onTrial{3, sampleTrial()},
			wantCalls: []string{"Generations"},
		},
		{
			name:      "GetTrial without a canary",
			setup:     func(f *fakeCore) { f.gens = sampleGenerations() },
			call:      func(c *Client) (any, error) { gen, tr, err := c.Trial(ctx); return fmt.Sprint(gen, tr == nil), err },
			want:      "0 true",
			wantCalls: []string{"Generations"},
		},
		{
			name:      "ListSessions round-trips every field",
			setup:     func(f *fakeCore) { f.sessions = sampleSessions() },
			call:      func(c *Client) (any, error) { ss, err := c.Sessions(ctx); return sessionRows(ss), err },
			want:      sessionRows(sampleSessions()),
			wantCalls: []string{"Sessions"},
		},
		{
			name:      "ListSessions with none",
			setup:     func(f *fakeCore) { f.sessions = nil },
			call:      func(c *Client) (any, error) { ss, err := c.Sessions(ctx); return len(ss), err },
			want:      0,
			wantCalls: []string{"Sessions"},
		},
		{
			name:      "EndSession passes the hash",
			call:      func(c *Client) (any, error) { return nil, c.EndSession(ctx, "3f9a0c00000000000000000000000001") },
			wantCalls: []string{"EndSession 3f9a0c00000000000000000000000001"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.core.resetCalls()
			if tt.setup != nil {
				g.core.set(tt.setup)
			}
			got, err := tt.call(g.client)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if calls := g.core.Calls(); !slices.Equal(calls, tt.wantCalls) {
				t.Errorf("Core calls: got %q, want %q", calls, tt.wantCalls)
			}
		})
	}
}

// onTrial is what Client.Trial answers.
type onTrial struct {
	gen   int
	trial *fleet.Trial
}

func TestErrors(t *testing.T) {
	g := newGateway(t, "", Options{})
	ctx := testContext(t)
	tests := []struct {
		name     string
		setup    func(f *fakeCore)
		call     func(c *Client) error
		wantName string
		wantMsg  string
	}{
		{
			name: "tagged Retire error keeps its name",
			setup: func(f *fakeCore) {
				f.retireErr = Errorf(ErrNameNoSuchGeneration, errors.New("generation 9: no such generation"))
			},
			call:     func(c *Client) error { return c.Retire(ctx, 9, false) },
			wantName: ErrNameNoSuchGeneration,
			wantMsg:  "generation 9: no such generation",
		},
		{
			name: "wrapped tagged Detach error keeps its name and the whole message",
			setup: func(f *fakeCore) {
				f.detachErr = fmt.Errorf("detaching: %w", Errorf(ErrNameInvalidState, errors.New("generation 2 is detached")))
			},
			call:     func(c *Client) error { _, err := c.Detach(ctx, 2); return err },
			wantName: ErrNameInvalidState,
			wantMsg:  "detaching: generation 2 is detached",
		},
		{
			name: "untagged Upgrade error becomes UpgradeFailed",
			setup: func(f *fakeCore) {
				f.upgradeErr = errors.New("generation 8 never became ready: exit status 1; generation 7 still serves")
			},
			call:     func(c *Client) error { _, err := c.Upgrade(ctx); return err },
			wantName: ErrNameUpgradeFailed,
			wantMsg:  "generation 8 never became ready: exit status 1; generation 7 still serves",
		},
		{
			name: "tagged Upgrade error keeps its name",
			setup: func(f *fakeCore) {
				f.upgradeErr = Errorf(ErrNameAccessDenied, errors.New("not you"))
			},
			call:     func(c *Client) error { _, err := c.Upgrade(ctx); return err },
			wantName: ErrNameAccessDenied,
			wantMsg:  "not you",
		},
		{
			name:     "untagged Detach error is UpgradeFailed: the replacement did not start",
			setup:    func(f *fakeCore) { f.detachErr = errors.New("disk full") },
			call:     func(c *Client) error { _, err := c.Detach(ctx, 1); return err },
			wantName: ErrNameUpgradeFailed,
			wantMsg:  "disk full",
		},
		{
			name: "a refused Detach has the name of its fleet error",
			setup: func(f *fakeCore) {
				f.detachErr = fmt.Errorf("generation 1 is detached: %w", fleet.ErrInvalidState)
			},
			call:     func(c *Client) error { _, err := c.Detach(ctx, 1); return err },
			wantName: ErrNameInvalidState,
			wantMsg:  "generation 1 is detached: not possible in the generation's state",
		},
		{
			name: "a refused Rollback has the name of its fleet error",
			setup: func(f *fakeCore) {
				f.rollbackErr = fmt.Errorf("no detached generation is running to roll back to: %w", fleet.ErrInvalidState)
			},
			call:     func(c *Client) error { _, err := c.Rollback(ctx, false); return err },
			wantName: ErrNameInvalidState,
			wantMsg:  "no detached generation is running to roll back to: not possible in the generation's state",
		},
		{
			name:     "fleet's errors keep their names",
			setup:    func(f *fakeCore) { f.endErr = fmt.Errorf("no pinned session: %w", fleet.ErrNoSuchSession) },
			call:     func(c *Client) error { return c.EndSession(ctx, "3f9a0c00000000000000000000000001") },
			wantName: ErrNameNoSuchSession,
			wantMsg:  "no pinned session: no such session",
		},
		{
			name:     "untagged Retire error becomes Failed",
			setup:    func(f *fakeCore) { f.retireErr = errors.New("stopping gateway-gen1.scope: timeout") },
			call:     func(c *Client) error { return c.Retire(ctx, 1, true) },
			wantName: ErrNameFailed,
			wantMsg:  "stopping gateway-gen1.scope: timeout",
		},
		{
			name:     "untagged ListGenerations error becomes Failed",
			setup:    func(f *fakeCore) { f.gensErr = errors.New("supervisor stopped") },
			call:     func(c *Client) error { _, err := c.Generations(ctx); return err },
			wantName: ErrNameFailed,
			wantMsg:  "supervisor stopped",
		},
		{
			name:     "untagged GetTrial error becomes Failed",
			setup:    func(f *fakeCore) { f.gensErr = errors.New("supervisor stopped") },
			call:     func(c *Client) error { _, _, err := c.Trial(ctx); return err },
			wantName: ErrNameFailed,
			wantMsg:  "supervisor stopped",
		},
		{
			name: "a failed GetTrial fails the listing that needs it",
			setup: func(f *fakeCore) {
				f.gens = withCanary(sampleTrial())
				f.afterGens = func(f *fakeCore) { f.gensErr = errors.New("supervisor stopped") }
			},
			call:     func(c *Client) error { _, err := c.Generations(ctx); return err },
			wantName: ErrNameFailed,
			wantMsg:  "reading generation 3's trial: supervisor stopped",
		},
		{
			name:     "untagged ListSessions error becomes Failed",
			setup:    func(f *fakeCore) { f.sessionsErr = errors.New("proxy stopped") },
			call:     func(c *Client) error { _, err := c.Sessions(ctx); return err },
			wantName: ErrNameFailed,
			wantMsg:  "proxy stopped",
		},
		{
			name:     "tagged EndSession error keeps its name",
			setup:    func(f *fakeCore) { f.endErr = Errorf(ErrNameNoSuchSession, errors.New("no pinned session k1-00")) },
			call:     func(c *Client) error { return c.EndSession(ctx, "3f9a0c00000000000000000000000001") },
			wantName: ErrNameNoSuchSession,
			wantMsg:  "no pinned session k1-00",
		},
		{
			name:     "EndSession of what is not a session hash",
			setup:    func(*fakeCore) {},
			call:     func(c *Client) error { return c.EndSession(ctx, "k1-00") },
			wantName: ErrNameNoSuchSession,
			wantMsg:  `"k1-00": session hash: want 32 hex digits`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.core.reset()
			g.core.set(tt.setup)
			err := tt.call(g.client)
			if err == nil {
				t.Fatalf("got no error, want %s", tt.wantName)
			}
			if got := NameOf(err); got != tt.wantName {
				t.Errorf("NameOf: got %q, want %q", got, tt.wantName)
			}
			if got := err.Error(); got != tt.wantMsg {
				t.Errorf("message: got %q, want %q", got, tt.wantMsg)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("errors.As(%T, *Error): got false, want true", err)
			}
		})
	}
}

// TestErrorsOnTheWire checks what any D-Bus client (busctl, gdbus) sees:
// the error name and the message as the first string of the body.
func TestErrorsOnTheWire(t *testing.T) {
	g := newGateway(t, "", Options{})
	g.core.set(func(f *fakeCore) { f.upgradeErr = errors.New("generation 2 exited: status 3") })
	obj := g.bus.Conn(t).Object(g.name, Path)
	err := obj.CallWithContext(testContext(t), Interface+".Upgrade", 0).Err
	var de dbus.Error
	if !errors.As(err, &de) {
		t.Fatalf("got %T %v, want a dbus.Error", err, err)
	}
	if de.Name != ErrNameUpgradeFailed {
		t.Errorf("name: got %q, want %q", de.Name, ErrNameUpgradeFailed)
	}
	want := []any{"generation 2 exited: status 3"}
	if !reflect.DeepEqual(de.Body, want) {
		t.Errorf("body: got %#v, want %#v", de.Body, want)
	}
}

// TestUpgradeBlocksOnlyItsCaller: a long upgrade does not stop others
// from listing generations, and its caller gets the number when it ends.
func TestUpgradeBlocksOnlyItsCaller(t *testing.T) {
	g := newGateway(t, "", Options{})
	ctx := testContext(t)
	release := make(chan struct{})
	g.core.set(func(f *fakeCore) { f.upgradeWait, f.upgradeGen, f.gens = release, 3, sampleGenerations() })

	type result struct {
		gen int
		err error
	}
	done := make(chan result, 1)
	go func() {
		gen, err := g.client.Upgrade(ctx)
		done <- result{gen, err}
	}()
	waitFor(t, "the Core to see the Upgrade", func() bool { return slices.Contains(g.core.Calls(), "Upgrade") })

	other, err := NewClient(ctx, g.bus.Conn(t), g.name)
	if err != nil {
		t.Fatal(err)
	}
	if gens, err := other.Generations(ctx); err != nil || len(gens) != 3 {
		t.Fatalf("Generations during an upgrade: got %d, %v, want 3, nil", len(gens), err)
	}
	select {
	case r := <-done:
		t.Fatalf("Upgrade returned %d, %v before the Core finished", r.gen, r.err)
	default:
	}
	close(release)
	select {
	case r := <-done:
		if r.err != nil || r.gen != 3 {
			t.Errorf("Upgrade: got %d, %v, want 3, nil", r.gen, r.err)
		}
	case <-ctx.Done():
		t.Fatal("Upgrade did not return after the Core finished")
	}
}

// waitFor polls cond for up to 10s: a bounded wait, not an assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBusName(t *testing.T) {
	b := dbustest.Start(t).Conn(t)
	tests := []struct {
		instance string
		want     string // "" where only validity is checked
	}{
		{"", "org.gatewayd.Gateway1"},
		{"notes", "org.gatewayd.Gateway1.i_notes"},
		{"9lives", "org.gatewayd.Gateway1.i_9lives"},
		{"Shop2", "org.gatewayd.Gateway1.i_Shop2"},
		{"my-app.v2", ""},
		{"my_app", ""},
		{"café", ""},
		{"a b/c:d", ""},
	}
	for _, tt := range tests {
		t.Run(tt.instance, func(t *testing.T) {
			got := BusName(tt.instance)
			if tt.want != "" && got != tt.want {
				t.Errorf("BusName(%q): got %q, want %q", tt.instance, got, tt.want)
			}
			if tt.instance != "" && !strings.HasPrefix(got, Interface+".i_") {
				t.Errorf("BusName(%q): got %q, want it to start with %s.i_", tt.instance, got, Interface)
			}
			// And the bus takes it as a name.
			reply, err := b.RequestName(got, dbus.NameFlagDoNotQueue)
			if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
				t.Errorf("RequestName(%q): got %v, %v, want %v, nil", got, reply, err, dbus.RequestNameReplyPrimaryOwner)
			}
		})
	}
}

// TestBusNameDistinct: two template instances that systemd tells apart
// must not fight over one bus name ("side by side").
func TestBusNameDistinct(t *testing.T) {
	pairs := [][2]string{
		{"my-app", "my_app"},
		{"my.app", "my-app"},
		{"café", "caf_"},
	}
	var clashes []string
	for _, p := range pairs {
		if a, b := BusName(p[0]), BusName(p[1]); a == b {
			clashes = append(clashes, fmt.Sprintf("%q and %q → %s", p[0], p[1], a))
		}
	}
	if len(clashes) > 0 {
		t.Fatalf("BusName maps distinct instances to one bus name: %s", strings.Join(clashes, "; "))
	}
}

func TestNameOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain", errors.New("x"), ""},
		{"tagged", Errorf(ErrNameFailed, errors.New("x")), ErrNameFailed},
		{"wrapped", fmt.Errorf("a: %w", Errorf(ErrNameAccessDenied, errors.New("x"))), ErrNameAccessDenied},
		{"canceled", Errorf(ErrNameUpgradeFailed, context.Canceled), ErrNameUpgradeFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NameOf(tt.err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got := Errorf(ErrNameFailed, errors.New("why")).Error(); !strings.Contains(got, "why") {
		t.Errorf("Error(): got %q, want the cause", got)
	}
}

// TestBusNameLongInstance: systemd allows instance names up to 239
// characters in gateway@NAME.service (unit names stop at 255); the bus
// name made of one must still be a valid bus name (255 at most), or the
// gateway cannot take it and no client can find it.
func TestBusNameLongInstance(t *testing.T) {
	conn := dbustest.Start(t).Conn(t)
	instance := strings.Repeat("a", 255-len("gateway@.service"))
	name := BusName(instance)
	reply, err := conn.RequestName(name, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("BusName of a %d-character instance is %d characters, over the bus's 255: RequestName got %v, error %t, want %v",
			len(instance), len(name), reply, err != nil, dbus.RequestNameReplyPrimaryOwner)
	}
	if other := BusName(strings.Repeat("a", 238) + "b"); other == name {
		t.Errorf("two instances share the bus name %q", name)
	}
}
