package daemon

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strings"

	"github.com/coreos/go-systemd/v22/activation"
)

// listeners returns the sockets systemd passed (socket activation) or,
// when not activated, the configured addresses. Passed sockets are taken
// by name (LISTEN_FDNAMES, set by FileDescriptorName=): "http" serves the
// proxy. A socket named after its unit (systemd's default name) serves
// the proxy too, unless sockets named "http" were passed. A socket named
// "admin" is the admin console's, returned apart (nil if none was passed).
func listeners(addrs []string) (ls []net.Listener, admin net.Listener, activated bool, err error) {
	if os.Getenv("LISTEN_FDS") == "" {
		ls, err := listen(addrs)
		return ls, nil, false, err
	}
	byName, err := activation.ListenersWithNames()
	if err != nil {
		return nil, nil, true, fmt.Errorf("taking the sockets systemd passed: %w", err)
	}
	switch as := byName["admin"]; len(as) {
	case 0:
	case 1:
		admin = as[0]
	default:
		return nil, nil, true, fmt.Errorf("socket activation passed %d sockets named admin: the admin console takes one (FileDescriptorName=admin on one socket unit)", len(as))
	}
	if ls := byName["http"]; len(ls) > 0 {
		return ls, admin, true, nil
	}
	var names []string
	for name, l := range byName {
		names = append(names, name)
		if name != "admin" {
			ls = append(ls, l...)
		}
	}
	if len(ls) == 0 {
		sort.Strings(names)
		return nil, nil, true, fmt.Errorf("socket activation passed %d sockets named %s, but none for the proxy: name it http (FileDescriptorName=http in the .socket unit)",
			len(names), strings.Join(names, ", "))
	}
	return ls, admin, true, nil
}

// listen opens the configured addresses: "host:port" or "unix:/path".
func listen(addrs []string) ([]net.Listener, error) {
	var ls []net.Listener
	for _, a := range addrs {
		network, address := "tcp", a
		if p, ok := strings.CutPrefix(a, "unix:"); ok {
			network, address = "unix", p
			os.Remove(address)
		}
		l, err := net.Listen(network, address)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("listening on gateway.listen %q: %w", a, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}
