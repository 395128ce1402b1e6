package proxy

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// clientConn is one client connection and everything its requests reuse:
// one goroutine serves it from accept to close, and forwards each request
// itself (no hand-off to another goroutine, as HAProxy's and Envoy's event
// loops do not hand off either).
type clientConn struct {
	p   *Proxy
	srv *server
	c   net.Conn
	in  inbuf
	out *bufio.Writer
	// rd and wd are the client's read and write deadlines.
	rd, wd deadline
	req    h1.Request
	from   peer // who sent the requests (forwarded.go)
	// redirect is the listener's HTTPS port when it answers every request
	// with a redirect there (Listener.RedirectHTTPS), else 0.
	redirect int
	sess     session
	v        verdict
	chunk    h1.Chunked
	// method and path are copies of the request's, which outlive the read
	// buffer once a request body has been read through it.
	method, path []byte
	// pending is the length of the request head still at the start of the
	// read buffer (see consumeHead).
	pending int
	// state is connNew until the first request, connIdle between requests
	// and connBusy during one; Run's shutdown closes idle connections, lets
	// busy ones finish, and gives new ones newConnGrace to send their first
	// request.
	state atomic.Int32
	// accepted is when the connection was accepted (newConnGrace).
	accepted time.Time
	// unread is set when the gateway refused a request whose rest the
	// client may still be sending: the connection is closed by linger.
	unread bool
}

const (
	connIdle int32 = iota
	connBusy
	connClosed
	connTunnel // switched protocols: not waited for at shutdown
	connNew    // accepted, no request read yet
)

// newConnGrace is how long shutdown waits for the first request of a
// connection accepted just before it. Closing such a connection unanswered
// fails a request the client has sent already, and one on a fresh
// connection is not retried (Go's client and browsers retry only on a
// reused one). net/http's Server waits 5 s; a connection a browser opened
// ahead of need may never send, so this is shorter.
const newConnGrace = time.Second

const clientBuffer = 8 << 10

var connPool = sync.Pool{New: func() any {
	cc := &clientConn{}
	cc.out = bufio.NewWriterSize(nil, clientBuffer)
	return cc
}}

func (p *Proxy) newClientConn(srv *server, c net.Conn, redirect int) *clientConn {
	cc := connPool.Get().(*clientConn)
	cc.p, cc.srv, cc.c = p, srv, c
	cc.in.init(c, clientBuffer)
	cc.out.Reset(c)
	cc.rd, cc.wd = deadline{}, deadline{}
	_, isTLS := c.(*tls.Conn)
	cc.from.set(p, c.RemoteAddr(), isTLS)
	cc.redirect = redirect
	cc.state.Store(connNew)
	cc.accepted = time.Now()
	return cc
}

// serve answers the connection's requests in order until it ends.
func (cc *clientConn) serve() {
	defer cc.release()
	for {
		n, err := cc.readHead()
		if err != nil {
			cc.refuse(err)
			cc.linger()
			return
		}
		if !cc.state.CompareAndSwap(connIdle, connBusy) && !cc.state.CompareAndSwap(connNew, connBusy) {
			return // shutting down
		}
		keep := cc.exchange(n)
		if !keep || !cc.state.CompareAndSwap(connBusy, connIdle) || cc.srv.stopping.Load() {
			cc.flush()
			cc.linger()
			return
		}
	}
}

// Lingering after a refusal: at most this long and this many bytes.
const (
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 256 << 10
)

// linger, after a refusal (cc.unread), closes the sending side and reads
// what the client still sends for a moment before the connection is closed.
// Closing a socket with unread bytes makes the kernel send a reset, which
// can destroy the answer before the client has read it: a 431 to a client
// still sending a large head, a 400 to one still sending its body.
func (cc *clientConn) linger() {
	if !cc.unread {
		return
	}
	if cw, ok := cc.c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	cc.c.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, cc.c, lingerBytes)
}

func (cc *clientConn) release() {
	cc.unread = false
	cc.state.Store(connClosed)
	cc.srv.forget(cc)
	cc.c.Close()
	cc.p, cc.srv, cc.c = nil, nil, nil
	cc.in.conn = nil
	if len(cc.in.buf) > clientBuffer {
		cc.in.buf = nil // a grown head buffer is not kept
	}
	cc.out.Reset(nil)
	cc.v.reset()
	connPool.Put(cc)
}

