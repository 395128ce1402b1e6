package dbusapi

import (
	"context"

	"github.com/godbus/dbus/v5"
)

// methods is what conn.Export exposes: exactly the API's methods. Every
// call runs on its own goroutine (godbus), so a long Upgrade blocks only
// its caller.
type methods struct{ s *Server }

func (m methods) Upgrade(sender dbus.Sender) (uint32, *dbus.Error) {
	if err := m.s.authorize(sender, "upgrade"); err != nil {
		return 0, err
	}
	gen, err := m.s.core.Upgrade(context.Background())
	if err != nil && NameOf(err) == "" {
		err = Errorf(ErrNameUpgradeFailed, err)
	}
	return uint32(gen), dbusError(err)
}

func (m methods) Detach(sender dbus.Sender, gen uint32) (uint32, *dbus.Error) {
	if err := m.s.authorize(sender, "detach"); err != nil {
		return 0, err
	}
	next, err := m.s.core.Detach(context.Background(), int(gen))
	return uint32(next), dbusError(err)
}

func (m methods) Retire(sender dbus.Sender, gen uint32, force bool) *dbus.Error {
	if err := m.s.authorize(sender, "retire"); err != nil {
		return err
	}
	return dbusError(m.s.core.Retire(context.Background(), int(gen), force))
}

func (m methods) ListGenerations() ([]Generation, *dbus.Error) {
	gens, err := m.s.core.Generations(context.Background())
	if gens == nil {
		gens = []Generation{}
	}
	return gens, dbusError(err)
}

func (m methods) ListSessions(sender dbus.Sender) ([]Session, *dbus.Error) {
	if err := m.s.authorize(sender, "list sessions"); err != nil {
		return nil, err
	}
	ss, err := m.s.core.Sessions(context.Background())
	if ss == nil {
		ss = []Session{}
	}
	return ss, dbusError(err)
}

func (m methods) EndSession(sender dbus.Sender, hash string) *dbus.Error {
	if err := m.s.authorize(sender, "end sessions"); err != nil {
		return err
	}
	return dbusError(m.s.core.EndSession(context.Background(), hash))
}
