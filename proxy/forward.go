package proxy

import (
	"bufio"
	"context"
	"errors"
	"strconv"
	"syscall"
	"time"

	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// forward sends the request to b and its answer to the client. It returns
// the status the client got (0 when the Observer was told already, at a
// protocol switch) and whether the client connection may be kept.
//
// A request whose body is already in the read buffer (the common case:
// none, or a small form) is written whole and, on a kept-alive worker
// connection that turns out closed before any answer, sent again on a new
// one. A longer body streams to the worker from a second goroutine while
// this one relays the answer, as a worker may answer while it reads (an
// echo, an early 413).
func (cc *clientConn) forward(b *backend, s *session, logout bool, start, now time.Time) (int, bool) {
	r := &cc.req
	x := relay{b: b, s: s, logout: logout, upgrade: r.Upgrade, minor: r.Minor, keep: cc.mayKeep(), start: start, now: now}
	n, whole := cc.bufferedBody()
	if whole {
		return cc.forwardWhole(&x, n)
	}
	return cc.forwardStream(&x)
}

// relay is what the answer to a request needs to know of it, once the
// request's head is gone from the read buffer.
type relay struct {
	b       *backend
	s       *session
	logout  bool
	upgrade bool
	minor   int
	keep    bool // the client connection may serve another request
	// start is when the request arrived (for the Observer, and the time
	// deadlines of the exchange are armed from: reading the clock once
	// per step would cost more than the deadlines' precision is worth);
	// now is the same time by Options.Now, for pins and cookies.
	start, now time.Time
}

func (cc *clientConn) forwardWhole(x *relay, bodyLen int) (int, bool) {
	o := &cc.srv.o
	wc, err := x.b.pool.get(context.Background(), x.start)
	for attempt := 0; ; attempt++ {
		if err != nil {
			return cc.workerFailed(x.b, err, x.keep), x.keep
		}
		writeRequestHead(wc.out, &cc.req, &cc.from)
		if bodyLen > 0 {
			body := cc.in.buffered()[cc.pending : cc.pending+bodyLen]
			if cc.req.Chunked {
				rechunk(wc.out, body, &cc.chunk)
			} else {
				wc.out.Write(body)
			}
		}
		wc.wd.arm(wc.c, true, x.start, o.BodyIdleTimeout)
		err = cc.awaitHead(wc, x.start, o.ResponseHeaderTimeout)
		if err == nil {
			break
		}
		if err == errClientGone {
			wc.c.Close()
			return 499, false
		}
		if attempt > 0 || !wc.reused || len(wc.in.buffered()) > 0 || isTimeout(err) {
			return cc.headFailed(x.b, wc, err, x.keep), x.keep
		}
		wc.c.Close() // the worker closed an idle connection: try a new one
		wc, err = x.b.pool.get(context.Background(), time.Now())
		if wc != nil {
			wc.reused = false
		}
	}
	cc.consumeHead()
	cc.in.discard(bodyLen)
	status, keep, reuse := cc.respond(wc, x)
	cc.p.putWorker(x.b, wc, reuse, x.start)
	return status, keep
}

// putWorker keeps a worker connection for the next request, or closes it.
func (p *Proxy) putWorker(b *backend, wc *workerConn, reuse bool, now time.Time) {
	if reuse {
		b.pool.put(wc, now)
	} else {
		wc.c.Close()
	}
}

// bufferedBody reports whether the request's whole body is in the read
// buffer after its head, and its length there.
func (cc *clientConn) bufferedBody() (int, bool) {
	r := &cc.req
	rest := cc.in.buffered()[cc.pending:]
	switch {
	case r.Chunked:
		var dec h1.Chunked
		off := 0
		for !dec.Done() {
			_, n, err := dec.Decode(rest[off:])
			if err != nil {
				return 0, false
			}
			off += n
		}
		return off, true
	case r.ContentLength > 0:
		if int64(len(rest)) < r.ContentLength {
			return 0, false
		}
		return int(r.ContentLength), true
	}
	return 0, true
}

// forwardStream sends a body that is not all here yet.
func (cc *clientConn) forwardStream(x *relay) (int, bool) {
	o := &cc.srv.o
	wc, err := x.b.pool.get(context.Background(), x.start)
	if err == nil && wc.reused && !wc.alive() {
		// This request cannot be sent twice: its connection is checked
		// even if it was idle only a moment.
		wc.c.Close()
		wc, err = x.b.pool.get(context.Background(), time.Now())
	}
	if err != nil {
		return cc.workerFailed(x.b, err, false), false
	}
	writeRequestHead(wc.out, &cc.req, &cc.from)
	expect := cc.req.Expect100
	cc.consumeHead()
	if expect {
		if status, done := cc.expectContinue(wc, x); done {
			return status, false
		}
	}
	body := cc.streamBody(wc)
	if err := wc.readHead(time.Now(), o.ResponseHeaderTimeout); err != nil {
		wc.c.Close()
		if berr := body.srcErr.Load(); berr != nil {
			body.wait(true)
			return cc.clientBodyFailed(*berr), false
		}
		body.wait(false)
		return cc.headFailed(x.b, wc, err, false), false
	}
	status, keep, reuse := cc.respond(wc, x)
	if body.wait(true) != nil {
		keep, reuse = false, false
	}
	cc.p.putWorker(x.b, wc, reuse, time.Now())
	return status, keep
}

// alive reports whether a kept-alive connection is open and has nothing to
// read, without waiting: one non-blocking peek, through a raw connection
// and a callback made once per connection, so that it allocates nothing.
// For a request whose body streams and so cannot be sent twice.
func (wc *workerConn) alive() bool {
	if wc.raw == nil {
		return true
	}
	wc.quiet = false
	if err := wc.raw.Read(wc.peekFn); err != nil {
		return false
	}
	return wc.quiet
}

// peek is the raw read behind alive: EAGAIN means open and quiet; 0 bytes
// means closed; a byte means an answer to nothing.
func (wc *workerConn) peek(fd uintptr) bool {
	_, errno := peekByte(fd)
	wc.quiet = errno == syscall.EAGAIN
	return true
}

// peekByte looks at the next byte of a socket without taking it or
// waiting: the byte count (0 at the end of the stream) or an errno, EAGAIN
// when nothing is there yet.
func peekByte(fd uintptr) (uintptr, syscall.Errno) {
	var b [1]byte
	n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafePointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return n, errno
}

// errNotQuiet: a kept-alive connection held bytes before the request was
// sent (they answer nothing) or had been closed by the worker.
var errNotQuiet = errors.New("kept-alive worker connection closed, or holding bytes nobody asked for")

// send writes the buffered request and waits until the worker's answer
// starts to arrive (or the read deadline passes). Before writing, one
// non-blocking peek checks that the connection is open and quiet: bytes an
// idle connection holds would otherwise be read as this request's answer,
// another client's perhaps. The peek costs no system call of its own: it
// replaces the read that would otherwise find nothing yet right after the
// write, since the wait is for readiness, not a read.
func (wc *workerConn) send() error {
	if wc.raw == nil {
		return wc.out.Flush()
	}
	if len(wc.in.buffered()) > 0 {
		return errNotQuiet
	}
	wc.sent, wc.sendErr = false, nil
	err := wc.raw.Read(wc.sendFn)
	if wc.sendErr != nil {
		return wc.sendErr
	}
	return err
}

// sendStep is send's callback: first the peek and the write, then (after
// the poller saw the answer arrive) done.
func (wc *workerConn) sendStep(fd uintptr) bool {
	if wc.sent {
		return true
	}
	wc.sent = true
	wc.peek(fd)
	if !wc.quiet {
		wc.sendErr = errNotQuiet
		return true
	}
	if err := wc.out.Flush(); err != nil {
		wc.sendErr = err
		return true
	}
	return false
}

// rechunk writes a whole, already checked chunked body as the gateway
// frames it (without chunk extensions).
func rechunk(w *bufio.Writer, body []byte, dec *h1.Chunked) {
	dec.Reset()
	for !dec.Done() {
		data, n, err := dec.Decode(body)
		if err != nil {
			return
		}
		if len(data) > 0 {
			writeChunkHeader(w, len(data))
			w.Write(data)
			w.WriteString("\r\n")
		}
		if dec.Trailer != nil {
			w.WriteString("0\r\n")
			w.Write(dec.Trailer)
		}
		body = body[n:]
	}
}

func writeChunkHeader(w *bufio.Writer, n int) {
	if w.Available() < 20 {
		w.Flush()
	}
	w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(n), 16))
	w.WriteString("\r\n")
}
