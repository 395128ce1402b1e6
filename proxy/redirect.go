package proxy

import (
	"bytes"
	"net"
	"strconv"
	"time"
)

// redirectHTTPS answers every request of a listener that only sends
// clients to HTTPS (Listener.RedirectHTTPS): a 308 (the method and body
// are kept, unlike a 301's) to the same host, path and query over https.
func (cc *clientConn) redirectHTTPS() bool {
	r := &cc.req
	keep := cc.mayKeep() && !r.HasBody()
	cc.unread = r.HasBody()
	host := r.Host
	if r.Authority != nil {
		host = r.Authority
	}
	name := hostName(host)
	if name == nil {
		cc.answer(400, "", "a redirect to HTTPS needs the Host field\n", !keep)
		return keep
	}
	w := cc.out
	cc.wd.arm(cc.c, true, time.Now(), cc.srv.o.WriteTimeout)
	writeStatusLine(w, 308, nil)
	w.WriteString("Location: https://")
	w.Write(name)
	if cc.redirect != 443 {
		w.WriteByte(':')
		w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(cc.redirect), 10))
	}
	w.Write(r.Path)
	if r.Query != nil {
		w.WriteByte('?')
		w.Write(r.Query)
	}
	w.WriteString("\r\nContent-Length: 0\r\n")
	if !keep {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("\r\n")
	return keep
}

// hostName is the host of a Host field without its port ("[::1]" keeps
// its brackets), or nil when there is none.
func hostName(host []byte) []byte {
	if len(host) == 0 {
		return nil
	}
	if h, _, err := net.SplitHostPort(string(host)); err == nil {
		if bytes.HasPrefix(host, []byte("[")) {
			return []byte("[" + h + "]")
		}
		return []byte(h)
	}
	return host
}
