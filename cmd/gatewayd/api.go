package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatewayd/gateway/dbusapi"
	"github.com/gatewayd/gateway/proxy"
	"github.com/gatewayd/gateway/supervisor"
)

// core is the D-Bus API's and the admin console's view of the gateway:
// the supervisor for generations, the proxy for sessions.
type core struct {
	d  *gateway
	by string // who asks, for the log: "D-Bus", "admin console"
}

var _ dbusapi.Core = core{}

func (c core) Upgrade(ctx context.Context) (int, error) {
	gen, err := c.d.upgrade(ctx, c.by)
	c.refresh(ctx)
	return gen, apiErr(err)
}

// refresh publishes properties and signals before a mutating call returns,
// so that a caller reading ActiveGeneration right after sees its effect.
func (c core) refresh(ctx context.Context) {
	if c.d.api != nil {
		c.d.api.Refresh(ctx)
	}
}

func (c core) Detach(ctx context.Context, gen int) (int, error) {
	c.d.log.Info("detach requested", "event", "upgrade", "by", c.by, "generation", gen)
	next, err := c.d.sup.Detach(ctx, gen)
	c.d.meter.upgrade(ctx, err)
	c.refresh(ctx)
	if err = apiErr(err); err != nil && dbusapi.NameOf(err) == "" {
		err = dbusapi.Errorf(dbusapi.ErrNameUpgradeFailed, err) // the replacement failed to start
	}
	return next, err
}

func (c core) Retire(ctx context.Context, gen int, force bool) error {
	c.d.log.Info("retire requested", "event", "retire", "by", c.by, "generation", gen, "force", force)
	err := c.d.sup.Retire(ctx, gen, force)
	c.refresh(ctx)
	return apiErr(err)
}

func (c core) Generations(ctx context.Context) ([]dbusapi.Generation, error) {
	gens, err := c.d.sup.Generations(ctx)
	if err != nil {
		return nil, apiErr(err)
	}
	out := make([]dbusapi.Generation, len(gens))
	for i, g := range gens {
		out[i] = dbusapi.Generation{ID: uint32(g.ID), State: string(g.State), Revision: g.Revision, Unit: g.Unit,
			Sessions: uint32(g.Usage.Sessions), InFlight: uint32(g.Usage.InFlight), Upgraded: uint32(g.Usage.Upgraded),
			StartedUSec: usec(g.Started), DetachedUSec: usec(g.Detached), DeadlineUSec: usec(g.Deadline)}
		for _, pid := range g.PIDs {
			out[i].PIDs = append(out[i].PIDs, uint32(pid))
		}
	}
	return out, nil
}

func (c core) Sessions(context.Context) ([]dbusapi.Session, error) {
	return sessions(c.d.proxy.Pins()), nil
}

func (c core) RecentSessions(_ context.Context, n int) ([]dbusapi.Session, error) {
	return sessions(c.d.proxy.RecentPins(n)), nil
}

func sessions(pins []proxy.Pin) []dbusapi.Session {
	now := time.Now()
	out := make([]dbusapi.Session, len(pins))
	for i, p := range pins {
		out[i] = dbusapi.Session{Hash: p.Key.String(), Generation: uint32(p.Generation), Instance: uint32(p.Instance),
			IdleSeconds: uint32(max(now.Sub(p.LastSeen), 0) / time.Second)}
	}
	return out
}

func (c core) EndSession(_ context.Context, hash string) error {
	key, err := proxy.ParseSessionKey(hash)
	if err != nil {
		return dbusapi.Errorf(dbusapi.ErrNameNoSuchSession, fmt.Errorf("%q: %w", hash, err))
	}
	if !c.d.proxy.EndSession(key) {
		return dbusapi.Errorf(dbusapi.ErrNameNoSuchSession, fmt.Errorf("no pinned session %s", hash))
	}
	c.d.log.Info("session ended by an admin", "event", "session-ended", "by", c.by, "session", hash)
	return nil
}

func (c core) PinStore(context.Context) (dbusapi.PinStore, error) {
	st := c.d.pins.Status()
	return dbusapi.PinStore{Path: st.Path, Bytes: uint64(st.Bytes), LastWriteUSec: usec(st.LastWrite),
		Error: st.LastError, WriteFailures: uint64(st.Failures)}, nil
}

// apiErr gives the supervisor's errors their D-Bus names.
func apiErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, supervisor.ErrNoSuchGeneration):
		return dbusapi.Errorf(dbusapi.ErrNameNoSuchGeneration, err)
	case errors.Is(err, supervisor.ErrUpgradeInProgress):
		return dbusapi.Errorf(dbusapi.ErrNameUpgradeInProgress, err)
	case errors.Is(err, supervisor.ErrInvalidState):
		return dbusapi.Errorf(dbusapi.ErrNameInvalidState, err)
	}
	return err
}

func usec(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixMicro())
}
