package fleet

import (
	"context"
	"errors"
)

// Core is what the fronts (the D-Bus API in dbusapi, the admin console in
// console) ask of the gateway; the daemon package answers from the
// supervisor and the proxy. Its errors wrap the ones below where a front
// must tell them apart (a D-Bus error name, an HTTP status).
type Core interface {
	// Upgrade starts a generation on the current revision and returns its
	// number once it is active.
	Upgrade(ctx context.Context) (int, error)
	// Detach detaches the active generation gen by starting a replacement
	// on the current revision, and returns the replacement's number.
	Detach(ctx context.Context, gen int) (int, error)
	Retire(ctx context.Context, gen int, force bool) error
	// Rollback makes the newest running detached generation active again
	// at once and detaches the active one (moveSessions: its sessions end
	// too); it returns the restored generation. ErrInvalidState when there
	// is none to go back to, or an upgrade is starting one.
	Rollback(ctx context.Context, moveSessions bool) (int, error)
	// UpgradeCanary starts a generation on the current revision that, once
	// ready, gets share (0 to 1) of new sessions beside the active one;
	// Promote makes it active, Abort detaches it (moveSessions: its sessions
	// end). Each returns the canary's number; ErrInvalidState when there is
	// no canary (Promote, Abort) or already one (UpgradeCanary).
	UpgradeCanary(ctx context.Context, share float64) (int, error)
	Promote(ctx context.Context) (int, error)
	Abort(ctx context.Context, moveSessions bool) (int, error)
	// Generations lists every generation not yet retired, oldest first.
	Generations(ctx context.Context) ([]Generation, error)
	Sessions(ctx context.Context) ([]Pin, error)
	// RecentSessions lists, per generation, the n sessions seen most
	// recently: what a view of a few needs, at the cost of a scan rather
	// than a copy of every pin.
	RecentSessions(ctx context.Context, n int) ([]Pin, error)
	EndSession(ctx context.Context, key SessionKey) error
	PinStore(ctx context.Context) (PinStore, error)
	// Listeners describes the proxy's listeners, certificates included.
	Listeners(ctx context.Context) ([]Listener, error)
}

var (
	ErrNoSuchGeneration = errors.New("no such generation")
	ErrInvalidState     = errors.New("not possible in the generation's state")
	ErrNoSuchSession    = errors.New("no such session")
)
