package proxy

import (
	"bufio"
	"strconv"
	"time"

	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// maxResponseHead bounds a worker's response head (many Set-Cookie lines
// make large heads).
const maxResponseHead = 256 << 10

// readHead waits for a response head from the worker, at most timeout
// (0: no limit) from now.
func (wc *workerConn) readHead(now time.Time, timeout time.Duration) error {
	wc.rd.arm(wc.c, false, now, timeout)
	for {
		if len(wc.in.buffered()) > 0 {
			n, err := h1.ParseResponse(wc.in.buffered(), &wc.resp)
			if err != h1.ErrIncomplete {
				wc.headLen = n
				return err
			}
		}
		if err := wc.in.fill(maxResponseHead); err != nil {
			return err
		}
	}
}

// respond relays the worker's answer, whose head is parsed in wc.resp:
// informational heads first, then the final one with the session's
// cookies decided by track, then the body, re-framed for the client.
//
// It returns the status the client got, whether the client connection and
// the worker connection may serve another request.
func (cc *clientConn) respond(wc *workerConn, x *relay) (status int, keep, reuse bool) {
	o := &cc.srv.o
	b, s, minor := x.b, x.s, x.minor
	for {
		resp := &wc.resp
		if resp.Status >= 200 || resp.Status == 101 && x.upgrade {
			break
		}
		if minor == 1 && resp.Status != 101 {
			cc.writeInformational(resp)
		}
		wc.in.discard(wc.headLen)
		if err := cc.flush(); err != nil {
			return 499, false, false
		}
		if err := wc.readHead(time.Now(), o.ResponseHeaderTimeout); err != nil {
			return cc.headFailed(b, wc, err, x.keep), x.keep, false
		}
	}
	resp := &wc.resp
	status = resp.Status
	cc.v.reset()
	cc.p.track(b, s, x.logout && status < 400, cc.from.https, cc.path, resp.Fields, x.now, &cc.v)
	if status == 101 {
		cc.tunnel(b, wc, x.start)
		return 0, false, false
	}
	bodyless := resp.Bodyless(cc.method)
	in := framingOf(resp, bodyless)
	out := in
	if in == bodyEOF || in == bodyChunked && minor == 1 {
		out = bodyChunked
	}
	if minor == 0 && in != bodyNone && in != bodyLength {
		out = bodyEOF
	}
	keep = x.keep && out != bodyEOF && !cc.srv.stopping.Load()
	cc.writeResponseHead(resp, bodyless, out, keep, minor, x.start)
	wc.in.discard(wc.headLen)
	workerKeep := !resp.Close && in != bodyEOF
	st := stream{src: &wc.in, srd: &wc.rd, srcConn: wc.c, dst: cc.out, dwd: &cc.wd, dstConn: cc.c,
		idle: o.BodyIdleTimeout, wto: o.WriteTimeout}
	err := st.body(in, resp.ContentLength, &cc.chunk, out == bodyChunked)
	if err != nil {
		if !st.dstFailed {
			cc.p.log.Warn("worker response body failed", "generation", b.gen, "instance", b.inst,
				"method", string(cc.method), "path", string(cc.path), "error", err)
		}
		return status, false, false
	}
	// Bytes past the answer's end answer nothing: the connection cannot be
	// used for another client's request (they would be read as its answer).
	return status, keep, workerKeep && len(wc.in.buffered()) == 0
}

type framing uint8

const (
	bodyNone framing = iota
	bodyLength
	bodyChunked
	bodyEOF // delimited by the connection's end
)

func framingOf(resp *h1.Response, bodyless bool) framing {
	switch {
	case bodyless:
		return bodyNone
	case resp.Chunked:
		return bodyChunked
	case resp.ContentLength >= 0:
		return bodyLength
	}
	return bodyEOF
}

// writeResponseHead writes the worker's head as the client gets it: the
// status, the worker's fields less the hop-by-hop ones, the end header and
// a session cookie that track replaced, the cookies track adds, and the
// framing and connection fields of the gateway's choice.
func (cc *clientConn) writeResponseHead(resp *h1.Response, bodyless bool, out framing, keep bool, minor int, now time.Time) {
	w, p := cc.out, cc.p
	cc.wd.arm(cc.c, true, now, cc.srv.o.WriteTimeout)
	writeStatusLine(w, resp.Status, resp.Reason)
	for i := range resp.Fields {
		if f := &resp.Fields[i]; p.passes(resp, f, &cc.v, out == bodyChunked) {
			writeField(w, f.Name, f.Value)
		}
	}
	w.Write(cc.v.add)
	switch {
	case out == bodyLength, bodyless && resp.ContentLength >= 0 && resp.Status != 204 && resp.Status >= 200:
		writeLength(w, resp.ContentLength)
	case out == bodyChunked:
		w.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case !keep:
		w.WriteString("Connection: close\r\n")
	case minor == 0:
		w.WriteString("Connection: keep-alive\r\n")
	}
	w.WriteString("\r\n")
}

// passes reports whether a field of the worker's final response head
// reaches the client, in either engine: not a hop-by-hop one (a Trailer
// announcement passes when the body stays chunked), not the end header,
// not an app's session cookie that track replaced.
func (p *Proxy) passes(resp *h1.Response, f *h1.Field, v *verdict, chunked bool) bool {
	switch {
	case f.Kind == h1.KindTrailer && chunked:
		return true
	case f.Kind.Hop():
		return false
	case f.Kind == h1.KindSetCookie && v.dropSession && isCookieLine(f.Value, p.o.SessionCookie):
		return false
	case f.Kind == h1.KindOther && p.isEndHeader(f.Name):
		return false
	}
	return !resp.ConnTokens || !h1.Nominated(resp.Fields, f.Name)
}

// writeInformational relays a 1xx head (100 Continue, 103 Early Hints).
func (cc *clientConn) writeInformational(resp *h1.Response) {
	w := cc.out
	cc.wd.arm(cc.c, true, time.Now(), cc.srv.o.WriteTimeout)
	writeStatusLine(w, resp.Status, resp.Reason)
	for i := range resp.Fields {
		if f := &resp.Fields[i]; !f.Kind.Hop() {
			writeField(w, f.Name, f.Value)
		}
	}
	w.WriteString("\r\n")
}

func writeField(w *bufio.Writer, name, value []byte) {
	w.Write(name)
	w.WriteString(": ")
	w.Write(value)
	w.WriteString("\r\n")
}

func writeLength(w *bufio.Writer, n int64) {
	w.WriteString("Content-Length: ")
	w.Write(strconv.AppendInt(w.AvailableBuffer(), n, 10))
	w.WriteString("\r\n")
}
