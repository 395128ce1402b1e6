package proxy

import (
	"bytes"
	"net/http"
	"time"

	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// requestCookie finds the value of the named cookie in a request's Cookie
// fields without allocating (net/http parses every cookie into a string).
// It returns the first occurrence, as browsers send the most specific
// first; nil if there is none.
func requestCookie(fields []h1.Field, name string) []byte {
	for i := range fields {
		if fields[i].Kind != h1.KindCookie {
			continue
		}
		line := fields[i].Value
		for len(line) > 0 {
			var part []byte
			if j := bytes.IndexByte(line, ';'); j >= 0 {
				part, line = line[:j], line[j+1:]
			} else {
				part, line = line, nil
			}
			part = bytes.TrimLeft(part, " \t")
			if len(part) <= len(name) || part[len(name)] != '=' || string(part[:len(name)]) != name {
				continue
			}
			v := bytes.TrimRight(part[len(name)+1:], " \t")
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if len(v) == 0 {
				return nil
			}
			return v
		}
	}
	return nil
}

// responseCookie returns the last Set-Cookie for name in a response (the one
// a browser would keep), or nil.
func responseCookie(fields []h1.Field, name string) *http.Cookie {
	for i := len(fields) - 1; i >= 0; i-- {
		f := &fields[i]
		if f.Kind != h1.KindSetCookie || !isCookieLine(f.Value, name) {
			continue
		}
		if c, err := http.ParseSetCookie(string(f.Value)); err == nil && c.Name == name {
			return c
		}
	}
	return nil
}

// isCookieLine reports whether a Set-Cookie value sets name.
func isCookieLine(v []byte, name string) bool {
	return len(v) > len(name) && v[len(name)] == '=' && string(v[:len(name)]) == name
}

// deletes reports whether a Set-Cookie tells the browser to drop the cookie:
// Max-Age ≤ 0, Expires in the past, or an empty value.
func deletes(c *http.Cookie, now time.Time) bool {
	return c.MaxAge < 0 || c.Value == "" || (!c.Expires.IsZero() && !c.Expires.After(now))
}
