package dbusapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/godbus/dbus/v5"
)

// Names on the bus.
const (
	Interface = "org.gatewayd.Gateway1"
	Path      = dbus.ObjectPath("/org/gatewayd/Gateway1")
)

// BusName is the well-known name of the gateway instance: one per instance,
// so that template units run side by side.
func BusName(instance string) string {
	if instance == "" {
		return Interface
	}
	// Letters and digits stay; every other byte becomes _XX (its hex), '_'
	// included, so that distinct instances get distinct names.
	var b strings.Builder
	for i := 0; i < len(instance); i++ {
		c := instance[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	name := Interface + ".i_" + b.String()
	if len(name) > maxBusName {
		// systemd allows longer instance names than the bus allows names:
		// keep a prefix and make it unique with a hash of the instance.
		sum := sha256.Sum256([]byte(instance))
		name = name[:maxBusName-17] + "_" + hex.EncodeToString(sum[:8])
	}
	return name
}

// maxBusName is the longest bus name the bus accepts (dbus-specification,
// "Bus names").
const maxBusName = 255

// D-Bus error names the API answers with.
const (
	ErrNameNoSuchGeneration  = Interface + ".Error.NoSuchGeneration"
	ErrNameNoSuchSession     = Interface + ".Error.NoSuchSession"
	ErrNameUpgradeFailed     = Interface + ".Error.UpgradeFailed"
	ErrNameUpgradeInProgress = Interface + ".Error.UpgradeInProgress"
	ErrNameInvalidState      = Interface + ".Error.InvalidState"
	ErrNameAccessDenied      = Interface + ".Error.AccessDenied"
	ErrNameFailed            = Interface + ".Error.Failed"
)

// Error is an API error with its D-Bus name; both sides use it.
type Error struct {
	Name string
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf tags err with a D-Bus error name.
func Errorf(name string, err error) error { return &Error{Name: name, Err: err} }

// NameOf returns the D-Bus error name err carries ("" if none).
func NameOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Name
	}
	return ""
}

// Generation is one generation as the API reports it. Times are Unix
// microseconds (0: not set), as systemd reports its own timestamps.
type Generation struct {
	ID           uint32
	State        string
	Revision     string
	Unit         string // the scope, or "" without systemd
	PIDs         []uint32
	Sessions     uint32
	InFlight     uint32
	Upgraded     uint32 // open upgraded (WebSocket) connections
	StartedUSec  uint64
	DetachedUSec uint64
	DeadlineUSec uint64 // when a drain is cut short
}

// Session is one pinned session: its keyed hash, never its id.
type Session struct {
	Hash        string
	Generation  uint32
	Instance    uint32
	IdleSeconds uint32
}

// PinStore is the state of the file that keeps pins across restarts
// (docs/design.md "Pins across restarts").
type PinStore struct {
	Path          string
	Bytes         uint64
	LastWriteUSec uint64 // 0: nothing written yet
	Error         string // why the last write failed; "" if it succeeded
	WriteFailures uint64 // failed writes since the gateway started
}

// Core is what the API needs of the gateway.
type Core interface {
	Upgrade(ctx context.Context) (int, error)
	// Detach detaches the active generation gen by starting a replacement
	// on the current revision, and returns the replacement's number.
	Detach(ctx context.Context, gen int) (int, error)
	Retire(ctx context.Context, gen int, force bool) error
	Generations(ctx context.Context) ([]Generation, error)
	Sessions(ctx context.Context) ([]Session, error)
	// RecentSessions lists, per generation, the n sessions seen most
	// recently: what a view of a few needs, at the cost of a scan rather
	// than a copy of every pin.
	RecentSessions(ctx context.Context, n int) ([]Session, error)
	EndSession(ctx context.Context, hash string) error
	PinStore(ctx context.Context) (PinStore, error)
}

// Info is the gateway's static identity, shown as properties.
type Info struct {
	App     string
	Version string
}
