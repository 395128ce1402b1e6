package proxy

import (
	"net/http"
	"time"

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
func (p *Proxy) track(b *backend, s *session, logout, secure bool, fields []h1.Field, now time.Time, v *verdict) {
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
	}
	if !ended && !logout && set == nil {
		p.refreshAffinity(b, s, secure, now, v)
		return
	}
	switch {
	case logout:
		p.endPin(s, "logout path")
		v.dropSession = true
		v.setCookie(expired(p.o.SessionCookie, secure))
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
func (p *Proxy) startPin(b *backend, s *session, rotate bool, key SessionKey, secure bool, now time.Time, v *verdict) {
	if rotate && s.key != key {
		if _, ok := p.pins.remove(s.key); ok {
			p.log.Info("session id rotated", "session", key, "previous", s.key, "generation", b.gen, "instance", b.inst)
		}
	}
	if p.pins.set(key, b.gen, b.inst, now) {
		p.log.Debug("session pinned", "session", key, "generation", b.gen, "instance", b.inst)
		p.o.Notify()
	}
	p.setAffinity(b, key, secure, now, v)
}

func (p *Proxy) setAffinity(b *backend, key SessionKey, secure bool, now time.Time, v *verdict) {
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
		p.o.Notify()
	}
}

func expired(name string, secure bool) *http.Cookie {
	return &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure}
}
