package proxy

import (
	"bufio"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// h2handler answers the requests of HTTP/2 clients. It reads net/http's
// request into the HTTP/1.1 engine's form (an h1.Request and its fields),
// so that routing (routeRequest), the session's cookies (track), the
// request head the worker gets (writeRequestHead) and the fields the
// client gets (passes) are the same code for both protocols.
type h2handler struct {
	p *Proxy
	s *server
}

// h2exchange is one request's state, reused through a pool.
type h2exchange struct {
	req   h1.Request
	from  peer
	sess  session
	v     verdict
	chunk h1.Chunked
	out   *bufio.Writer // to the client, through hw
	hw    h2writer
}

var h2Pool = sync.Pool{New: func() any { return &h2exchange{out: bufio.NewWriterSize(nil, workerBuffer)} }}

func (h h2handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, start := h.p, time.Now()
	x := h2Pool.Get().(*h2exchange)
	defer h2Pool.Put(x)
	if msg := x.load(p, r); msg != "" {
		p.refused.Add(1)
		plainAnswer(w, r, http.StatusBadRequest, msg+"\n")
		return
	}
	if p.o.SwitchPath != "" && pathIs(x.req.Path, p.o.SwitchPath) {
		h.switchSession(w, r, x)
		return
	}
	now := start
	if p.clock != nil {
		now = p.clock()
	}
	t, b := p.routeRequest(x.req.Fields, &x.from, &x.sess, now)
	if b == nil {
		w.Header().Set("Retry-After", "2")
		plainAnswer(w, r, http.StatusServiceUnavailable, "no generation of the app is ready yet\n")
		p.observe(0, 503, start)
		return
	}
	logout := p.isLogout(x.req.Method, x.req.Path)
	b.stats.inFlight.Add(1)
	status, abort := h.forward(w, r, x, b, logout, start, now)
	b.stats.inFlight.Add(-1)
	p.done(t, b, status, start)
	if abort {
		// A body cut off half-way must reach the client as a reset
		// stream, not as a complete answer.
		panic(http.ErrAbortHandler)
	}
}

// load reads r into x.req and x.from, or says why the request cannot be
// forwarded. The fields view r's strings without copying them.
func (x *h2exchange) load(p *Proxy, r *http.Request) string {
	q := &x.req
	*q = h1.Request{Fields: q.Fields[:0], Minor: 1, ContentLength: -1}
	if r.Method == http.MethodConnect {
		return "CONNECT is not supported"
	}
	q.Method = stringBytes(r.Method)
	path, query, hasQuery := strings.Cut(r.RequestURI, "?")
	if !validTarget(path) || path[0] != '/' && path != "*" || !validTarget(query) {
		return "malformed :path"
	}
	q.Target, q.Path = stringBytes(r.RequestURI), stringBytes(path)
	if hasQuery {
		q.Query = stringBytes(query)
	}
	if !validTarget(r.Host) {
		return "malformed :authority"
	}
	q.Host = stringBytes(r.Host)
	for name, values := range r.Header {
		k := h1.KindOf(stringBytes(name))
		if k == h1.KindExpect {
			continue // net/http's server answers 100-continue itself
		}
		for _, v := range values {
			q.Fields = append(q.Fields, h1.Field{Name: stringBytes(name), Value: stringBytes(v), Kind: k})
		}
	}
	switch {
	case r.ContentLength > 0:
		q.ContentLength = r.ContentLength
	case r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody:
		q.Chunked = true
	}
	x.from.set(p, remoteAddr(r.RemoteAddr), true)
	x.from.https = true
	return ""
}

// validTarget: only visible ASCII, which is what a request line may carry.
// HTTP/2 fields may hold other bytes; the worker's HTTP/1.1 must not get
// them.
func validTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// remoteAddr parses the address net/http reports back into the connection's
// (a PROXY header's source when there was one: see Listener).
func remoteAddr(s string) net.Addr {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}

// plainAnswer is the gateway's own short answer, as conn.go's answer.
func plainAnswer(w http.ResponseWriter, r *http.Request, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write([]byte(body))
	}
}

// switchSession is conn.go's switchSession for HTTP/2.
func (h h2handler) switchSession(w http.ResponseWriter, r *http.Request, x *h2exchange) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		plainAnswer(w, r, http.StatusMethodNotAllowed, "method not allowed\n")
		return
	}
	hd := w.Header()
	if h.p.unpin(x.req.Fields) {
		hd.Add("Set-Cookie", expired(h.p.o.AffinityCookie, true).String())
	}
	hd.Set("Cache-Control", "no-store")
	hd.Set("Location", returnPath(queryValue(x.req.Query, "return")))
	w.WriteHeader(http.StatusSeeOther)
}
