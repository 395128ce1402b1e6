package proxy

import (
	"net/url"
	"strings"
	"time"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// switchSession answers a request to Options.SwitchPath: the user opts in
// to the active generation. The session's pin ends, its key is buried so
// that its affinity cookie cannot pin it again, the affinity cookie is
// expired, and the answer is a 303 to the "return" query parameter (a path
// on this site) or to "/".
//
// The app's session cookie is left alone: the session lives on in the old
// generation until it expires there (or that generation retires), and the
// next request carrying the cookie goes to the active generation, whose app
// does not know the id and treats it as no session. A session already on
// the active generation, or one that is pinned nowhere, stays as it is: to
// drop its pin would only risk sending it to another instance.
func (cc *clientConn) switchSession() bool {
	r, p := &cc.req, cc.p
	keep := cc.mayKeep() && !r.HasBody()
	if string(r.Method) != "GET" && string(r.Method) != "POST" {
		cc.answer(405, "Allow: GET, POST\r\n", "method not allowed\n", !keep)
		return keep
	}
	w := cc.out
	cc.wd.arm(cc.c, true, time.Now(), cc.srv.o.WriteTimeout)
	writeStatusLine(w, 303, nil)
	if p.unpin(r.Fields) {
		cc.v.reset()
		cc.v.setCookie(expired(p.o.AffinityCookie, cc.from.https))
		w.Write(cc.v.add)
	}
	w.WriteString("Cache-Control: no-store\r\nLocation: ")
	w.WriteString(returnPath(queryValue(r.Query, "return")))
	w.WriteString("\r\nContent-Length: 0\r\n")
	if !keep {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("\r\n")
	return keep
}

// queryValue is url.Values.Get on a raw query.
func queryValue(query []byte, key string) string {
	v, err := url.ParseQuery(string(query))
	if err != nil {
		return ""
	}
	return v.Get(key)
}

// unpin ends the pin of r's session if it is on a generation other than the
// active one, and reports whether it did. A session without a pin whose
// affinity cookie names another generation (a restarted gateway that lost
// its pins) is moved as well: its key is buried all the same.
func (p *Proxy) unpin(fields []h1.Field) bool {
	t := p.table()
	sid := requestCookie(fields, p.o.SessionCookie)
	if sid == nil || t.active == nil {
		return false
	}
	key := p.o.Hasher.KeyBytes(sid)
	from := 0
	if gen, _, ok := p.pins.peek(key); ok {
		from = gen
	} else if v := requestCookie(fields, p.o.AffinityCookie); v != nil {
		if a, ok := p.o.Hasher.VerifyAffinity(v, key); ok {
			from = a.Generation
		}
	}
	if from == 0 || from == t.active.id {
		p.log.Debug("switch path: the session is not on another generation", "session", key, "generation", t.active.id)
		return false
	}
	p.pins.remove(key)
	p.drop([]fleet.SessionKey{key})
	p.switched.Add(1)
	p.log.Info("session switched to the active generation", "session", key, "from_generation", from, "generation", t.active.id)
	return true
}

// returnPath is where the switch path redirects: ret if it is an absolute
// path on this site, else "/". It refuses what a browser could read as
// another site ("//host", "/\host", control characters a browser strips,
// such as "/\t/host"), and percent-encodes spaces and non-ASCII bytes so
// that the Location header is a valid URL.
func returnPath(ret string) string {
	if len(ret) == 0 || ret[0] != '/' || len(ret) > 1 && (ret[1] == '/' || ret[1] == '\\') {
		return "/"
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(ret); i++ {
		switch c := ret[i]; {
		case c < 0x20 || c == 0x7f || c == '\\':
			return "/"
		case c == ' ' || c >= 0x80:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
