package proxy

import (
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// requestCookie finds the value of the named cookie in the request's Cookie
// headers without allocating (http.Request.Cookie parses every cookie). It
// returns the first occurrence, as browsers send the most specific first.
func requestCookie(h http.Header, name string) string {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return ""
}

// responseCookie returns the last Set-Cookie for name in a response (the one
// a browser would keep), or nil.
func responseCookie(h http.Header, name string) *http.Cookie {
	lines := h["Set-Cookie"]
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.HasPrefix(lines[i], name+"=") {
			continue
		}
		if c, err := http.ParseSetCookie(lines[i]); err == nil && c.Name == name {
			return c
		}
	}
	return nil
}

// removeSetCookie drops every Set-Cookie for name, so that the gateway's own
// decision (e.g. expiring the cookie on a logout path) is the only one.
func removeSetCookie(h http.Header, name string) {
	lines := h["Set-Cookie"]
	kept := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(l, name+"=") {
			kept = append(kept, l)
		}
	}
	if len(kept) == 0 {
		h.Del("Set-Cookie")
		return
	}
	h["Set-Cookie"] = kept
}

// deletes reports whether a Set-Cookie tells the browser to drop the cookie:
// Max-Age ≤ 0, Expires in the past, or an empty value.
func deletes(c *http.Cookie, now time.Time) bool {
	return c.MaxAge < 0 || c.Value == "" || (!c.Expires.IsZero() && !c.Expires.After(now))
}
