package proxy

import (
	"time"

	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// exchange answers the request whose head (headLen bytes) is at the start
// of the read buffer, and reports whether the connection may serve another.
func (cc *clientConn) exchange(headLen int) bool {
	p, r := cc.p, &cc.req
	start := time.Now()
	cc.pending = headLen
	defer cc.consumeHead()
	cc.method = append(cc.method[:0], r.Method...)
	cc.path = append(cc.path[:0], r.Path...)
	cc.https = cc.secure()
	if r.Chunked {
		if err := cc.checkChunked(headLen); err != nil {
			cc.clientBodyFailed(err)
			return false
		}
	}
	if p.o.SwitchPath != "" && pathIs(r.Path, p.o.SwitchPath) {
		return cc.switchSession()
	}
	now := start
	if p.clock != nil {
		now = p.clock()
	}
	s := &cc.sess
	*s = session{}
	if sid := requestCookie(r.Fields, p.o.SessionCookie); sid != nil {
		s.key, s.has = p.o.Hasher.KeyBytes(sid), true
		s.affinity = requestCookie(r.Fields, p.o.AffinityCookie)
	}
	t := p.table()
	b := p.route(t, s, now)
	s.keep(now, p.o.IdleTimeout)
	if b == nil {
		keep := cc.mayKeep() && !r.HasBody()
		cc.answer(503, "Retry-After: 2\r\n", "no generation of the app is ready yet\n", !keep)
		p.observe(0, 503, start)
		return keep
	}
	logout := p.isLogout(r.Method, r.Path)
	n := &b.stats.inFlight
	if r.Upgrade {
		n = &b.stats.upgraded
	}
	n.Add(1)
	status, keep := cc.forward(b, s, logout, start, now)
	n.Add(-1)
	if status != 0 {
		p.observe(b.gen, status, start)
	}
	if t.active == nil || t.active.id != b.gen {
		signal(p.requests)
	}
	return keep
}

// keep reduces what the response needs of the affinity cookie to its age
// (the value is a slice of a buffer the request body may overwrite).
func (s *session) keep(now time.Time, idle time.Duration) {
	if len(s.affinity) > 0 {
		issued, ok := affinityIssued(s.affinity)
		s.fresh = ok && now.Sub(issued) < idle/4
	}
	s.affinity = nil
}

func (p *Proxy) observe(gen, status int, start time.Time) {
	if p.o.Observer != nil {
		p.o.Observer.Request(gen, status, time.Since(start))
	}
}

// writeRequestHead writes the request head as the worker gets it: the
// origin-form target, the client's fields less the hop-by-hop ones and any
// X-Forwarded-* it sent, the gateway's X-Forwarded-For, -Host and -Proto,
// and the framing the gateway chose.
func (cc *clientConn) writeRequestHead(wc *workerConn) {
	r, w := &cc.req, wc.out
	w.Write(r.Method)
	w.WriteByte(' ')
	w.Write(r.Path)
	if r.Query != nil {
		w.WriteByte('?')
		w.Write(r.Query)
	}
	w.WriteString(" HTTP/1.1\r\nHost: ")
	host := r.Host
	if r.Authority != nil {
		host = r.Authority
	}
	w.Write(host)
	w.WriteString("\r\n")
	trailers := false
	for i := range r.Fields {
		f := &r.Fields[i]
		switch f.Kind {
		case h1.KindHost, h1.KindXForwardedFor:
			continue // the gateway writes them
		case h1.KindXForwardedHost, h1.KindXForwardedProto, h1.KindForwarded:
			if !cc.trusted {
				continue // the gateway says where the request came from
			}
		case h1.KindTrailer:
			if r.Chunked {
				writeField(w, f.Name, f.Value) // announces the trailer, which is relayed
			}
			continue
		case h1.KindTE:
			trailers = trailers || h1.HasToken(f.Value, "trailers")
			continue
		}
		if f.Kind.Hop() || r.ConnTokens && h1.Nominated(r.Fields, f.Name) {
			continue
		}
		writeField(w, f.Name, f.Value)
	}
	if xff := cc.forwardedFor(); len(xff) > 0 {
		writeField(w, xForwardedFor, xff)
	}
	if !cc.trusted || cc.field(h1.KindXForwardedHost) == nil {
		writeField(w, xForwardedHost, host)
	}
	if !cc.trusted || cc.field(h1.KindXForwardedProto) == nil {
		w.WriteString("X-Forwarded-Proto: http\r\n")
	}
	if trailers {
		w.WriteString("Te: trailers\r\n")
	}
	if r.Upgrade {
		w.WriteString("Connection: Upgrade\r\n")
		for i := range r.Fields {
			if r.Fields[i].Kind == h1.KindUpgrade {
				writeField(w, upgradeName, r.Fields[i].Value)
			}
		}
	}
	switch {
	case r.Chunked:
		w.WriteString("Transfer-Encoding: chunked\r\n")
	case r.ContentLength >= 0:
		writeLength(w, r.ContentLength)
	}
	w.WriteString("\r\n")
}

var (
	xForwardedFor  = []byte("X-Forwarded-For")
	xForwardedHost = []byte("X-Forwarded-Host")
	upgradeName    = []byte("Upgrade")
)
