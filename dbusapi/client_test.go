package dbusapi

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/gatewayd/gateway/tests/dbustest"
)

func TestDial(t *testing.T) {
	g := newGateway(t, "", Options{})
	g.core.set(func(f *fakeCore) { f.gens = sampleGenerations() })
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", g.bus.Address)
	ctx := testContext(t)

	t.Run("finds the gateway", func(t *testing.T) {
		c, err := Dial(ctx, true, "")
		if err != nil {
			t.Fatalf("Dial: got %v, want a client", err)
		}
		defer c.Close()
		gens, err := c.Generations(ctx)
		if err != nil || len(gens) != 3 {
			t.Errorf("Generations: got %d, %v, want 3, nil", len(gens), err)
		}
	})
	tests := []struct {
		name     string
		instance string
		want     []string // in the message
	}{
		{"missing instance", "missing", []string{
			"no gateway on the user bus",
			"org.gatewayd.Gateway1.i_missing",
			"is gateway@missing.service running?",
			"systemctl --user status gateway@missing.service",
		}},
		{"instance with odd characters", "my-app", []string{
			"(" + BusName("my-app") + ")",
			"is gateway@my-app.service running?",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Dial(ctx, true, tt.instance)
			if err == nil {
				c.Close()
				t.Fatalf("Dial(%q): got a client, want %v", tt.instance, ErrNoGateway)
			}
			if !errors.Is(err, ErrNoGateway) {
				t.Errorf("errors.Is(%v, ErrNoGateway): got false, want true", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message: got %q, want it to contain %q", err, w)
				}
			}
		})
	}
	t.Run("no bus", func(t *testing.T) {
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
		c, err := Dial(ctx, true, "")
		if err == nil {
			c.Close()
			t.Fatal("Dial: got a client, want an error")
		}
		if errors.Is(err, ErrNoGateway) {
			t.Errorf("got %v, want a connection error, not ErrNoGateway", err)
		}
		if want := "connecting to the user bus"; !strings.Contains(err.Error(), want) {
			t.Errorf("message: got %q, want it to contain %q", err, want)
		}
	})
}

// TestInstances: template units run several gateways side by side on one
// bus, each under its own name, each reaching its own Core.
func TestInstances(t *testing.T) {
	bus := dbustest.Start(t)
	notes := newGatewayOn(t, bus, "notes", Options{})
	shop := newGatewayOn(t, bus, "shop", Options{})
	if got, want := notes.name, "org.gatewayd.Gateway1.i_notes"; got != want {
		t.Fatalf("bus name: got %q, want %q", got, want)
	}
	notes.core.set(func(f *fakeCore) { f.upgradeGen = 11 })
	shop.core.set(func(f *fakeCore) { f.upgradeGen = 22 })
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus.Address)
	ctx := testContext(t)

	for _, tt := range []struct {
		instance string
		g        *gateway
		want     int
	}{
		{"notes", notes, 11},
		{"shop", shop, 22},
	} {
		t.Run(tt.instance, func(t *testing.T) {
			c, err := Dial(ctx, true, tt.instance)
			if err != nil {
				t.Fatalf("Dial(%q): %v", tt.instance, err)
			}
			defer c.Close()
			tt.g.core.resetCalls()
			got, err := c.Upgrade(ctx)
			if err != nil || got != tt.want {
				t.Errorf("Upgrade: got %d, %v, want %d, nil", got, err, tt.want)
			}
			if calls := tt.g.core.Calls(); !slices.Equal(calls, []string{"Upgrade"}) {
				t.Errorf("Core calls: got %q, want [Upgrade]", calls)
			}
		})
	}
	t.Run("no default gateway", func(t *testing.T) {
		_, err := Dial(ctx, true, "")
		if !errors.Is(err, ErrNoGateway) {
			t.Fatalf("Dial(\"\"): got %v, want %v", err, ErrNoGateway)
		}
		if want := "is gateway.service running?"; !strings.Contains(err.Error(), want) {
			t.Errorf("message: got %q, want it to contain %q", err, want)
		}
	})
}

func TestNewClientNoGateway(t *testing.T) {
	conn := dbustest.Start(t).Conn(t)
	_, err := NewClient(testContext(t), conn, BusName("nobody-here"))
	if !errors.Is(err, ErrNoGateway) {
		t.Errorf("got %v, want %v", err, ErrNoGateway)
	}
}

// TestClientGatewayGone: a call after the gateway left the bus fails with
// the bus's own error name.
func TestClientGatewayGone(t *testing.T) {
	g := newGateway(t, "", Options{})
	if _, err := g.conn.ReleaseName(g.name); err != nil {
		t.Fatal(err)
	}
	_, err := g.client.Upgrade(testContext(t))
	if err == nil {
		t.Fatal("Upgrade: got no error, want one")
	}
	if got, want := NameOf(err), "org.freedesktop.DBus.Error.ServiceUnknown"; got != want {
		t.Errorf("NameOf: got %q, want %q (%v)", got, want, err)
	}
	var de dbus.Error
	if errors.As(err, &de) {
		t.Errorf("got a raw %T, want it turned into *Error", err)
	}
}

// olderGateway answers as a gateway from before GetTrial: a canary in its
// listing and no method to ask for its trial.
type olderGateway struct{ gens []wireGeneration }

func (o olderGateway) ListGenerations() ([]wireGeneration, *dbus.Error) { return o.gens, nil }

// refusedTrial answers as a gateway behind a system bus whose policy
// file predates GetTrial: the bus refuses the call.
type refusedTrial struct{ olderGateway }

func (refusedTrial) GetTrial() (wireTrial, *dbus.Error) {
	return wireTrial{}, &dbus.Error{Name: errBusAccessDenied, Body: []any{"Rejected send message"}}
}

// TestClientOlderGateway: a newer gatewayctl lists an older gateway's
// generations, its canary without a trial, rather than fail; so too when
// the bus's policy refuses the trial.
func TestClientOlderGateway(t *testing.T) {
	var old olderGateway
	for _, g := range withCanary(sampleTrial()) {
		old.gens = append(old.gens, toWire(g))
	}
	for name, tc := range map[string]struct {
		gw       any
		trialErr string
	}{"older": {old, errUnknownMethod}, "refused by the bus": {refusedTrial{old}, errBusAccessDenied}} {
		t.Run(name, func(t *testing.T) {
			bus := dbustest.Start(t)
			conn := bus.Conn(t)
			if err := conn.Export(tc.gw, Path, Interface); err != nil {
				t.Fatal(err)
			}
			if reply, err := conn.RequestName(BusName(""), dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
				t.Fatalf("RequestName: got %v, %v", reply, err)
			}
			ctx := testContext(t)
			c, err := NewClient(ctx, bus.Conn(t), BusName(""))
			if err != nil {
				t.Fatal(err)
			}
			gens, err := c.Generations(ctx)
			if err != nil {
				t.Fatalf("Generations: got %v, want the listing", err)
			}
			if want := normGens(withCanary(nil)); !reflect.DeepEqual(gens, want) {
				t.Errorf("got %+v, want %+v", gens, want)
			}
			if _, _, err := c.Trial(ctx); NameOf(err) != tc.trialErr {
				t.Errorf("Trial: got %v (%s), want %s", err, NameOf(err), tc.trialErr)
			}
		})
	}
}
