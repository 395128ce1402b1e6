package proxy

import (
	"net/http"
	"time"
)

// track watches a worker's response for the start, move and end of its
// session, and adjusts pins and cookies. The fast path (no Set-Cookie, no end
// header, not a logout path) does no work beyond two header lookups.
func (p *Proxy) track(b *backend, resp *http.Response) {
	h := resp.Header
	req := resp.Request
	ended := h.Get(p.o.EndHeader) != ""
	if ended {
		h.Del(p.o.EndHeader)
	}
	logout := p.logout[req.URL.Path]
	var set *http.Cookie
	if len(h["Set-Cookie"]) > 0 {
		set = responseCookie(h, p.o.SessionCookie)
	}
	now := p.o.Now()
	if !ended && !logout && set == nil {
		p.refreshAffinity(b, req.Header, h, now)
		return
	}
	secure := req.Header.Get("X-Forwarded-Proto") == "https"
	old, hasOld := SessionKey{}, false
	if sid := requestCookie(req.Header, p.o.SessionCookie); sid != "" {
		old, hasOld = p.o.Hasher.Key(sid), true
	}
	switch {
	case logout:
		p.endPin(old, hasOld, "logout path")
		removeSetCookie(h, p.o.SessionCookie)
		h.Add("Set-Cookie", expired(p.o.SessionCookie, secure))
		h.Add("Set-Cookie", expired(p.o.AffinityCookie, secure))
	case set != nil && !deletes(set, now):
		if ended {
			p.endPin(old, hasOld, "end header")
		}
		p.startPin(b, old, hasOld && !ended, p.o.Hasher.Key(set.Value), secure, h, now)
	default: // the cookie was deleted, or the end header came without one
		reason := "cookie deleted"
		if ended {
			reason = "end header"
		}
		p.endPin(old, hasOld, reason)
		h.Add("Set-Cookie", expired(p.o.AffinityCookie, secure))
	}
}

// startPin pins key to the instance that set it. When the request carried
// another pinned session, this is a rotation (a new id for the same state)
// and the old pin goes.
func (p *Proxy) startPin(b *backend, old SessionKey, rotate bool, key SessionKey, secure bool, h http.Header, now time.Time) {
	if rotate && old != key {
		if _, ok := p.pins.remove(old); ok {
			p.log.Info("session id rotated", "session", key, "previous", old, "generation", b.gen, "instance", b.inst)
		}
	}
	if p.pins.set(key, b.gen, b.inst, now) {
		p.log.Debug("session pinned", "session", key, "generation", b.gen, "instance", b.inst)
		p.o.Notify()
	}
	p.setAffinity(b, key, secure, h, now)
}

func (p *Proxy) setAffinity(b *backend, key SessionKey, secure bool, h http.Header, now time.Time) {
	v := p.o.Hasher.SignAffinity(Affinity{Generation: b.gen, Instance: b.inst, Issued: now}, key)
	c := http.Cookie{Name: p.o.AffinityCookie, Value: v, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure}
	h.Add("Set-Cookie", c.String())
}

// refreshAffinity reissues the affinity cookie of a pinned session once it is
// a quarter of the idle timeout old (or missing), so that it stays fresh
// exactly as long as the session is in use. A fresh cookie costs one decode.
func (p *Proxy) refreshAffinity(b *backend, reqHeader, h http.Header, now time.Time) {
	if v := requestCookie(reqHeader, p.o.AffinityCookie); v != "" {
		if issued, ok := affinityIssued(v); ok && now.Sub(issued) < p.o.IdleTimeout/4 {
			return
		}
	}
	sid := requestCookie(reqHeader, p.o.SessionCookie)
	if sid == "" {
		return
	}
	key := p.o.Hasher.Key(sid)
	if pn := p.pins.get(key); pn != nil && pn.gen == b.gen && pn.inst == b.inst {
		p.setAffinity(b, key, reqHeader.Get("X-Forwarded-Proto") == "https", h, now)
	}
}

func (p *Proxy) endPin(key SessionKey, has bool, reason string) {
	if !has {
		return
	}
	if pn, ok := p.pins.remove(key); ok {
		p.log.Debug("session ended", "session", key, "generation", pn.gen, "reason", reason)
		p.o.Notify()
	}
}

func expired(name string, secure bool) string {
	c := http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure}
	return c.String()
}
