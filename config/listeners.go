package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Listener is a [listeners.NAME] table: a listening socket of the proxy
// with more than plain HTTP. NAME is also the FileDescriptorName= of the
// socket systemd passes for it under socket activation.
type Listener struct {
	// Address (address) is "host:port" or "unix:/absolute/path", opened
	// when the gateway is not socket-activated; under socket activation
	// the socket named NAME is used instead. Not in gateway.listen too.
	Address string `toml:"address"`

	// Certificates (certificates) turn TLS on: each a PEM certificate chain
	// and its key, e.g. [{cert = "/etc/ssl/site/fullchain.pem", key =
	// "/etc/ssl/site/privkey.pem"}]. With several, the one whose names
	// match the client's server name (SNI) is used, else the first. They
	// are read again on every reload; one that fails to load fails the
	// reload and the old ones stay. TLS 1.2 is the minimum.
	Certificates []Certificate `toml:"certificates"`

	// DisableHTTP2 (disable_http2) offers only HTTP/1.1 on a TLS listener.
	// Default: false (ALPN offers h2 and http/1.1).
	DisableHTTP2 bool `toml:"disable_http2"`

	// ProxyProtocol (proxy_protocol) expects a PROXY protocol header (v1
	// or v2) at the start of every connection, from a peer listed in
	// gateway.trusted_proxies; the header's source address is the client's.
	// Connections from other peers, or without a header, are closed.
	// Default: false.
	ProxyProtocol bool `toml:"proxy_protocol"`

	// RedirectHTTPS (redirect_https) makes a plain listener answer every
	// request with a redirect (308) to the same URL over https on this
	// port. 0: off. Default: 0.
	RedirectHTTPS int `toml:"redirect_https"`
}

// Certificate is one certificate of a TLS listener.
type Certificate struct {
	// Cert (cert) is the PEM file of the certificate and its chain.
	Cert string `toml:"cert"`
	// Key (key) is the PEM file of its private key.
	Key string `toml:"key"`
}

// TLS reports whether the listener terminates TLS.
func (l Listener) TLS() bool { return len(l.Certificates) > 0 }

// ListenerNames are the names of the [listeners.NAME] tables, sorted.
func (c *Config) ListenerNames() []string {
	names := make([]string, 0, len(c.Listeners))
	for n := range c.Listeners {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (c *Config) checkListeners(ck *checker) {
	if len(c.Gateway.Listen) == 0 && len(c.Listeners) == 0 {
		ck.add("gateway.listen", `empty and no [listeners] table, want at least one address, e.g. ["127.0.0.1:8080"]`)
	}
	addrs := map[string]string{}
	for _, a := range c.Gateway.Listen {
		addrs[a] = "gateway.listen"
	}
	prefixes, unix := c.Gateway.Trusted()
	for _, name := range c.ListenerNames() {
		l, key := c.Listeners[name], toml.Key{"listeners", name}.String()
		switch {
		case !validName(name) || len(name) > 255:
			ck.add(key, "%q is not a valid name: letters, digits, \"_\", \".\" and \"-\" (it is the socket's FileDescriptorName=)", name)
		case name == "admin":
			ck.add(key, `"admin" is the admin console's socket; name the proxy's listener otherwise`)
		}
		if l.Address != "" {
			if msg := checkListen(l.Address); msg != "" {
				ck.add(key+".address", "%s", msg)
			} else if other, dup := addrs[l.Address]; dup {
				ck.add(key+".address", "%q is also in %s", l.Address, other)
			}
			addrs[l.Address] = key + ".address"
		}
		for i, cert := range l.Certificates {
			ck.absPath(fmt.Sprintf("%s.certificates[%d].cert", key, i), cert.Cert, "/etc/ssl/site/fullchain.pem")
			ck.absPath(fmt.Sprintf("%s.certificates[%d].key", key, i), cert.Key, "/etc/ssl/site/privkey.pem")
		}
		if l.DisableHTTP2 && !l.TLS() {
			ck.add(key+".disable_http2", "set on a listener without certificates: HTTP/2 is only offered over TLS")
		}
		if l.ProxyProtocol && len(prefixes) == 0 && !(unix && strings.HasPrefix(l.Address, "unix:")) {
			ck.addRel(key+".proxy_protocol", "gateway.trusted_proxies", "needs the sending proxies in gateway.trusted_proxies: the header is taken only from them")
		}
		switch {
		case l.RedirectHTTPS < 0 || l.RedirectHTTPS > 65535:
			ck.add(key+".redirect_https", "%d is not a port, want 1 to 65535 (or 0: off)", l.RedirectHTTPS)
		case l.RedirectHTTPS != 0 && l.TLS():
			ck.add(key+".redirect_https", "set on a TLS listener: redirect from a plain one")
		}
	}
}
