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

// peer is the other end of a client connection, as both engines (HTTP/1.1
// in conn.go, HTTP/2 in h2.go) see it.
type peer struct {
	// fwdFor is the peer's address for X-Forwarded-For; empty for a
	// unix-socket client, which gets none (as net/http/httputil does).
	// addr is the same address (zero for a unix-socket client), trusted
	// whether its forwarding fields are believed, xff the X-Forwarded-For
	// built for a trusted peer.
	fwdFor  []byte
	addr    netip.Addr
	trusted bool
	xff     []byte
	// tls: the connection to the gateway is TLS. https: the client's own
	// connection was, as tls or a trusted proxy says; the gateway's cookies
	// are then Secure.
	tls, https bool
}

// set records the peer at a and whether it is trusted.
func (pr *peer) set(p *Proxy, a net.Addr, tls bool) {
	pr.fwdFor, pr.addr, pr.trusted, pr.tls = pr.fwdFor[:0], netip.Addr{}, false, tls
	switch a := a.(type) {
	case *net.TCPAddr:
		pr.setAddr(p, a.AddrPort().Addr())
	case *net.UnixAddr:
		pr.trusted = p.o.TrustUnixClients
	}
}

func (pr *peer) setAddr(p *Proxy, a netip.Addr) {
	pr.addr = a.Unmap()
	pr.fwdFor = pr.addr.AppendTo(pr.fwdFor)
	pr.trusted = p.trustedAddr(pr.addr)
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
// peer, the chain it sent (in fields) with the peer appended; else the peer
// alone. It is built in pr.xff, reused from request to request.
func (pr *peer) forwardedFor(fields []h1.Field) []byte {
	if !pr.trusted {
		return pr.fwdFor
	}
	pr.xff = pr.xff[:0]
	for i := range fields {
		if f := &fields[i]; f.Kind == h1.KindXForwardedFor {
			if v := bytes.TrimSpace(f.Value); len(v) > 0 {
				if len(pr.xff) > 0 {
					pr.xff = append(pr.xff, ", "...)
				}
				pr.xff = append(pr.xff, v...)
			}
		}
	}
	if len(pr.fwdFor) > 0 {
		if len(pr.xff) > 0 {
			pr.xff = append(pr.xff, ", "...)
		}
		pr.xff = append(pr.xff, pr.fwdFor...)
	}
	return pr.xff
}

// secure reports whether the client's own connection was TLS: this one is,
// or a trusted proxy says so (the first X-Forwarded-Proto element).
func (pr *peer) secure(fields []h1.Field) bool {
	if pr.tls {
		return true
	}
	if !pr.trusted {
		return false
	}
	v := field(fields, h1.KindXForwardedProto)
	if i := bytes.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return bytes.EqualFold(bytes.TrimSpace(v), []byte("https"))
}

// field is the value of the first field of kind k, or nil.
func field(fields []h1.Field, k h1.Kind) []byte {
	for i := range fields {
		if fields[i].Kind == k {
			return fields[i].Value
		}
	}
	return nil
}

// String is the peer's address for logs.
func (pr *peer) String() string {
	if pr.addr.IsValid() {
		return pr.addr.String()
	}
	return "unix"
}

// client is the client's address for the logs of a forwarded request: the
// peer's, or, behind trusted proxies, the rightmost address of the
// X-Forwarded-For sent on (pr.xff, the gateway's own copy) that is not one
// of them (the leftmost if all are).
func (pr *peer) client(p *Proxy) string {
	if !pr.trusted {
		return pr.String()
	}
	chain := pr.xff
	last := ""
	for len(chain) > 0 {
		i := bytes.LastIndexByte(chain, ',')
		hop := string(bytes.TrimSpace(chain[i+1:]))
		chain = chain[:max(i, 0)]
		last = hop
		a, err := netip.ParseAddr(hop)
		if err != nil || !p.trustedAddr(a.Unmap()) {
			return hop
		}
	}
	if last == "" {
		return "unix"
	}
	return last
}
