package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/internal/proxyproto"
	"github.com/gatewayd/gateway/tests/gwtest"
)

// serveSpec runs p on one Listener l built around a loopback socket.
func serveSpec(t *testing.T, p *Proxy, l *Listener) string {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Listener = raw
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, []net.Listener{l}, ServerOptions{ReadHeaderTimeout: 2 * time.Second}) }()
	t.Cleanup(func() { cancel(); <-done })
	return raw.Addr().String()
}

var (
	ppClient = netip.MustParseAddrPort("203.0.113.7:51000")
	ppServer = netip.MustParseAddrPort("192.0.2.1:443")
)

// Behind a proxy sending the PROXY protocol (v1 or v2), the worker learns
// the client's address from the header, not the proxy's, and a forged
// X-Forwarded-For from the client is replaced.
func TestProxyProtocol(t *testing.T) {
	for _, c := range []struct {
		name   string
		header []byte
	}{
		{"v1", proxyproto.AppendV1(nil, ppClient, ppServer)},
		{"v2", proxyproto.AppendV2(nil, ppClient, ppServer)},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
			addr := serveSpec(t, f.proxy, &Listener{Name: "lb", ProxyProtocol: true})
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.Write(append(c.header, "GET / HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n"...))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, int64(resp.ContentLength)))
			if !strings.Contains(string(body), "fwd=203.0.113.7 ") {
				t.Errorf("the worker saw %q, want fwd=203.0.113.7 alone", body)
			}
		})
	}
}

// A listener that expects the header closes a connection without one, and
// one from a peer that is not trusted, before anything reaches a worker.
func TestProxyProtocolRefused(t *testing.T) {
	for _, c := range []struct {
		name, trusted string
		header        []byte
	}{
		{"no header", "127.0.0.1/32", nil},
		{"untrusted peer", "10.0.0.0/8", proxyproto.AppendV2(nil, ppClient, ppServer)},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, _ := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
			p, err := New(Options{Hasher: h, Logger: gwtest.Logger(t), TrustedProxies: []netip.Prefix{netip.MustParsePrefix(c.trusted)}})
			if err != nil {
				t.Fatal(err)
			}
			worker := newTap(t, replying(okReply))
			(&engine{p: p}).use(worker.addr)
			addr := serveSpec(t, p, &Listener{Name: "lb", ProxyProtocol: true})
			w := dial(t, addr)
			w.send(string(c.header) + "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
			w.dropped()
			if n := len(worker.conns()); n != 0 {
				t.Errorf("the worker got %d connections, want none", n)
			}
		})
	}
}

// PROXY protocol, then TLS and HTTP/2: the header's client reaches the
// worker.
func TestProxyProtocolThenTLS(t *testing.T) {
	f := newFixture(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	cert := gwtest.NewCert(t, t.TempDir(), "site", "127.0.0.1")
	addr := serveSpec(t, f.proxy, &Listener{Name: "lb", ProxyProtocol: true,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert.Pair}, NextProtos: []string{"h2", "http/1.1"}}})
	tr := cert.Client(true).Transport.(*http.Transport)
	tr.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			_, err = c.Write(proxyproto.AppendV2(nil, ppClient, ppServer))
		}
		return c, err
	}
	resp, err := (&http.Client{Transport: tr}).Get("https://127.0.0.1/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || !strings.Contains(string(body), "fwd=203.0.113.7 ") || !strings.Contains(string(body), "proto=https") {
		t.Errorf("%s: the worker saw %q, want fwd=203.0.113.7 over https", resp.Proto, body)
	}
}
