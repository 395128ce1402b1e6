package proxy

import (
	"bytes"
	"net/http"
	"time"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// verdict is what track decided about a response: whether the app's own
// Set-Cookie for the session cookie is dropped (a logout path expires it
// instead), and the Set-Cookie lines the gateway adds.
type verdict struct {
	dropSession bool
	add         []byte // complete "Set-Cookie: …\r\n" lines
}

func (v *verdict) reset() { v.dropSession, v.add = false, v.add[:0] }

func (v *verdict) setCookie(c *http.Cookie) {
	v.add = append(v.add, "Set-Cookie: "...)
	v.add = append(v.add, c.String()...)
	v.add = append(v.add, "\r\n"...)
}

// track watches a worker's response for the start, move and end of its
// session, and adjusts pins and cookies. The fast path (no Set-Cookie of
// the session cookie, no end header, not a logout path) costs a scan of the
// response's fields and, for a pinned session, one decode of its affinity
// cookie.
//
// path is the request's, for the default path of a cookie set without one.
func (p *Proxy) track(b *backend, s *session, logout, secure bool, path []byte, fields []h1.Field, now time.Time, v *verdict) {
	ended, setsSession := false, false
	for i := range fields {
		f := &fields[i]
		switch f.Kind {
		case h1.KindSetCookie:
			setsSession = setsSession || isCookieLine(f.Value, p.o.SessionCookie)
		case h1.KindOther:
			ended = ended || len(f.Value) > 0 && p.isEndHeader(f.Name)
		}
	}
	var set *http.Cookie
	if setsSession {
		set = responseCookie(fields, p.o.SessionCookie)
		if set != nil && !deletes(set, now) {
			p.learnScope(set, path)
		}
	}
	if !ended && !logout && set == nil {
		p.refreshAffinity(b, s, secure, now, v)
		return
	}
	switch {
	case logout:
		p.endPin(s, "logout path")
		v.dropSession = true
		v.setCookie(p.expiredSession(secure))
		v.setCookie(expired(p.o.AffinityCookie, secure))
	case set != nil && !deletes(set, now):
		if ended {
			p.endPin(s, "end header")
		}
		p.startPin(b, s, s.has && !ended, p.o.Hasher.Key(set.Value), secure, now, v)
	default: // the cookie was deleted, or the end header came without one
		reason := "cookie deleted"
		if ended {
			reason = "end header"
		}
		p.endPin(s, reason)
		v.setCookie(expired(p.o.AffinityCookie, secure))
	}
}

func (p *Proxy) isEndHeader(name []byte) bool {
	h := p.o.EndHeader
	if len(name) != len(h) {
		return false
	}
	for i := 0; i < len(h); i++ {
		if name[i]|0x20 != h[i]|0x20 {
			return false
		}
	}
	return true
}

// startPin pins key to the instance that set it. When the request carried
// another pinned session, this is a rotation (a new id for the same state)
// and the old pin goes.
func (p *Proxy) startPin(b *backend, s *session, rotate bool, key fleet.SessionKey, secure bool, now time.Time, v *verdict) {
	if rotate && s.key != key {
		if _, ok := p.pins.remove(s.key); ok {
			p.log.Info("session id rotated", "session", key, "previous", s.key, "generation", b.gen, "instance", b.inst)
		}
	}
	if p.pins.set(key, b.gen, b.inst, now) {
		p.log.Debug("session pinned", "session", key, "generation", b.gen, "instance", b.inst)
		p.pinsChanged()
	}
	p.setAffinity(b, key, secure, now, v)
}

func (p *Proxy) setAffinity(b *backend, key fleet.SessionKey, secure bool, now time.Time, v *verdict) {
	val := p.o.Hasher.SignAffinity(Affinity{Generation: b.gen, Instance: b.inst, Issued: now}, key)
	v.setCookie(&http.Cookie{Name: p.o.AffinityCookie, Value: val, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure})
}

// refreshAffinity reissues the affinity cookie of a pinned session once it is
// a quarter of the idle timeout old (or missing), so that it stays fresh
// exactly as long as the session is in use. A fresh cookie costs one decode.
func (p *Proxy) refreshAffinity(b *backend, s *session, secure bool, now time.Time, v *verdict) {
	if !s.has {
		return
	}
	if s.fresh {
		return
	}
	if gen, inst, ok := p.pins.peek(s.key); ok && gen == b.gen && inst == b.inst {
		p.setAffinity(b, s.key, secure, now, v)
	}
}

func (p *Proxy) endPin(s *session, reason string) {
	if !s.has {
		return
	}
	if gen, ok := p.pins.remove(s.key); ok {
		p.log.Debug("session ended", "session", s.key, "generation", gen, "reason", reason)
		p.pinsChanged()
	}
}

func expired(name string, secure bool) *http.Cookie {
	return &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure}
}

// cookieScope is where the app's session cookie lives, its Path and Domain,
// learned from the app's own Set-Cookie: a cookie is only removed by an
// expiry with the same path and domain, so a logout path must expire it
// there (a servlet container's is Path=/app, for example).
type cookieScope struct{ path, domain string }

// learnScope records the scope of a session cookie the app set; only a
// change allocates.
func (p *Proxy) learnScope(c *http.Cookie, reqPath []byte) {
	sc := cookieScope{path: c.Path, domain: c.Domain}
	if sc.path == "" || sc.path[0] != '/' {
		sc.path = defaultCookiePath(reqPath)
	}
	if cur := p.scope.Load(); cur != nil && *cur == sc {
		return
	}
	p.scope.Store(&sc)
}

// defaultCookiePath is a cookie's path when Set-Cookie gives none
// (RFC 6265 5.1.4): the request path up to its last slash.
func defaultCookiePath(reqPath []byte) string {
	i := bytes.LastIndexByte(reqPath, '/')
	if i <= 0 {
		return "/"
	}
	return string(reqPath[:i])
}

// expiredSession removes the app's session cookie where the app set it
// (Path=/ until the gateway has seen it set).
func (p *Proxy) expiredSession(secure bool) *http.Cookie {
	c := expired(p.o.SessionCookie, secure)
	if sc := p.scope.Load(); sc != nil {
		c.Path, c.Domain = sc.path, sc.domain
	}
	return c
}
