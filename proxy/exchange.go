package proxy

import (
	"bufio"
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
	cc.from.https = cc.from.secure(r.Fields)
	if r.Chunked {
		if err := cc.checkChunked(headLen); err != nil {
			cc.clientBodyFailed(err)
			return false
		}
	}
	if cc.redirect != 0 {
		return cc.redirectHTTPS()
	}
	if p.o.SwitchPath != "" && pathIs(r.Path, p.o.SwitchPath) {
		return cc.switchSession()
	}
	now := start
	if p.clock != nil {
		now = p.clock()
	}
	s := &cc.sess
	t, b := p.routeRequest(r.Fields, &cc.from, s, now)
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
	p.done(t, b, status, start)
	return keep
}

// routeRequest is the routing core both engines share: the session the
// request's cookies name, and where it goes (nil: no generation is ready).
func (p *Proxy) routeRequest(fields []h1.Field, from *peer, s *session, now time.Time) (*table, *backend) {
	*s = session{}
	if sid := requestCookie(fields, p.o.SessionCookie); sid != nil {
		s.key, s.has = p.o.Hasher.KeyBytes(sid), true
		s.affinity = requestCookie(fields, p.o.AffinityCookie)
	}
	t := p.table()
	b := p.route(t, s, now, t.canary.gen != nil && from.trusted && canaryAsked(fields))
	s.keep(now, p.o.IdleTimeout)
	return t, b
}

// done counts a forwarded request's answer (status 0: counted already)
// and, for one that went to a generation other than the active one, wakes
// whoever waits for a detached generation's requests to end.
func (p *Proxy) done(t *table, b *backend, status int, start time.Time) {
	if status != 0 {
		p.observe(b.gen, status, start)
	}
	if t.active == nil || t.active.id != b.gen {
		signal(p.requests)
	}
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
func writeRequestHead(w *bufio.Writer, r *h1.Request, from *peer) {
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
			if !from.trusted {
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
	if xff := from.forwardedFor(r.Fields); len(xff) > 0 {
		writeField(w, xForwardedFor, xff)
	}
	if !from.trusted || field(r.Fields, h1.KindXForwardedHost) == nil {
		writeField(w, xForwardedHost, host)
	}
	if !from.trusted || field(r.Fields, h1.KindXForwardedProto) == nil {
		if from.tls {
			w.WriteString("X-Forwarded-Proto: https\r\n")
		} else {
			w.WriteString("X-Forwarded-Proto: http\r\n")
		}
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
