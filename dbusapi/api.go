package dbusapi

import (
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
	ErrNameNoSuchGeneration = Interface + ".Error.NoSuchGeneration"
	ErrNameNoSuchSession    = Interface + ".Error.NoSuchSession"
	ErrNameUpgradeFailed    = Interface + ".Error.UpgradeFailed"
	ErrNameInvalidState     = Interface + ".Error.InvalidState"
	ErrNameAccessDenied     = Interface + ".Error.AccessDenied"
	ErrNameFailed           = Interface + ".Error.Failed"
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

// Info is the gateway's static identity, shown as properties.
type Info struct {
	App     string
	Version string
}
