package proxy

import (
	"crypto/tls"
	"net"
	"time"
)

// Listener is a listening socket with what its connections go through
// before HTTP: a PROXY protocol header, a TLS handshake. A plain
// net.Listener given to Run serves HTTP/1.1 in clear, as a Listener with
// none of them set does.
type Listener struct {
	net.Listener
	// Name names the listener in logs (its [listeners.NAME] table).
	Name string
	// TLS, when set, terminates TLS. With "h2" in its NextProtos, clients
	// that ask for HTTP/2 get it (h2.go); the others get HTTP/1.1.
	TLS *tls.Config
	// ProxyProtocol: each connection starts with a PROXY protocol header
	// (v1 or v2) from a trusted proxy (Options.TrustedProxies); its source
	// address is the client's. A connection from anyone else, or without
	// a valid header, is closed.
	ProxyProtocol bool
	// RedirectHTTPS, when not 0, answers every request with a redirect to
	// the same URL over https on this port (443: no port in the URL).
	RedirectHTTPS int
}

// needsSetup reports whether the listener's connections need work before
// HTTP, which happens in the connection's goroutine, not the accept loop.
func (l *Listener) needsSetup() bool { return l.TLS != nil || l.ProxyProtocol }

// setup takes a connection through the PROXY header and the TLS handshake,
// within the read-header timeout, and reports whether the client chose
// HTTP/2.
func (p *Proxy) setup(l *Listener, c net.Conn, timeout time.Duration) (net.Conn, bool, error) {
	deadline := time.Now().Add(timeout)
	if l.ProxyProtocol {
		var err error
		if c, err = p.proxyHeader(c, deadline); err != nil {
			return c, false, err
		}
	}
	if l.TLS == nil {
		return c, false, nil
	}
	tc := tls.Server(c, l.TLS)
	tc.SetDeadline(deadline)
	if err := tc.Handshake(); err != nil {
		return tc, false, err
	}
	tc.SetDeadline(time.Time{})
	return tc, tc.ConnectionState().NegotiatedProtocol == "h2", nil
}
