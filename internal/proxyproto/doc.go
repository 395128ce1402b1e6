// Package proxyproto reads the PROXY protocol header (HAProxy's "The PROXY
// protocol Versions 1 & 2") that a load balancer in front of the gateway
// sends first on each connection it opens to a listener.
//
// Behind a TCP load balancer (HAProxy in tcp mode, a cloud network load
// balancer) every connection comes from the balancer, so the address the
// proxy logs, counts and passes on in X-Forwarded-For (proxy/forwarded.go,
// docs/design.md "Forwarding") would be the balancer's. The header names
// the real client; [Accept] reads it and returns a [Conn] whose RemoteAddr
// is that client, as a *net.TCPAddr, the type the request path reads
// (proxy/forwarded.go, setPeer), so that the path needs no change and the
// client, not the balancer, is what gateway.trusted_proxies is checked
// against.
//
// A listener configured for the protocol must require it (the spec forbids
// guessing), and only the balancer should be able to reach it: whoever
// sends the header names the address the gateway then believes. A
// connection without a header fails with [ErrNoHeader], a malformed one
// with an error wrapping [ErrMalformed] that says what is wrong, so that a
// misconfigured balancer shows up in the log with the reason.
//
// Accept reads into a small buffer held in the Conn, in as few reads as
// the peer's writes allow, never byte by byte: the client's first request
// usually arrives in the same segment as the header, and what was read past
// the header is served by the Conn's first Reads. It never waits for more
// bytes than the header needs. It does wait for those, so it belongs in
// the connection's goroutine, not in the accept loop (proxy/server.go),
// where a peer that sends nothing would hold up every other.
package proxyproto
