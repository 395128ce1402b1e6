package proxyproto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"
)

var (
	// ErrNoHeader is a connection whose first bytes are not a PROXY
	// header: a client that bypassed the load balancer, or a balancer not
	// configured to send one.
	ErrNoHeader = errors.New("proxyproto: connection does not start with a PROXY header")
	// ErrMalformed is wrapped by every error about a header that starts
	// like one but breaks the spec; the error's text says how.
	ErrMalformed = errors.New("proxyproto: malformed PROXY header")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Accept reads the PROXY header c starts with and returns c wrapped so that
// its addresses are the header's. It waits for the header at most until
// deadline (none if zero), since a peer that connects and sends nothing
// must not hold a goroutine forever, and clears the read deadline after.
// It reads nothing past the header that the Conn does not keep for Read.
// On error the connection is left open for the caller to close.
func Accept(c net.Conn, deadline time.Time) (*Conn, error) {
	if !deadline.IsZero() {
		if err := c.SetReadDeadline(deadline); err != nil {
			return nil, fmt.Errorf("proxyproto: setting the header deadline: %w", err)
		}
	}
	pc := &Conn{Conn: c}
	err := pc.readHeader()
	if !deadline.IsZero() {
		if cerr := c.SetReadDeadline(time.Time{}); err == nil && cerr != nil {
			err = fmt.Errorf("proxyproto: clearing the header deadline: %w", cerr)
		}
	}
	if err != nil {
		return nil, err
	}
	return pc, nil
}

// readHeader reads until scan finds a whole header, in as few reads as the
// peer's writes allow.
func (c *Conn) readHeader() error {
	buf, n := c.buf[:], 0
	var rerr error
	for {
		h, err := scan(buf[:n])
		if err != nil {
			return err
		}
		if h.size > 0 {
			c.version = h.version
			c.setAddrs(h.src, h.dst)
			if h.size < n {
				c.rest = buf[h.size:n]
			}
			return nil
		}
		if rerr != nil {
			return truncated(n, rerr)
		}
		if h.need > len(buf) {
			buf = append(make([]byte, 0, h.need), buf[:n]...)[:h.need]
		}
		var m int
		m, rerr = c.Conn.Read(buf[n:])
		n += m
	}
}

// truncated is the error of a connection that ended, failed or timed out
// after n bytes of a header; it wraps the read's error for errors.Is.
func truncated(n int, err error) error {
	if n == 0 && err == io.EOF {
		return fmt.Errorf("proxyproto: connection closed before any header: %w", io.ErrUnexpectedEOF)
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("proxyproto: reading the header, %d bytes in: %w", n, err)
}

// header is what scan learned: size > 0 once the header is whole.
type header struct {
	size, need int // the header's length; or the bytes needed before scanning again
	version    int
	src, dst   netip.AddrPort // zero where the header names no addresses
}

var (
	v1Prefix = []byte("PROXY ")
	v2Sig    = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// scan looks at the bytes read so far, deciding as soon as they can no
// longer start a header, so that a plain HTTP client is refused at once.
func scan(b []byte) (header, error) {
	switch {
	case len(b) == 0:
		return header{need: 1}, nil
	case b[0] == v1Prefix[0]:
		return scanV1(b)
	case b[0] == v2Sig[0]:
		return scanV2(b)
	}
	return header{}, ErrNoHeader
}

// hasPrefix reports whether b and prefix agree as far as both go.
func hasPrefix(b, prefix []byte) bool {
	n := min(len(b), len(prefix))
	return bytes.Equal(b[:n], prefix[:n])
}
