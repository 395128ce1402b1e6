package daemon

import (
	"context"
	"fmt"

	"github.com/gatewayd/gateway/fleet"
)

// core is what the fronts (the D-Bus API, the admin console) ask of the
// gateway: the supervisor for generations, the proxy for sessions. Every
// answer is in fleet's shapes already; the errors the fronts tell apart
// are fleet's (the supervisor returns them).
type core struct {
	d  *Daemon
	by string // who asks, for the log: "D-Bus", "admin console"
}

var _ fleet.Core = core{}

func (c core) Upgrade(ctx context.Context) (int, error) {
	gen, err := c.d.upgrade(ctx, c.by)
	c.d.refreshAPI(ctx)
	return gen, err
}

// Detach is refused (fleet.ErrNoSuchGeneration, fleet.ErrInvalidState)
// for any generation but the active one; otherwise it fails only if the
// replacement did not start.
func (c core) Detach(ctx context.Context, gen int) (int, error) {
	c.d.log.Info("detach requested", "event", "upgrade", "by", c.by, "generation", gen)
	next, err := c.d.sup.Detach(ctx, gen)
	c.d.meter.Upgrade(ctx, err)
	c.d.refreshAPI(ctx)
	return next, err
}

func (c core) Rollback(ctx context.Context, move bool) (int, error) {
	c.d.log.Info("rollback requested", "event", "rollback-requested", "by", c.by, "move_sessions", move)
	gen, err := c.d.sup.Rollback(ctx, move)
	if err != nil {
		c.d.log.Error("rollback refused; nothing changed", "event", "rollback-failed", "error", err)
	}
	c.d.refreshAPI(ctx)
	return gen, err
}

func (c core) UpgradeCanary(ctx context.Context, share float64) (int, error) {
	c.d.log.Info("canary requested", "event", "upgrade", "by", c.by, "share", share)
	gen, err := c.d.sup.UpgradeCanary(ctx, share)
	c.d.meter.Upgrade(ctx, err)
	c.d.refreshAPI(ctx)
	return gen, err
}

func (c core) Promote(ctx context.Context) (int, error) {
	c.d.log.Info("promotion requested", "event", "promote-requested", "by", c.by)
	gen, err := c.d.sup.Promote(ctx)
	c.d.refreshAPI(ctx)
	return gen, err
}

func (c core) Abort(ctx context.Context, move bool) (int, error) {
	c.d.log.Info("canary abort requested", "event", "abort-requested", "by", c.by, "move_sessions", move)
	gen, err := c.d.sup.Abort(ctx, move)
	c.d.refreshAPI(ctx)
	return gen, err
}

func (c core) Retire(ctx context.Context, gen int, force bool) error {
	c.d.log.Info("retire requested", "event", "retire", "by", c.by, "generation", gen, "force", force)
	err := c.d.sup.Retire(ctx, gen, force)
	c.d.refreshAPI(ctx)
	return err
}

func (c core) Generations(ctx context.Context) ([]fleet.Generation, error) {
	return c.d.sup.Generations(ctx)
}

func (c core) Sessions(context.Context) ([]fleet.Pin, error) { return c.d.proxy.Pins(), nil }

func (c core) RecentSessions(_ context.Context, n int) ([]fleet.Pin, error) {
	return c.d.proxy.RecentPins(n), nil
}

func (c core) EndSession(_ context.Context, key fleet.SessionKey) error {
	if !c.d.proxy.EndSession(key) {
		return fmt.Errorf("no pinned session %s: %w", key, fleet.ErrNoSuchSession)
	}
	c.d.log.Info("session ended by an admin", "event", "session-ended", "by", c.by, "session", key)
	return nil
}

func (c core) PinStore(context.Context) (fleet.PinStore, error) { return c.d.pins.Status(), nil }

func (c core) Listeners(context.Context) ([]fleet.Listener, error) { return c.d.listenerStatus(), nil }
