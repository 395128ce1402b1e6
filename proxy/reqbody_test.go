package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// pattern returns n bytes that hold every byte value, CR and LF included.
func pattern(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return string(b)
}

// chunks frames pieces as a chunked body ended by trailer (field lines).
func chunks(trailer string, pieces ...string) string {
	var b strings.Builder
	for _, p := range pieces {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
	}
	return b.String() + "0\r\n" + trailer + "\r\n"
}

func TestRequestBodiesReachWorkerIntact(t *testing.T) {
	big := pattern(200 << 10)
	cases := []struct {
		name, req string
		chunked   bool
		length    int64 // Content-Length the worker gets; -1 none
		body      string
		trailer   string // the worker's X-T trailer
	}{
		{"content-length", "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world", false, 11, "hello world", ""},
		{"empty content-length", "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", false, 0, "", ""},
		{"streamed content-length", "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 204800\r\n\r\n" + big, false, int64(len(big)), big, ""},
		{"chunked with a trailer", "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5;name=val\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n", true, -1, "hello world", "1"},
		{"empty chunked", "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true, -1, "", ""},
		{"streamed chunked with a trailer", "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
			chunks("X-T: 2\r\n", big[:70<<10], big[70<<10:140<<10], big[140<<10:]), true, -1, big, "2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, ServerOptions{})
			tp := newTap(t, replying(func(*http.Request, string) string { return reply200("ok") }))
			e.use(tp.addr)
			w := dial(t, e.addr)
			go w.c.Write([]byte(c.req))
			if resp, body := w.answer("POST"); resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, "ok")
			}
			// The worker answered after reading the whole request: what it
			// received is that request, to be read as the worker read it.
			raw := tp.conns()[0].received()
			req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
			if err != nil {
				t.Fatalf("the worker received %.200q: %v", raw, err)
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				t.Fatalf("the worker's body: %v", err)
			}
			chunked := len(req.TransferEncoding) == 1 && req.TransferEncoding[0] == "chunked"
			if chunked != c.chunked || req.ContentLength != c.length {
				t.Errorf("worker framing: got chunked=%v length=%d, want chunked=%v length=%d",
					chunked, req.ContentLength, c.chunked, c.length)
			}
			if string(body) != c.body {
				t.Errorf("worker body: got %d bytes %.40q, want %d bytes %.40q", len(body), body, len(c.body), c.body)
			}
			if got := req.Trailer.Get("X-T"); got != c.trailer {
				t.Errorf("worker trailer: got %q, want %q", got, c.trailer)
			}
			if strings.Contains(raw, "name=val") {
				t.Errorf("chunk extensions reached the worker: %.200q", raw)
			}
		})
	}
}

// echoWorker answers with the request body it read.
func echoWorker(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Write(b)
}

func TestExpectContinue(t *testing.T) {
	e := newEngine(t, ServerOptions{})
	s := httpWorker(t, echoWorker)
	e.use(s.Listener.Addr().String())
	w := dial(t, e.addr)
	w.send("POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	// The body is not sent before the 100: the worker asked for it.
	if resp := w.head("POST"); resp.StatusCode != 100 {
		t.Fatalf("before the body: got %d, want 100", resp.StatusCode)
	}
	w.send("hello")
	if resp, body := w.answer("POST"); resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("after the body: got %d %q, want 200 %q", resp.StatusCode, body, "hello")
	}
	w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := w.answer("GET"); resp.StatusCode != 200 {
		t.Fatalf("next request: got %d, want 200", resp.StatusCode)
	}
}

// A worker that refuses a request with Expect: 100-continue without
// reading its body: the client gets the refusal, never sends the body,
// and the connection closes (the body's bytes cannot be told from a next
// request any more).
func TestExpectContinueRefused(t *testing.T) {
	cases := []struct {
		name   string
		status int
		worker func(t *testing.T) string
	}{
		{"401 from net/http", 401, func(t *testing.T) string {
			return httpWorker(t, func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "who are you", http.StatusUnauthorized)
			}).Listener.Addr().String()
		}},
		{"417 raw, connection kept", 417, func(t *testing.T) string {
			return newTap(t, func(tc *tapConn) {
				if _, err := http.ReadRequest(tc.br); err != nil {
					return
				}
				io.WriteString(tc, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 4\r\n\r\nnope")
				<-tc.quit // waits for a body that never comes
			}).addr
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, ServerOptions{})
			e.use(c.worker(t))
			w := dial(t, e.addr)
			w.send("POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
			resp, _ := w.answer("POST")
			if resp.StatusCode != c.status || !resp.Close {
				t.Fatalf("got %d close=%v, want %d close=true", resp.StatusCode, resp.Close, c.status)
			}
			w.closed()
			e.settled(t)
		})
	}
}
