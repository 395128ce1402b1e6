package proxy

import (
	"fmt"
	"net"
	"time"

	"github.com/gatewayd/gateway/internal/proxyproto"
)

// proxyHeader takes the PROXY protocol header a trusted proxy sends first
// on a Listener with ProxyProtocol: the connection it returns names the
// client the header names. Whoever sends the header chooses the address
// the gateway believes, so a peer that is not trusted is refused before a
// byte is read, and so is a trusted one that sends no header.
func (p *Proxy) proxyHeader(c net.Conn, deadline time.Time) (net.Conn, error) {
	trusted := false
	switch a := c.RemoteAddr().(type) {
	case *net.TCPAddr:
		trusted = p.trustedAddr(a.AddrPort().Addr().Unmap())
	case *net.UnixAddr:
		trusted = p.o.TrustUnixClients
	}
	if !trusted {
		return c, fmt.Errorf("a PROXY protocol header is only taken from gateway.trusted_proxies, and %s is not one", c.RemoteAddr())
	}
	pc, err := proxyproto.Accept(c, deadline)
	if err != nil {
		return c, err
	}
	return pc, nil
}
