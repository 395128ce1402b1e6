package proxyproto

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
)

// inlineBuf is the size of the buffer a Conn carries for the header: enough
// for any v1 header (107 bytes) and any v2 header without large TLVs (16 +
// 216 for unix addresses), so that the usual header costs no allocation but
// the Conn's. A longer v2 header is read into a buffer of its own.
const inlineBuf = 256

// Conn is a connection whose first bytes were a PROXY header. RemoteAddr
// and LocalAddr are the addresses the header names, or the connection's
// own where it names none (LOCAL, UNKNOWN, UNSPEC, unix addresses). The
// embedded connection serves Write, Close and the deadlines.
type Conn struct {
	net.Conn
	rest     []byte // read past the header, not yet returned by Read
	version  int
	raddr    net.TCPAddr // IP nil: the connection's own
	laddr    net.TCPAddr
	rip, lip [16]byte // backing raddr.IP and laddr.IP, to save allocations
	buf      [inlineBuf]byte
}

// Read serves the bytes read past the header before reading the connection
// again, so that a request that came with the header is not lost.
func (c *Conn) Read(p []byte) (int, error) {
	if len(c.rest) == 0 {
		return c.Conn.Read(p)
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	if len(c.rest) == 0 {
		c.rest = nil // drop a separately allocated header buffer
	}
	return n, nil
}

// WriteTo lets io.Copy from a Conn (an upgraded connection's relay) still
// splice between sockets once the bytes read past the header are written.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	var n int64
	if len(c.rest) > 0 {
		m, err := w.Write(c.rest)
		n, c.rest = int64(m), c.rest[m:]
		if err != nil {
			return n, err
		}
		c.rest = nil
	}
	m, err := io.Copy(w, c.Conn)
	return n + m, err
}

// ReadFrom lets io.Copy to a Conn splice as it would to the connection.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(c.Conn, r)
}

// RemoteAddr is the client the header names: the address the gateway logs
// and forwards, not the load balancer's.
func (c *Conn) RemoteAddr() net.Addr {
	if c.raddr.IP == nil {
		return c.Conn.RemoteAddr()
	}
	return &c.raddr
}

// LocalAddr is the address the client connected to, as the header names it.
func (c *Conn) LocalAddr() net.Addr {
	if c.laddr.IP == nil {
		return c.Conn.LocalAddr()
	}
	return &c.laddr
}

// CloseWrite half-closes the connection, as the engine does after refusing
// a request (proxy/conn.go, linger), when the connection can.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return fmt.Errorf("proxyproto: %T cannot half-close: %w", c.Conn, errors.ErrUnsupported)
}

// Version is the header's version, 1 or 2, for logs.
func (c *Conn) Version() int { return c.version }

// Unwrap is the connection the header came on, for whoever needs its type.
func (c *Conn) Unwrap() net.Conn { return c.Conn }

// setAddrs keeps the header's addresses; a zero src means it named none.
func (c *Conn) setAddrs(src, dst netip.AddrPort) {
	if !src.IsValid() {
		return
	}
	c.raddr = tcpAddr(&c.rip, src)
	c.laddr = tcpAddr(&c.lip, dst)
}

// tcpAddr builds a net.TCPAddr whose IP lives in buf rather than in a slice
// of its own.
func tcpAddr(buf *[16]byte, ap netip.AddrPort) net.TCPAddr {
	a := ap.Addr()
	ip := buf[:16]
	if a.Is4() {
		ip = buf[:4]
		b := a.As4()
		copy(ip, b[:])
	} else {
		*buf = a.As16()
	}
	return net.TCPAddr{IP: ip, Port: int(ap.Port())}
}