// readHead waits for a complete request head and returns its length. The
// connection's idle timeout applies until its first byte, the read-header
// timeout from then on. What is already answered is flushed before
// waiting, so that pipelined requests are answered in one write.
//
// A head is parsed once its end may be in the buffer (an LF followed by
// an empty line), not after every read: a client that sends its head a few
// bytes at a time must not make the gateway parse it again each time.
func (cc *clientConn) readHead() (int, error) {
	o := &cc.srv.o
	var started time.Time
	scanned := 0 // leading bytes of the buffered ones known to hold no end of head
	for {
		if b := cc.in.buffered(); len(b) > 0 {
			if mayEndHead(b, scanned) {
				n, err := h1.ParseRequest(b, &cc.req)
				if err != h1.ErrIncomplete {
					return n, err
				}
			}
			scanned = max(len(b)-2, 0)
			if started.IsZero() {
				started = time.Now()
				cc.rd.arm(cc.c, false, started, o.ReadHeaderTimeout)
			}
		} else {
			scanned = 0
			if err := cc.flush(); err != nil {
				return 0, err
			}
			cc.rd.arm(cc.c, false, time.Now(), o.IdleTimeout)
		}
		if err := cc.in.fill(o.MaxHeaderBytes); err != nil {
			return 0, err
		}
	}
}

// mayEndHead reports whether b, from offset from on, holds an LF followed
// by an empty line (CRLF, or a bare LF the parser will refuse).
func mayEndHead(b []byte, from int) bool {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' || i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return true
		}
	}
	return false
}

// mayKeep reports whether the connection may serve another request after
// this one: the client did not ask to close it, and the gateway is not
// shutting down. An answer given during shutdown says "Connection: close",
// as net/http's does, so that the client does not send its next request
// on a connection about to close.
func (cc *clientConn) mayKeep() bool {
	return !cc.req.Close && !cc.srv.stopping.Load()
}

// consumeHead drops the current request's head from the read buffer, once:
// after it, the parsed request's slices are no longer valid.
func (cc *clientConn) consumeHead() {
	if cc.pending > 0 {
		cc.in.discard(cc.pending)
		cc.pending = 0
	}
}

func (cc *clientConn) flush() error {
	if cc.out.Buffered() == 0 {
		return nil
	}
	cc.wd.arm(cc.c, true, time.Now(), cc.srv.o.WriteTimeout)
	return cc.out.Flush()
}

// refuse answers a request that cannot be read: 400 (or the status the
// parser chose) for a malformed or ambiguous head, 431 for one too large.
// The connection is closed after, since what follows cannot be framed.
// A client that went away or stayed silent gets nothing.
func (cc *clientConn) refuse(err error) {
	cc.method = cc.method[:0]
	var he *h1.Error
	switch {
	case errors.As(err, &he):
		cc.p.refused.Add(1)
		cc.p.log.Debug("request refused", "client", cc.from.String(), "status", he.Status, "reason", he.Reason)
		cc.answer(he.Status, "", he.Reason+"\n", true)
		cc.unread = true
	case err == errHeadTooLarge:
		cc.p.refused.Add(1)
		cc.unread = true
		cc.answer(431, "", "request header fields too large\n", true)
	default:
		return
	}
	cc.flush()
}

// answer writes a response the gateway makes itself. extra holds header
// lines, each ended by CRLF.
func (cc *clientConn) answer(status int, extra, body string, close bool) {
	w := cc.out
	cc.wd.arm(cc.c, true, time.Now(), cc.srv.o.WriteTimeout)
	writeStatusLine(w, status, nil)
	w.WriteString("Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n")
	w.WriteString(extra)
	if close {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("Content-Length: ")
	w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(len(body)), 10))
	w.WriteString("\r\n\r\n")
	if string(cc.method) != "HEAD" {
		w.WriteString(body)
	}
}

func writeStatusLine(w *bufio.Writer, status int, reason []byte) {
	w.WriteString("HTTP/1.1 ")
	w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(status), 10))
	w.WriteByte(' ')
	if len(reason) > 0 {
		w.Write(reason)
	} else {
		w.WriteString(statusText(status))
	}
	w.WriteString("\r\n")
}
