package dbusapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gatewayd/gateway/fleet"
)

// ErrNoGateway means no gateway owns the bus name asked for.
var ErrNoGateway = errors.New("no gateway")

// Client calls a gateway's API.
type Client struct {
	conn *dbus.Conn
	name string
	obj  dbus.BusObject
}

// Dial connects to the system bus (or, with user, the session bus of a
// `systemd --user` manager) and checks that the gateway instance is there.
func Dial(ctx context.Context, user bool, instance string) (*Client, error) {
	var conn *dbus.Conn
	var err error
	bus := "system"
	if user {
		bus = "user"
		conn, err = dbus.ConnectSessionBus(dbus.WithContext(ctx))
	} else {
		conn, err = dbus.ConnectSystemBus(dbus.WithContext(ctx))
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to the %s bus: %w", bus, err)
	}
	c, err := NewClient(ctx, conn, BusName(instance))
	if errors.Is(err, ErrNoGateway) {
		unit := "gateway.service"
		if instance != "" {
			unit = "gateway@" + instance + ".service"
		}
		flag := ""
		if user {
			flag = "--user "
		}
		err = fmt.Errorf("%w on the %s bus (%s): is %s running? (systemctl %sstatus %s)", ErrNoGateway, bus, BusName(instance), unit, flag, unit)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// NewClient uses an open connection (tests bring a private bus).
func NewClient(ctx context.Context, conn *dbus.Conn, name string) (*Client, error) {
	var has bool
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err != nil {
		return nil, fmt.Errorf("asking the bus for %s: %w", name, err)
	}
	if !has {
		return nil, ErrNoGateway
	}
	return &Client{conn: conn, name: name, obj: conn.Object(name, Path)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// call calls a method and turns D-Bus errors into *Error with their name.
func (c *Client) call(ctx context.Context, method string, out []any, args ...any) error {
	call := c.obj.CallWithContext(ctx, Interface+"."+method, 0, args...)
	if call.Err != nil {
		return apiError(call.Err)
	}
	if len(out) == 0 {
		return nil
	}
	return call.Store(out...)
}

func apiError(err error) error {
	var de dbus.Error
	if errors.As(err, &de) {
		msg := de.Name
		if len(de.Body) > 0 {
			if s, ok := de.Body[0].(string); ok {
				msg = s
			}
		}
		return &Error{Name: de.Name, Err: errors.New(msg)}
	}
	return err
}

// Upgrade starts a new generation and returns its number once it is active.
func (c *Client) Upgrade(ctx context.Context) (int, error) {
	var gen uint32
	err := c.call(ctx, "Upgrade", []any{&gen})
	return int(gen), err
}

// Rollback makes the newest running detached generation active again;
// returns it.
func (c *Client) Rollback(ctx context.Context, moveSessions bool) (int, error) {
	var gen uint32
	err := c.call(ctx, "Rollback", []any{&gen}, moveSessions)
	return int(gen), err
}

// UpgradeCanary starts a canary generation for percent (0 to 100) of new
// sessions; returns it once it is routed.
func (c *Client) UpgradeCanary(ctx context.Context, percent float64) (int, error) {
	var gen uint32
	err := c.call(ctx, "UpgradeCanary", []any{&gen}, percent)
	return int(gen), err
}

// Promote makes the canary the active generation; returns it.
func (c *Client) Promote(ctx context.Context) (int, error) {
	var gen uint32
	err := c.call(ctx, "Promote", []any{&gen})
	return int(gen), err
}

// Abort detaches the canary; returns it.
func (c *Client) Abort(ctx context.Context, moveSessions bool) (int, error) {
	var gen uint32
	err := c.call(ctx, "Abort", []any{&gen}, moveSessions)
	return int(gen), err
}

// Detach detaches the active generation gen; returns its replacement.
func (c *Client) Detach(ctx context.Context, gen int) (int, error) {
	var next uint32
	err := c.call(ctx, "Detach", []any{&next}, uint32(gen))
	return int(next), err
}

// Retire stops a detached generation; force drops its sessions.
func (c *Client) Retire(ctx context.Context, gen int, force bool) error {
	return c.call(ctx, "Retire", nil, uint32(gen), force)
}

// Generations lists the generations, oldest first, the canary with its
// trial: what the status document holds (fleet.Status), as the console
// shows it.
func (c *Client) Generations(ctx context.Context) ([]fleet.Generation, error) {
	var ws []wireGeneration
	if err := c.call(ctx, "ListGenerations", []any{&ws}); err != nil {
		return nil, err
	}
	gens := make([]fleet.Generation, len(ws))
	for i, w := range ws {
		gens[i] = fromWire(w)
	}
	if err := c.attachTrial(ctx, gens); err != nil {
		return nil, err
	}
	return gens, nil
}

// attachTrial asks for the trial only when a canary is listed, and puts it
// on that canary only if it is still the one on trial: the two calls are
// two snapshots, and a promotion may come between them. A gateway older
// than GetTrial lists its canary without one, and so does a system bus
// whose policy file predates it (it refuses the call): the generations
// are worth more than the trial.
func (c *Client) attachTrial(ctx context.Context, gens []fleet.Generation) error {
	i := slices.IndexFunc(gens, func(g fleet.Generation) bool { return g.State == fleet.Canary })
	if i < 0 {
		return nil
	}
	gen, t, err := c.Trial(ctx)
	switch {
	case NameOf(err) == errUnknownMethod, NameOf(err) == errBusAccessDenied:
		return nil
	case err != nil:
		return fmt.Errorf("reading generation %d's trial: %w", gens[i].ID, err)
	case t != nil && gen == gens[i].ID:
		gens[i].Trial = t
	}
	return nil
}

// errUnknownMethod is the bus's answer to a method the gateway does not
// have (godbus and sd-bus alike).
const errUnknownMethod = "org.freedesktop.DBus.Error.UnknownMethod"

// errBusAccessDenied is the bus's refusal by its policy, before the
// gateway sees the call (the gateway's own is ErrAccessDenied).
const errBusAccessDenied = "org.freedesktop.DBus.Error.AccessDenied"

// Trial is the canary's trial and the generation on it; 0 and nil without
// a canary.
func (c *Client) Trial(ctx context.Context) (int, *fleet.Trial, error) {
	var w wireTrial
	if err := c.call(ctx, "GetTrial", w.into()); err != nil {
		return 0, nil, err
	}
	gen, t := w.fromWire()
	return gen, t, nil
}

// Sessions lists the pinned sessions.
func (c *Client) Sessions(ctx context.Context) ([]fleet.Pin, error) {
	var ws []wireSession
	if err := c.call(ctx, "ListSessions", []any{&ws}); err != nil {
		return nil, err
	}
	now := time.Now()
	ss := make([]fleet.Pin, 0, len(ws))
	for _, w := range ws {
		if p, ok := sessionFromWire(w, now); ok {
			ss = append(ss, p)
		}
	}
	return ss, nil
}

// EndSession ends one session's pin by its hash.
func (c *Client) EndSession(ctx context.Context, hash string) error {
	return c.call(ctx, "EndSession", nil, hash)
}

// Properties are the API's properties.
type Properties struct {
	App              string
	Version          string
	ActiveGeneration uint32
	Revision         string
	Generations      uint32
	Sessions         uint32
	PinStore         fleet.PinStore
	Listeners        []fleet.Listener
}

// Properties reads every property at once.
func (c *Client) Properties(ctx context.Context) (Properties, error) {
	var all map[string]dbus.Variant
	err := c.obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.GetAll", 0, Interface).Store(&all)
	if err != nil {
		return Properties{}, apiError(err)
	}
	var p Properties
	get := func(name string, into any) {
		if v, ok := all[name]; ok {
			v.Store(into)
		}
	}
	get("App", &p.App)
	get("Version", &p.Version)
	get("ActiveGeneration", &p.ActiveGeneration)
	get("Revision", &p.Revision)
	get("Generations", &p.Generations)
	get("Sessions", &p.Sessions)
	var bytes, lastWrite, failures uint64
	get("PinStorePath", &p.PinStore.Path)
	get("PinStoreBytes", &bytes)
	get("PinStoreLastWriteUSec", &lastWrite)
	get("PinStoreError", &p.PinStore.Error)
	get("PinStoreWriteFailures", &failures)
	p.PinStore.Bytes, p.PinStore.LastWrite, p.PinStore.WriteFailures = int64(bytes), fromUSec(lastWrite), int64(failures)
	var ls []wireListener
	get("Listeners", &ls)
	p.Listeners = listenersFromWire(ls)
	return p, nil
}
