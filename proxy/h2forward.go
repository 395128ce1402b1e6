package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// forward sends an HTTP/2 request to b over HTTP/1.1 and relays the answer.
// It returns the status the client got and whether the stream must be
// reset (the answer was cut off after its head).
func (h h2handler) forward(w http.ResponseWriter, r *http.Request, x *h2exchange, b *backend, logout bool, start, now time.Time) (int, bool) {
	o, ctx := &h.s.o, r.Context()
	hasBody := x.req.HasBody()
	wc, err := b.pool.get(ctx, start)
	if err == nil && hasBody && wc.reused && !wc.alive() {
		wc.c.Close() // a body read from the client cannot be sent twice
		wc, err = b.pool.get(ctx, time.Now())
	}
	var body chan error
	for attempt := 0; ; attempt++ {
		if err != nil {
			return h.failed(w, r, x, b, err), false
		}
		stop := context.AfterFunc(ctx, func() { wc.c.SetReadDeadline(time.Unix(1, 0)) })
		writeRequestHead(wc.out, &x.req, &x.from)
		wc.rd.arm(wc.c, false, start, o.ResponseHeaderTimeout)
		if hasBody {
			body = sendBody(wc, r.Body, x.req.Chunked, o.BodyIdleTimeout)
		} else {
			wc.wd.arm(wc.c, true, start, o.BodyIdleTimeout)
			err = wc.send()
		}
		if err == nil {
			err = wc.readHead(start, o.ResponseHeaderTimeout)
		}
		for err == nil && wc.resp.Status < 200 {
			wc.in.discard(wc.headLen) // net/http's server answers 100-continue itself
			err = wc.readHead(time.Now(), o.ResponseHeaderTimeout)
		}
		if !stop() && err == nil {
			// The client went away as the answer came: the connection's
			// read deadline is now in the past, and it cannot be reused.
			wc.c.Close()
			return 499, false
		}
		if err == nil {
			break
		}
		wc.c.Close()
		if body != nil {
			<-body
		}
		if ctx.Err() != nil {
			return 499, false
		}
		if attempt > 0 || hasBody || !wc.reused || isTimeout(err) {
			return h.failed(w, r, x, b, err), false
		}
		wc, err = b.pool.get(ctx, time.Now()) // the worker closed an idle connection
		if wc != nil {
			wc.reused = false
		}
	}
	status, abort, reuse := h.respond(w, r, x, b, wc, logout, now)
	if body != nil {
		if bodyDone(body) != nil {
			reuse = false // the worker answered before it read the whole body
		}
	}
	h.p.putWorker(b, wc, reuse, time.Now())
	return status, abort
}

// bodyDone waits for the request body's copy; one still running is ended
// by closing the worker connection first.
func bodyDone(body chan error) error {
	select {
	case err := <-body:
		return err
	default:
		return errBodyCut
	}
}

// sendBody copies the request body to the worker in a goroutine of its own
// (the worker may answer before reading it all), framed as the head said.
func sendBody(wc *workerConn, src io.Reader, chunked bool, idle time.Duration) chan error {
	done := make(chan error, 1)
	go func() {
		var err error
		var buf [8 << 10]byte
		for err == nil {
			n, rerr := src.Read(buf[:])
			wc.wd.arm(wc.c, true, time.Now(), idle)
			if n > 0 {
				if chunked {
					writeChunkHeader(wc.out, n)
				}
				wc.out.Write(buf[:n])
				if chunked {
					wc.out.Write(crlf)
				}
				err = wc.out.Flush()
			}
			if rerr == io.EOF {
				if chunked {
					wc.out.Write(endChunks)
				}
				done <- wc.out.Flush()
				return
			}
			if rerr != nil {
				err = rerr
			}
		}
		done <- err
	}()
	return done
}

