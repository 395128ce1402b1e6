package dbusapi

import (
	"context"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gatewayd/gateway/fleet"
)

// methods is what conn.Export exposes: exactly the API's methods. Every
// call runs on its own goroutine (godbus), so a long Upgrade blocks only
// its caller; each is bounded (Options.CallTimeout, UpgradeTimeout) and
// ends with the server, so that a stuck gateway does not keep a goroutine
// per call.
type methods struct{ s *Server }

func (m methods) Upgrade(sender dbus.Sender) (uint32, *dbus.Error) {
	if err := m.s.authorize(sender, "upgrade"); err != nil {
		return 0, err
	}
	ctx, cancel := m.s.bound(m.s.o.UpgradeTimeout)
	defer cancel()
	gen, err := m.s.core.Upgrade(ctx)
	return uint32(gen), dbusError(upgradeFailed(err))
}

func (m methods) Detach(sender dbus.Sender, gen uint32) (uint32, *dbus.Error) {
	if err := m.s.authorize(sender, "detach"); err != nil {
		return 0, err
	}
	ctx, cancel := m.s.bound(m.s.o.UpgradeTimeout)
	defer cancel()
	next, err := m.s.core.Detach(ctx, int(gen))
	return uint32(next), dbusError(upgradeFailed(err))
}

func (m methods) Rollback(sender dbus.Sender, moveSessions bool) (uint32, *dbus.Error) {
	if err := m.s.authorize(sender, "roll back"); err != nil {
		return 0, err
	}
	ctx, cancel := m.s.bound(m.s.o.CallTimeout)
	defer cancel()
	gen, err := m.s.core.Rollback(ctx, moveSessions)
	return uint32(gen), dbusError(err)
}

func (m methods) UpgradeCanary(sender dbus.Sender, percent float64) (uint32, *dbus.Error) {
	if err := m.s.authorize(sender, "upgrade"); err != nil {
		return 0, err
	}
	ctx, cancel := m.s.bound(m.s.o.UpgradeTimeout)
	defer cancel()
	gen, err := m.s.core.UpgradeCanary(ctx, percent/100)
	return uint32(gen), dbusError(upgradeFailed(err))
}

func (m methods) Promote(sender dbus.Sender) (uint32, *dbus.Error) {
	if err := m.s.authorize(sender, "promote"); err != nil {
		return 0, err
	}
	ctx, cancel := m.s.bound(m.s.o.CallTimeout)
	defer cancel()
	gen, err := m.s.core.Promote(ctx)
	return uint32(gen), dbusError(err)
}

func (m methods) Abort(sender dbus.Sender, moveSessions bool) (uint32, *dbus.Error) {
	if err := m.s.authorize(sender, "abort"); err != nil {
		return 0, err
	}
	ctx, cancel := m.s.bound(m.s.o.CallTimeout)
	defer cancel()
	gen, err := m.s.core.Abort(ctx, moveSessions)
	return uint32(gen), dbusError(err)
}

func (m methods) Retire(sender dbus.Sender, gen uint32, force bool) *dbus.Error {
	if err := m.s.authorize(sender, "retire"); err != nil {
		return err
	}
	ctx, cancel := m.s.bound(m.s.o.CallTimeout)
	defer cancel()
	return dbusError(m.s.core.Retire(ctx, int(gen), force))
}

func (m methods) ListGenerations() ([]wireGeneration, *dbus.Error) {
	ctx, cancel := m.s.bound(m.s.o.CallTimeout)
	defer cancel()
	gens, err := m.s.core.Generations(ctx)
	out := make([]wireGeneration, len(gens))
	for i, g := range gens {
		out[i] = toWire(g)
	}
	return out, dbusError(err)
}

// GetTrial answers the canary's trial from the same listing as
// ListGenerations, whose signature scripts rely on and which therefore
// cannot carry it. Like ListGenerations it is open to every caller: it
// shows no session.
func (m methods) GetTrial() (running bool, generation uint32, share float64, startedUSec uint64,
	canary, active wireSummary, judged bool, judge wireJudge, verdict string, _ *dbus.Error) {
	ctx, cancel := m.s.bound(m.s.o.CallTimeout)
	defer cancel()
	gens, err := m.s.core.Generations(ctx)
	if err != nil {
		return false, 0, 0, 0, wireSummary{}, wireSummary{}, false, wireJudge{}, "", dbusError(err)
	}
	w := trialToWire(gens)
	return w.Running, w.Generation, w.Share, w.StartedUSec, w.Canary, w.Active, w.Judged, w.Judge, w.Verdict, nil
}

func (m methods) ListSessions(sender dbus.Sender) ([]wireSession, *dbus.Error) {
	if err := m.s.authorize(sender, "list sessions"); err != nil {
		return nil, err
	}
	ctx, cancel := m.s.bound(m.s.o.CallTimeout)
	defer cancel()
	ss, err := m.s.core.Sessions(ctx)
	now := time.Now()
	out := make([]wireSession, len(ss))
	for i, p := range ss {
		out[i] = sessionToWire(p, now)
	}
	return out, dbusError(err)
}

func (m methods) EndSession(sender dbus.Sender, hash string) *dbus.Error {
	if err := m.s.authorize(sender, "end sessions"); err != nil {
		return err
	}
	key, err := fleet.ParseSessionKey(hash)
	if err != nil {
		return dbusError(Errorf(ErrNameNoSuchSession, fmt.Errorf("%q: %w", hash, err)))
	}
	ctx, cancel := m.s.bound(m.s.o.CallTimeout)
	defer cancel()
	return dbusError(m.s.core.EndSession(ctx, key))
}

// upgradeFailed names an error of Upgrade or Detach that has no name of
// its own: the new generation did not start.
func upgradeFailed(err error) error {
	if err != nil && errorName(err) == "" {
		return Errorf(ErrNameUpgradeFailed, err)
	}
	return err
}

// bound is the context of one call: at most limit, and no longer than the
// server.
func (s *Server) bound(limit time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, limit)
}
