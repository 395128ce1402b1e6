package proxy

import (
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// expectTimeout is how long a request with Expect: 100-continue waits for
// the worker's 100 before its body is sent anyway (net/http's Transport
// waits as long by default).
const expectTimeout = time.Second

// checkChunked checks the framing of the part of a chunked request body
// that came with its head, so that a malformed body sent in one piece (as
// an attack is) is refused before anything reaches a worker. It does not
// wait for more: a body that streams (an upload that waits for answers)
// must not stall. Bytes that come later are checked as they are copied,
// and a framing error there cuts the worker's connection in the middle of
// the body, which the worker must treat as incomplete; since the gateway
// re-frames every chunk, nothing the client sent can be read as another
// request by the worker either way.
func (cc *clientConn) checkChunked(headLen int) error {
	var dec h1.Chunked
	b := cc.in.buffered()[headLen:]
	for !dec.Done() {
		_, n, err := dec.Decode(b)
		if err == h1.ErrIncomplete {
			return nil
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// expectContinue waits for the worker's answer to Expect: 100-continue
// before the body is sent: a 100 is relayed to the client and the body
// follows; a final answer is relayed instead, and the body is never read
// (done: the connection closes after it). A worker that says nothing
// within expectTimeout gets the body anyway.
func (cc *clientConn) expectContinue(wc *workerConn, x *relay) (status int, done bool) {
	o := &cc.srv.o
	wc.wd.arm(wc.c, true, time.Now(), o.BodyIdleTimeout)
	if err := wc.out.Flush(); err != nil {
		return cc.headFailed(x.b, wc, err, false), true
	}
	err := wc.readHead(time.Now(), expectTimeout)
	switch {
	case err == nil && wc.resp.Status == 100:
		wc.in.discard(wc.headLen)
		if x.minor == 1 {
			cc.out.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			if cc.flush() != nil {
				wc.c.Close()
				return 499, true
			}
		}
		return 0, false
	case err == nil:
		x.keep = false
		status, _, _ := cc.respond(wc, x)
		wc.c.Close() // the worker may still wait for the body
		return status, true
	case !isTimeout(err):
		return cc.headFailed(x.b, wc, err, false), true
	}
	return 0, false
}

// bodyCopy is a request body on its way to the worker from a goroutine of
// its own.
type bodyCopy struct {
	done      chan error
	err       error
	dstFailed bool
	finished  bool // wait has returned once
	// srcErr is the error of a body that failed on the client's side
	// (a broken chunk, a stall), set before the worker connection is
	// closed because of it.
	srcErr atomic.Pointer[error]
	cc     *clientConn
	wc     *workerConn
}

// streamBody starts sending the request body to the worker.
func (cc *clientConn) streamBody(wc *workerConn) *bodyCopy {
	o, r := &cc.srv.o, &cc.req
	bc := &bodyCopy{done: make(chan error, 1), cc: cc, wc: wc}
	chunked, length := r.Chunked, r.ContentLength
	go func() {
		st := stream{src: &cc.in, srd: &cc.rd, srcConn: cc.c, dst: wc.out, dwd: &wc.wd, dstConn: wc.c,
			idle: o.BodyIdleTimeout, wto: o.BodyIdleTimeout}
		var err error
		if chunked {
			var dec h1.Chunked
			err = st.chunked(&dec, true)
		} else {
			err = st.fixed(length)
		}
		if err == nil {
			err = st.flush()
		}
		bc.dstFailed = st.dstFailed
		if err != nil && !st.dstFailed {
			bc.srcErr.Store(&err) // before the close the other goroutine sees
			wc.c.Close()          // the worker must not take a cut-off body for a whole one
		}
		bc.done <- err
	}()
	return bc
}

// wait returns the body's outcome. With answered set, the worker's answer
// is complete and the body gets a second more to finish; otherwise the
// worker failed and the body stops at once. A body stopped this way ends
// with errBodyCut, and neither connection can be framed any more.
func (bc *bodyCopy) wait(answered bool) error {
	if bc.finished {
		return bc.err
	}
	bc.finished = true
	if answered {
		t := time.NewTimer(time.Second)
		defer t.Stop()
		select {
		case bc.err = <-bc.done:
			return bc.err
		case <-t.C:
		}
	} else {
		select {
		case bc.err = <-bc.done:
			return bc.err
		default:
		}
	}
	// Wake the copy wherever it blocks, reading the client or writing to
	// the worker: deadlines in the past.
	bc.cc.c.SetReadDeadline(past)
	bc.wc.c.SetWriteDeadline(past)
	<-bc.done
	bc.cc.rd.at, bc.wc.wd.at = past, past
	bc.err = errBodyCut
	return bc.err
}

var errBodyCut = errors.New("request body cut off")

// clientBodyFailed answers a request whose body could not be read: 400 for
// a broken chunked framing, 408 for a client that stopped sending. The
// connection is closed after.
func (cc *clientConn) clientBodyFailed(err error) int {
	var he *h1.Error
	switch {
	case errors.As(err, &he):
		cc.p.refused.Add(1)
		cc.answer(he.Status, "", he.Reason+"\n", true)
		cc.unread = true
		return he.Status
	case isTimeout(err):
		cc.answer(408, "", "request body timed out\n", true)
		return 408
	}
	return 499 // the client went away
}

// workerFailed answers 502 when the worker could not be reached or failed
// before answering.
func (cc *clientConn) workerFailed(b *backend, err error, keep bool) int {
	msg := "worker request failed"
	var he *h1.Error
	if errors.As(err, &he) {
		msg = "worker sent a malformed response"
	}
	cc.p.log.Warn(msg, "generation", b.gen, "instance", b.inst,
		"method", string(cc.method), "path", string(cc.path), "client", cc.from.client(cc.p), "error", err)
	cc.answer(502, "", "the app's worker failed to answer\n", !keep)
	return 502
}

// headFailed answers a request whose worker gave no response head: 504
// when it did not answer in time, 502 otherwise. The worker connection is
// closed.
func (cc *clientConn) headFailed(b *backend, wc *workerConn, err error, keep bool) int {
	wc.c.Close()
	if isTimeout(err) {
		cc.p.log.Warn("worker did not answer in time", "generation", b.gen, "instance", b.inst,
			"method", string(cc.method), "path", string(cc.path), "client", cc.from.client(cc.p), "timeout", cc.srv.o.ResponseHeaderTimeout)
		cc.answer(504, "", "the app's worker did not answer in time\n", !keep)
		return 504
	}
	return cc.workerFailed(b, err, keep)
}

// tunnel relays a protocol switch: the 101 head, then bytes both ways
// until either side closes (or a drain closes the client's connection, see
// Proxy.CloseHeld). Upgraded connections have no idle timeout: a quiet
// WebSocket is normal.
func (cc *clientConn) tunnel(b *backend, wc *workerConn, start time.Time) {
	w := cc.out
	writeStatusLine(w, 101, wc.resp.Reason)
	for i := range wc.resp.Fields {
		f := &wc.resp.Fields[i]
		if f.Kind == h1.KindUpgrade || !f.Kind.Hop() && !(f.Kind == h1.KindOther && cc.p.isEndHeader(f.Name)) {
			writeField(w, f.Name, f.Value)
		}
	}
	w.Write(cc.v.add)
	w.WriteString("Connection: Upgrade\r\n\r\n")
	wc.in.discard(wc.headLen)
	if len(wc.in.buffered()) > 0 {
		w.Write(wc.in.buffered())
	}
	// Held before the client sees the switch, so that a forced drain
	// (CloseHeld) never misses a connection it counted as upgraded.
	cc.state.Store(connTunnel)
	b.stats.hold(cc.c)
	defer b.stats.release(cc.c)
	err := cc.flush()
	cc.p.observe(b.gen, 101, start)
	if err != nil {
		wc.c.Close()
		return
	}
	var zero time.Time
	cc.c.SetDeadline(zero)
	wc.c.SetDeadline(zero)
	if rest := cc.in.buffered(); len(rest) > 0 {
		if _, err := wc.c.Write(rest); err != nil {
			wc.c.Close()
			return
		}
		cc.in.discard(len(rest))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(cc.c, wc.c)
		cc.c.Close()
		wc.c.Close()
	}()
	io.Copy(wc.c, cc.c)
	wc.c.Close()
	cc.c.Close()
	<-done
}
