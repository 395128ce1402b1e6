package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A worker that fails before a usable answer: the client gets 502, and
// its connection stays usable (a GET has no body to lose track of).
func TestWorkerFailuresAre502(t *testing.T) {
	answering := func(reply string) func(*tapConn) {
		return func(tc *tapConn) {
			if _, err := http.ReadRequest(tc.br); err == nil {
				io.WriteString(tc, reply)
				io.Copy(io.Discard, tc.br) // until the gateway hangs up
			}
		}
	}
	cases := []struct {
		name  string
		serve func(*tapConn)
	}{
		{"hangs up at once", func(*tapConn) {}},
		{"hangs up after the request", func(tc *tapConn) { http.ReadRequest(tc.br) }},
		{"hangs up in the head", func(tc *tapConn) {
			if _, err := http.ReadRequest(tc.br); err == nil {
				io.WriteString(tc, "HTTP/1.1 200 OK\r\nContent-Le")
			}
		}},

		{"malformed status line", answering("HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n")},
		{"not HTTP", answering("SSH-2.0-OpenSSH_9.2\r\n\r\n")},
		{"TE and CL", answering("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\nhello")},
		{"two CL differing", answering("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")},
		{"TE gzip", answering("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx")},
		{"bare LF", answering("HTTP/1.1 200 OK\nContent-Length: 0\n\n")},
		{"obs-fold", answering("HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n")},
		{"head too large", answering("HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 300<<10) + "\r\nContent-Length: 0\r\n\r\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, ServerOptions{})
			tp := newTap(t, c.serve)
			e.use(tp.addr)
			w := dial(t, e.addr)
			for i := range 2 {
				w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, body := w.answer("GET")
				if resp.StatusCode != 502 || resp.Close {
					t.Fatalf("request %d: got %d %q close=%v, want 502 and the connection kept", i+1, resp.StatusCode, body, resp.Close)
				}
				if strings.Contains(body, "hello") || strings.Contains(body, "SSH") {
					t.Fatalf("request %d: the worker's bytes reached the client: %q", i+1, body)
				}
			}
			e.settled(t)
		})
	}
}

// workerAt serves h at addr ("" for any port) until closed.
func workerAt(t *testing.T, addr string, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	if addr != "" {
		s.Listener.Close()
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listening again on %s: %v", addr, err)
		}
		s.Listener = l
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// A worker restarted on the same address: the gateway's kept-alive
// connection to the old one is dead, and a request that can be sent again
// (its body is all in hand) or that was not sent yet is sent to the new
// one, once. The client never sees the restart.
func TestRestartedWorkerIsTransparent(t *testing.T) {
	big := strings.Repeat("b", 100<<10)
	cases := []struct{ name, req, want string }{
		{"GET", "GET /g HTTP/1.1\r\nHost: x\r\n\r\n", "GET /g 0"},
		{"small POST", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "POST /p 5"},
		{"small chunked POST", "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "POST /c 5"},
		{"streamed POST", "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 102400\r\n\r\n" + big, "POST /s 102400"},
	}
	e := newEngine(t, ServerOptions{})
	var served atomic.Int64
	var name atomic.Value
	h := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		served.Add(1)
		fmt.Fprintf(w, "%s %s %s %d", name.Load(), r.Method, r.URL.Path, len(b))
	}
	name.Store("w0")
	s := workerAt(t, "", h)
	addr := s.Listener.Addr().String()
	e.use(addr)
	w := dial(t, e.addr)
	parent := t
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A request that leaves a kept-alive connection in the pool.
			w.send("GET /warm HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, body := w.answer("GET"); resp.StatusCode != 200 || !strings.HasPrefix(body, name.Load().(string)) {
				t.Fatalf("warm-up: got %d %q", resp.StatusCode, body)
			}
			s.Close() // closes the idle connection the gateway keeps
			name.Store(fmt.Sprintf("w%d", i+1))
			s = workerAt(parent, addr, h)
			served.Store(0)
			go w.c.Write([]byte(c.req))
			resp, body := w.answer("GET")
			if want := name.Load().(string) + " " + c.want; resp.StatusCode != 200 || body != want {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, want)
			}
			if n := served.Load(); n != 1 {
				t.Fatalf("the restarted worker served %d requests, want 1", n)
			}
		})
	}
}

// A worker that sends more than it framed (a body on a 204 or on a HEAD
// answer, bytes past its Content-Length, an answer nobody asked for): the
// extra bytes must not be read as the answer to the next request on that
// worker connection, which may be another client's. A client gets its own
// answer, or a 502; never someone else's.
func TestExtraWorkerBytesReachNoOne(t *testing.T) {
	const extra = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret"
	cases := []struct {
		name, method string
		first        []string // the worker's writes answering the first request
	}{
		{"body after a 204", "GET", []string{"HTTP/1.1 204 No Content\r\n\r\n" + extra}},
		{"body on a HEAD answer", "HEAD", []string{"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret"}},
		{"more than Content-Length", "GET", []string{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + extra}},
		{"unsolicited answer", "GET", []string{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", extra}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, ServerOptions{})
			tp := newTap(t, func(tc *tapConn) {
				for {
					req, err := http.ReadRequest(tc.br)
					if err != nil {
						return
					}
					writes := []string{reply200(req.URL.Path)}
					if req.URL.Path == "/first" {
						writes = c.first
					}
					for _, s := range writes {
						io.WriteString(tc, s)
					}
				}
			})
			e.use(tp.addr)
			w := dial(t, e.addr)
			w.send(c.method + " /first HTTP/1.1\r\nHost: x\r\n\r\n")
			w.answer(c.method)
			for i := range 3 {
				path := fmt.Sprintf("/next%d", i)
				w := dial(t, e.addr) // another client
				w.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
				if resp, body := w.answer("GET"); resp.StatusCode != 502 && body != path {
					t.Errorf("%s: got %d %q, want its own answer %q (or 502)", path, resp.StatusCode, body, path)
				}
			}
		})
	}
}