// respond relays the worker's final head, as track and passes decide, and
// its body. It returns the status, whether the stream must be reset, and
// whether the worker connection may serve another request.
func (h h2handler) respond(w http.ResponseWriter, r *http.Request, x *h2exchange, b *backend, wc *workerConn, logout bool, now time.Time) (int, bool, bool) {
	p, o, resp := h.p, &h.s.o, &wc.resp
	if resp.Status == 101 {
		wc.c.Close()
		return h.failed(w, r, x, b, errors.New("a protocol switch the request did not ask for")), false, false
	}
	x.v.reset()
	p.track(b, &x.sess, logout && resp.Status < 400, true, x.req.Path, resp.Fields, now, &x.v)
	bodyless := resp.Bodyless(x.req.Method)
	hd := w.Header()
	for i := range resp.Fields {
		if f := &resp.Fields[i]; p.passes(resp, f, &x.v, false) {
			// Canonical, or net/http would not see a worker's lowercase
			// content-type and would add a sniffed one next to it.
			name := http.CanonicalHeaderKey(string(f.Name))
			hd[name] = append(hd[name], string(f.Value))
		}
	}
	for line := range bytes.Lines(x.v.add) {
		c := bytes.TrimSuffix(bytes.TrimPrefix(line, []byte("Set-Cookie: ")), crlf)
		hd.Add("Set-Cookie", string(c))
	}
	if resp.ContentLength >= 0 && !resp.Chunked && resp.Status != 204 && resp.Status != 304 {
		hd.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.Status)
	wc.in.discard(wc.headLen)
	in := framingOf(resp, bodyless)
	rc := http.NewResponseController(w)
	x.hw = h2writer{w: w, rc: rc}
	x.out.Reset(&x.hw)
	defer x.out.Reset(nil)
	st := stream{src: &wc.in, srd: &wc.rd, srcConn: wc.c, dst: x.out, dwd: &deadline{}, dstConn: h2deadlines{rc: rc},
		idle: o.BodyIdleTimeout, wto: o.WriteTimeout}
	err := st.body(in, resp.ContentLength, &x.chunk, false)
	if err == nil {
		x.hw.last = true // net/http sends the rest with the end of the stream
		err = st.flush()
	}
	if err != nil {
		if !st.dstFailed {
			p.log.Warn("worker response body failed", "generation", b.gen, "instance", b.inst,
				"method", r.Method, "path", string(x.req.Path), "error", err)
		}
		wc.c.Close()
		return resp.Status, true, false
	}
	return resp.Status, false, !resp.Close && in != bodyEOF && len(wc.in.buffered()) == 0
}

// failed answers a request the worker did not answer: 504 when it did not
// in time, 502 otherwise (as send.go's workerFailed and headFailed).
func (h h2handler) failed(w http.ResponseWriter, r *http.Request, x *h2exchange, b *backend, err error) int {
	status, msg, body := http.StatusBadGateway, "worker request failed", "the app's worker failed to answer\n"
	var he *h1.Error
	switch {
	case isTimeout(err):
		status, msg, body = http.StatusGatewayTimeout, "worker did not answer in time", "the app's worker did not answer in time\n"
	case errors.As(err, &he):
		msg = "worker sent a malformed response"
	}
	h.p.log.Warn(msg, "generation", b.gen, "instance", b.inst, "method", r.Method, "path", string(x.req.Path),
		"client", x.from.client(h.p), "protocol", "HTTP/2", "error", err)
	plainAnswer(w, r, status, body)
	return status
}

// h2writer is the client side of a stream for the engine's body copy
// (stream): a flush of its buffer while the body goes on (the worker is
// slow, or streams) is sent at once; the last one is left to net/http,
// which sends it with the headers and the end of the stream in one write
// when the handler returns (a flush per answer cost a third of the CPU).
type h2writer struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	last bool
}

func (hw *h2writer) Write(b []byte) (int, error) {
	n, err := hw.w.Write(b)
	if err == nil && !hw.last {
		err = hw.rc.Flush()
	}
	return n, err
}

// h2deadlines lets stream arm its write deadline on a stream rather than
// on a connection; stream calls nothing else of it.
type h2deadlines struct {
	net.Conn
	rc *http.ResponseController
}

func (d h2deadlines) SetWriteDeadline(t time.Time) error { return d.rc.SetWriteDeadline(t) }
func (d h2deadlines) SetReadDeadline(t time.Time) error  { return nil }
