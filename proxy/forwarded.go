package proxy

import (
	"bytes"
	"net"
	"net/netip"

	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// Who the client is, when proxies stand in front of the gateway.
//
// A connection from a trusted proxy (Options.TrustedProxies, or any client
// of a unix-socket listener with Options.TrustUnixClients) brings the
// forwarding fields of the proxies before it: X-Forwarded-For is appended
// to, and X-Forwarded-Proto, X-Forwarded-Host and Forwarded are passed on
// as they came. From anyone else they are replaced, since a client could
// claim anything in them.

// setPeer records the connection's peer and whether it is trusted.
func (cc *clientConn) setPeer(c net.Conn) {
	cc.fwdFor, cc.peer, cc.trusted = cc.fwdFor[:0], netip.Addr{}, false
	switch a := c.RemoteAddr().(type) {
	case *net.TCPAddr:
		cc.peer = a.AddrPort().Addr().Unmap()
		cc.fwdFor = cc.peer.AppendTo(cc.fwdFor)
		cc.trusted = cc.p.trustedAddr(cc.peer)
	case *net.UnixAddr:
		cc.trusted = cc.p.o.TrustUnixClients
	}
}

func (p *Proxy) trustedAddr(a netip.Addr) bool {
	for _, pr := range p.o.TrustedProxies {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor is the X-Forwarded-For the worker gets: from a trusted
// peer, the chain it sent with the peer appended; else the peer alone.
// It is built in cc.xff, reused from request to request.
func (cc *clientConn) forwardedFor() []byte {
	if !cc.trusted {
		return cc.fwdFor
	}
	cc.xff = cc.xff[:0]
	for i := range cc.req.Fields {
		if f := &cc.req.Fields[i]; f.Kind == h1.KindXForwardedFor {
			if v := bytes.TrimSpace(f.Value); len(v) > 0 {
				if len(cc.xff) > 0 {
					cc.xff = append(cc.xff, ", "...)
				}
				cc.xff = append(cc.xff, v...)
			}
		}
	}
	if len(cc.fwdFor) > 0 {
		if len(cc.xff) > 0 {
			cc.xff = append(cc.xff, ", "...)
		}
		cc.xff = append(cc.xff, cc.fwdFor...)
	}
	return cc.xff
}

// secure reports whether the client's own connection was TLS, as a trusted
// proxy says (the first X-Forwarded-Proto element): then the gateway's
// cookies are Secure.
func (cc *clientConn) secure() bool {
	if !cc.trusted {
		return false
	}
	v := cc.field(h1.KindXForwardedProto)
	if i := bytes.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return bytes.EqualFold(bytes.TrimSpace(v), []byte("https"))
}

// field is the value of the request's first field of kind k, or nil.
func (cc *clientConn) field(k h1.Kind) []byte {
	for i := range cc.req.Fields {
		if cc.req.Fields[i].Kind == k {
			return cc.req.Fields[i].Value
		}
	}
	return nil
}

// peerString is the peer's address for logs.
func (cc *clientConn) peerString() string {
	if cc.peer.IsValid() {
		return cc.peer.String()
	}
	return "unix"
}

// client is the client's address for the logs of a forwarded request: the
// peer's, or, behind trusted proxies, the rightmost address of the
// X-Forwarded-For sent on (cc.xff, the gateway's own copy) that is not one
// of them (the leftmost if all are).
func (cc *clientConn) client() string {
	if !cc.trusted {
		return cc.peerString()
	}
	chain := cc.xff
	last := ""
	for len(chain) > 0 {
		i := bytes.LastIndexByte(chain, ',')
		hop := string(bytes.TrimSpace(chain[i+1:]))
		chain = chain[:max(i, 0)]
		last = hop
		a, err := netip.ParseAddr(hop)
		if err != nil || !cc.p.trustedAddr(a.Unmap()) {
			return hop
		}
	}
	if last == "" {
		return "unix"
	}
	return last
}
