package proxy

import (
	"net/url"
	"strings"
)

// Logout paths and the switch path are matched on the path as the app will
// route it, not as the client spelled it: otherwise "/app//logout.jsp" or
// "/app/logout.jsp;jsessionid=…" logs the user out in the app but not in the
// gateway (docs/design.md "Routing and sessions" lists the rules).

// appPath is path as an app behind the gateway routes it: each segment
// percent-decoded and stripped of its parameters (";jsessionid=…"), empty
// segments (repeated slashes) dropped, dot-segments resolved (RFC 3986
// 5.2.4, "%2e%2e" included), a trailing slash kept. A path none of that
// changes is returned as is.
func appPath(path []byte) string {
	if !needsAppPath(path) {
		return string(path)
	}
	trailing := path[len(path)-1] == '/'
	var segs []string
	for _, seg := range strings.Split(string(path), "/") {
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			seg = seg[:i]
		}
		if strings.IndexByte(seg, '%') >= 0 {
			if d, err := url.PathUnescape(seg); err == nil {
				seg = d
			}
		}
		switch seg {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, seg)
		}
	}
	out := "/" + strings.Join(segs, "/")
	if trailing && len(segs) > 0 {
		out += "/"
	}
	return out
}

// needsAppPath reports whether path holds anything appPath would change:
// '%', ';', "//", or a "." segment.
func needsAppPath(path []byte) bool {
	for i, c := range path {
		switch c {
		case '%', ';':
			return true
		case '/':
			if i+1 < len(path) && (path[i+1] == '/' || path[i+1] == '.' && (i+2 == len(path) || path[i+2] == '/' || path[i+2] == '.')) {
				return true
			}
		}
	}
	return false
}

// LogoutPath is a path whose answer (below 400) ends the requesting
// session's pin. Methods limits it to those methods; if empty, any method
// but HEAD and OPTIONS counts (a HEAD is a probe, an OPTIONS a CORS
// preflight: neither logs anyone out).
type LogoutPath struct {
	Path    string // as the app sees it (see appPath)
	Methods []string
}

func (l LogoutPath) allows(method []byte) bool {
	if len(l.Methods) == 0 {
		m := string(method)
		return m != "HEAD" && m != "OPTIONS"
	}
	for _, m := range l.Methods {
		if m == string(method) {
			return true
		}
	}
	return false
}

// isLogout reports whether a request ends its session if the app answers
// it below 400.
func (p *Proxy) isLogout(method, path []byte) bool {
	if len(p.logout) == 0 {
		return false
	}
	l, ok := p.logout[string(path)]
	if !ok && needsAppPath(path) {
		l, ok = p.logout[appPath(path)]
	}
	return ok && l.allows(method)
}

// pathIs reports whether path is want as the app sees it.
func pathIs(path []byte, want string) bool {
	return string(path) == want || needsAppPath(path) && appPath(path) == want
}
