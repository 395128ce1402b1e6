package daemon

import (
	"fmt"
	"log/slog"

	"github.com/godbus/dbus/v5"

	"github.com/gatewayd/gateway/dbusapi"
)

// connectBus opens the gateway's bus connection (system bus, or the session
// bus under a user manager) and takes its well-known name, which the D-Bus
// API and the scopes' Controller= use. Without a bus the gateway still
// runs: SIGHUP upgrades, and the log says so.
func connectBus(user bool, instance string, log *slog.Logger) (*dbus.Conn, error) {
	var conn *dbus.Conn
	var err error
	if user {
		conn, err = dbus.ConnectSessionBus()
	} else {
		conn, err = dbus.ConnectSystemBus()
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to the %s bus: %w", managerName(user), err)
	}
	name := dbusapi.BusName(instance)
	reply, err := conn.RequestName(name, dbus.NameFlagDoNotQueue)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("taking the bus name %s (is the D-Bus policy file installed?): %w", name, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner && reply != dbus.RequestNameReplyAlreadyOwner {
		conn.Close()
		return nil, fmt.Errorf("the bus name %s is taken: is another gateway running as the same instance?", name)
	}
	log.Info("D-Bus API on the "+managerName(user)+" bus", "name", name, "path", dbusapi.Path)
	return conn, nil
}
