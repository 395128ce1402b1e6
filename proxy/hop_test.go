package proxy

import (
	"bufio"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// received parses the one request a tap's first connection received.
func received(t *testing.T, tp *tap) *http.Request {
	t.Helper()
	raw := tp.conns()[0].received()
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("the worker received %q: %v", raw, err)
	}
	return req
}

// The worker learns who the client is from the gateway only: whatever
// X-Forwarded-* the client sent is replaced, and the fields that concern
// the client's connection stay on it.
func TestRequestFieldsAsTheWorkerGetsThem(t *testing.T) {
	const common = "X-Forwarded-For: 6.6.6.6\r\nx-forwarded-for: 7.7.7.7\r\nX-Forwarded-Host: evil.example\r\n" +
		"X-Forwarded-Proto: https\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n" +
		"Proxy-Authorization: Basic Zm9vOmJhcg==\r\nUpgrade: h2c\r\nX-Keep: yes\r\n"
	cases := []struct {
		name, req string
		host, uri string
		want      map[string][]string // nil: the field is absent
	}{
		{"origin form",
			"GET /h?q=1 HTTP/1.1\r\nHost: front.example\r\nConnection: X-Secret, keep-alive\r\nX-Secret: s\r\nTE: trailers, deflate\r\n" + common + "\r\n",
			"front.example", "/h?q=1",
			map[string][]string{"X-Forwarded-For": {"127.0.0.1"}, "X-Forwarded-Host": {"front.example"},
				"X-Forwarded-Proto": {"http"}, "X-Keep": {"yes"}, "Te": {"trailers"}, "X-Secret": nil,
				"Connection": nil, "Keep-Alive": nil, "Proxy-Connection": nil, "Proxy-Authorization": nil, "Upgrade": nil}},
		{"absolute form",
			"GET http://other.example/p?q=1 HTTP/1.1\r\nHost: front.example\r\nConnection: close, X-Secret\r\nX-Secret: s\r\nTE: deflate\r\n" + common + "\r\n",
			"other.example", "/p?q=1",
			map[string][]string{"X-Forwarded-For": {"127.0.0.1"}, "X-Forwarded-Host": {"other.example"},
				"X-Forwarded-Proto": {"http"}, "X-Keep": {"yes"}, "Te": nil, "X-Secret": nil, "Connection": nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, ServerOptions{})
			tp := newTap(t, replying(okReply))
			e.use(tp.addr)
			w := dial(t, e.addr)
			w.send(c.req)
			if resp, _ := w.answer("GET"); resp.StatusCode != 200 {
				t.Fatalf("status: got %d, want 200", resp.StatusCode)
			}
			req := received(t, tp)
			if req.Host != c.host || req.RequestURI != c.uri {
				t.Errorf("worker got Host %q target %q, want %q %q", req.Host, req.RequestURI, c.host, c.uri)
			}
			for name, want := range c.want {
				if got := req.Header[name]; !slices.Equal(got, want) {
					t.Errorf("worker's %s: got %q, want %q", name, got, want)
				}
			}
		})
	}
}

// The client learns nothing of the gateway's connection to the worker, nor
// of the end header by which the app ends its session.
func TestResponseFieldsAsTheClientGetsThem(t *testing.T) {
	e := newEngine(t, ServerOptions{})
	tp := newTap(t, replying(func(*http.Request, string) string {
		return "HTTP/1.1 200 OK\r\nConnection: X-Private\r\nX-Private: p\r\nKeep-Alive: timeout=5\r\n" +
			"Proxy-Connection: keep-alive\r\nUpgrade: foo\r\nX-Gateway-End-Session: 1\r\nx-gateway-end-session: 1\r\n" +
			"X-Ok: 1\r\nContent-Length: 2\r\n\r\nok"
	}))
	e.use(tp.addr)
	w := dial(t, e.addr)
	w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	head := strings.ToLower(w.rawHead())
	for _, name := range []string{"x-private", "keep-alive", "proxy-connection", "upgrade", "x-gateway-end-session", "connection"} {
		if strings.Contains(head, "\r\n"+name+":") {
			t.Errorf("head %q: want no %s", head, name)
		}
	}
	for _, line := range []string{"\r\nx-ok: 1\r\n", "\r\ncontent-length: 2\r\n"} {
		if !strings.Contains(head, line) {
			t.Errorf("head %q: want %q", head, line)
		}
	}
}

// A chunked request's Trailer field announces the trailer fields; it is
// not hop-by-hop (RFC 9110 §6.6.2), and the gateway relays the trailer
// itself, as it does the Trailer field of a chunked response.
func TestRequestTrailerFieldReachesWorker(t *testing.T) {
	e := newEngine(t, ServerOptions{})
	tp := newTap(t, replying(okReply))
	e.use(tp.addr)
	w := dial(t, e.addr)
	w.send("POST / HTTP/1.1\r\nHost: x\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n")
	if resp, _ := w.answer("POST"); resp.StatusCode != 200 {
		t.Fatalf("status: got %d, want 200", resp.StatusCode)
	}
	raw := tp.conns()[0].received()
	if !strings.Contains(raw, "\r\nTrailer: X-T\r\n") {
		t.Fatalf("the worker received %q, want its Trailer field", raw)
	}
}

// A client's Forwarded field (RFC 7239) would let it pose as any address
// to an app that reads it: it is dropped with the X-Forwarded-* ones, as
// httputil.ReverseProxy with Rewrite (the gateway's former request path)
// dropped it.
func TestClientForwardedFieldIsDropped(t *testing.T) {
	e := newEngine(t, ServerOptions{})
	tp := newTap(t, replying(okReply))
	e.use(tp.addr)
	w := dial(t, e.addr)
	w.send("GET / HTTP/1.1\r\nHost: x\r\nForwarded: for=6.6.6.6;proto=https\r\n\r\n")
	if resp, _ := w.answer("GET"); resp.StatusCode != 200 {
		t.Fatalf("status: got %d, want 200", resp.StatusCode)
	}
	if got := received(t, tp).Header["Forwarded"]; got != nil {
		t.Fatalf("worker's Forwarded: got %q, want none", got)
	}
}
