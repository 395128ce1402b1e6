package daemon

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strings"

	"github.com/coreos/go-systemd/v22/activation"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/internal/certs"
	"github.com/gatewayd/gateway/proxy"
)

// socket is a listening socket and the name it goes by: its [listeners]
// table, or "" for a plain one (gateway.listen, or passed as "http").
type socket struct {
	name string
	l    net.Listener
}

// sockets returns the sockets systemd passed (socket activation) or, when
// not activated, opens the configured addresses. Passed sockets are taken
// by name (LISTEN_FDNAMES, set by FileDescriptorName=): one named after a
// [listeners.NAME] table is that listener; "http" serves the proxy in
// plain HTTP. A socket named after its unit (systemd's default name)
// serves the proxy too, unless sockets named "http" were passed. A socket
// named "admin" is the admin console's, returned apart (nil if none).
func sockets(cfg *config.Config) (ss []socket, admin net.Listener, activated bool, err error) {
	if os.Getenv("LISTEN_FDS") == "" {
		ss, err := listen(cfg)
		return ss, nil, false, err
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
	for _, name := range cfg.ListenerNames() {
		if len(byName[name]) == 0 {
			return nil, nil, true, fmt.Errorf("listeners.%s: socket activation passed no socket named %s: add FileDescriptorName=%s to its .socket unit", name, name, name)
		}
		for _, l := range byName[name] {
			ss = append(ss, socket{name, l})
		}
	}
	plain := byName["http"]
	var names []string
	for name, ls := range byName {
		names = append(names, name)
		if len(byName["http"]) == 0 && name != "admin" && !configured(cfg, name) {
			plain = append(plain, ls...)
		}
	}
	for _, l := range plain {
		ss = append(ss, socket{"", l})
	}
	if len(ss) == 0 {
		sort.Strings(names)
		return nil, nil, true, fmt.Errorf("socket activation passed %d sockets named %s, but none for the proxy: name it http (FileDescriptorName=http in the .socket unit)",
			len(names), strings.Join(names, ", "))
	}
	return ss, admin, true, nil
}

func configured(cfg *config.Config, name string) bool {
	_, ok := cfg.Listeners[name]
	return ok
}

// listen opens gateway.listen and the addresses of the [listeners] tables:
// "host:port" or "unix:/path".
func listen(cfg *config.Config) ([]socket, error) {
	var ss []socket
	open := func(name, key, a string) error {
		network, address := "tcp", a
		if p, ok := strings.CutPrefix(a, "unix:"); ok {
			network, address = "unix", p
			os.Remove(address)
		}
		l, err := net.Listen(network, address)
		if err != nil {
			return fmt.Errorf("listening on %s %q: %w", key, a, err)
		}
		ss = append(ss, socket{name, l})
		return nil
	}
	var err error
	for _, a := range cfg.Gateway.Listen {
		if err = open("", "gateway.listen", a); err != nil {
			break
		}
	}
	for _, name := range cfg.ListenerNames() {
		if err != nil {
			break
		}
		a := cfg.Listeners[name].Address
		if a == "" {
			err = fmt.Errorf("listeners.%s: no address, and the gateway is not socket-activated (no socket named %s was passed)", name, name)
			break
		}
		err = open(name, "listeners."+name+".address", a)
	}
	if err != nil {
		for _, s := range ss {
			s.l.Close()
		}
		return nil, err
	}
	return ss, nil
}

// frontListeners are the sockets as the proxy takes them: a [listeners]
// table's with its TLS certificates (read here; sets holds them for
// reload), PROXY protocol and redirect.
func frontListeners(cfg *config.Config, ss []socket, sets map[string]*certs.Set) ([]net.Listener, error) {
	ls := make([]net.Listener, 0, len(ss))
	for _, s := range ss {
		lc, ok := cfg.Listeners[s.name]
		if !ok {
			ls = append(ls, s.l)
			continue
		}
		pl := &proxy.Listener{Listener: s.l, Name: s.name, ProxyProtocol: lc.ProxyProtocol, RedirectHTTPS: lc.RedirectHTTPS}
		if lc.TLS() {
			set := sets[s.name]
			if set == nil {
				var err error
				if set, err = certs.New(lc.Certificates); err != nil {
					return nil, fmt.Errorf("listeners.%s: %w", s.name, err)
				}
				sets[s.name] = set
			}
			pl.TLS = set.Config(lc.DisableHTTP2)
		}
		ls = append(ls, pl)
	}
	return ls, nil
}
