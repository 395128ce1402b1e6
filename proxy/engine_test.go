package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestPipelinedRequestsAnsweredInOrder(t *testing.T) {
	big := strings.Repeat("b", 100<<10) // more than the read buffer: streamed
	cases := []struct {
		name  string
		reqs  string
		want  []string // bodies of the answers, in order
		heads string   // what reached the worker
	}{
		{"three GETs",
			"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n",
			[]string{"/a ", "/b ", "/c "}, "GET /a, GET /b, GET /c"},
		{"after a POST with a body",
			"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /after HTTP/1.1\r\nHost: x\r\n\r\n",
			[]string{"/p hello", "/after "}, "POST /p, GET /after"},
		{"after a chunked POST",
			"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n",
			[]string{"/p hello", "/after "}, "POST /p, GET /after"},
		{"after a streamed POST",
			"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 102400\r\n\r\n" + big + "GET /after HTTP/1.1\r\nHost: x\r\n\r\n",
			[]string{"/p " + big, "/after "}, "POST /p, GET /after"},
		{"after a streamed chunked POST",
			"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n19000\r\n" + big + "\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n",
			[]string{"/p " + big, "/after "}, "POST /p, GET /after"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, ServerOptions{})
			tp := newTap(t, replying(okReply))
			e.use(tp.addr)
			w := dial(t, e.addr)
			go w.c.Write([]byte(c.reqs)) // one write, whatever its size
			for i, want := range c.want {
				resp, body := w.answer("GET")
				if resp.StatusCode != 200 || body != want {
					t.Fatalf("answer %d: got %d %.40q (%d bytes), want 200 %.40q (%d bytes)",
						i+1, resp.StatusCode, body, len(body), want, len(want))
				}
			}
			tcs := tp.conns()
			if len(tcs) != 1 {
				t.Fatalf("worker connections: got %d, want 1", len(tcs))
			}
			if got := strings.Join(heads(t, tcs[0].received()), ", "); got != c.heads {
				t.Fatalf("the worker received %q, want %q", got, c.heads)
			}
		})
	}
}

func TestHTTP10Client(t *testing.T) {
	e := newEngine(t, ServerOptions{})
	tp := newTap(t, replying(func(req *http.Request, body string) string {
		switch req.URL.Path {
		case "/chunked":
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
		case "/eof":
			return "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello world"
		}
		return okReply(req, body)
	}))
	e.use(tp.addr)

	t.Run("without keep-alive", func(t *testing.T) {
		w := dial(t, e.addr)
		w.send("GET /a HTTP/1.0\r\n\r\n")
		resp, body := w.answer("GET")
		if resp.StatusCode != 200 || body != "/a " || !resp.Close {
			t.Fatalf("got %d %q close=%v, want 200 %q close=true", resp.StatusCode, body, resp.Close, "/a ")
		}
		w.closed()
	})
	t.Run("with keep-alive", func(t *testing.T) {
		w := dial(t, e.addr)
		for _, path := range []string{"/a", "/b"} {
			w.send("GET " + path + " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			resp, body := w.answer("GET")
			if resp.StatusCode != 200 || body != path+" " || resp.Close {
				t.Fatalf("got %d %q close=%v, want 200 %q kept alive", resp.StatusCode, body, resp.Close, path+" ")
			}
			if got := resp.Header.Get("Connection"); got != "keep-alive" {
				t.Fatalf("Connection: got %q, want %q", got, "keep-alive")
			}
		}
		w.send("GET /c HTTP/1.0\r\n\r\n")
		if resp, body := w.answer("GET"); body != "/c " || !resp.Close {
			t.Fatalf("got %q close=%v, want %q close=true", body, resp.Close, "/c ")
		}
		w.closed()
	})
	// A body the worker frames by chunks or by its connection's end
	// reaches an HTTP/1.0 client as plain bytes ended by the close.
	for _, path := range []string{"/chunked", "/eof"} {
		for _, ka := range []string{"", "Connection: keep-alive\r\n"} {
			t.Run(fmt.Sprintf("%s keep-alive=%v", path[1:], ka != ""), func(t *testing.T) {
				w := dial(t, e.addr)
				w.send("GET " + path + " HTTP/1.0\r\n" + ka + "\r\n")
				head := w.rawHead()
				if strings.Contains(strings.ToLower(head), "transfer-encoding") || !strings.Contains(head, "Connection: close\r\n") {
					t.Fatalf("head: got %q, want no Transfer-Encoding and Connection: close", head)
				}
				body, err := io.ReadAll(w.br)
				if err != nil || string(body) != "hello world" {
					t.Fatalf("body: got %q, %v; want %q then EOF", body, err, "hello world")
				}
			})
		}
	}
}

// Answers without a body: the client gets none, whatever the worker's
// framing fields say, and its connection stays usable.
func TestBodylessAnswers(t *testing.T) {
	cases := []struct {
		name, method, reply string
		status              int
		want, notWant       []string // header lines of the client's head
	}{
		{"HEAD with Content-Length", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", 200,
			[]string{"Content-Length: 1234\r\n"}, []string{"Transfer-Encoding"}},
		{"HEAD chunked", "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200,
			nil, []string{"Transfer-Encoding", "Content-Length"}},
		{"204", "GET", "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n", 204,
			[]string{"X-A: 1\r\n"}, []string{"Transfer-Encoding", "Content-Length"}},
		{"304 with Content-Length", "GET", "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 50\r\n\r\n", 304,
			[]string{"ETag: \"v1\"\r\n", "Content-Length: 50\r\n"}, []string{"Transfer-Encoding"}},
		{"304 chunked", "GET", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 304,
			nil, []string{"Transfer-Encoding", "Content-Length"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, ServerOptions{})
			tp := newTap(t, replying(func(req *http.Request, body string) string {
				if req.URL.Path == "/next" {
					return okReply(req, body)
				}
				return c.reply
			}))
			e.use(tp.addr)
			w := dial(t, e.addr)
			w.send(c.method + " / HTTP/1.1\r\nHost: x\r\n\r\n")
			head := w.rawHead()
			if want := "HTTP/1.1 " + strconv.Itoa(c.status) + " "; !strings.HasPrefix(head, want) {
				t.Fatalf("head: got %q, want status %d", head, c.status)
			}
			for _, s := range c.want {
				if !strings.Contains(head, s) {
					t.Errorf("head: got %q, want %q in it", head, s)
				}
			}
			for _, s := range c.notWant {
				if strings.Contains(head, s) {
					t.Errorf("head: got %q, want no %q", head, s)
				}
			}
			// Any byte of a body would be read here as the next answer.
			w.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, body := w.answer("GET"); resp.StatusCode != 200 || body != "/next " {
				t.Fatalf("next: got %d %q, want 200 %q", resp.StatusCode, body, "/next ")
			}
			if n := len(tp.conns()); n != 1 {
				t.Fatalf("worker connections: got %d, want 1 (kept alive)", n)
			}
		})
	}
}

func TestResponseFramings(t *testing.T) {
	cases := []struct {
		name, reply string
		chunked     bool  // as the client gets it
		length      int64 // Content-Length the client gets, -1 for none
		body        string
		trailer     string // the X-Sum trailer the client gets
		workerConns int    // for two requests
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world", false, 11, "hello world", "", 1},
		{"chunked with a trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
			"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n", true, -1, "hello world", "42", 1},
		{"close-delimited", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello world", true, -1, "hello world", "", 2},
		{"HTTP/1.0 close-delimited", "HTTP/1.0 200 OK\r\n\r\nhello world", true, -1, "hello world", "", 2},
		{"HTTP/1.0 content-length", "HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nhello world", false, 11, "hello world", "", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, ServerOptions{})
			tp := newTap(t, replying(func(*http.Request, string) string { return c.reply }))
			e.use(tp.addr)
			w := dial(t, e.addr)
			for i := range 2 { // the client connection stays usable
				w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, body := w.answer("GET")
				chunked := len(resp.TransferEncoding) == 1 && resp.TransferEncoding[0] == "chunked"
				if resp.StatusCode != 200 || body != c.body || chunked != c.chunked || resp.ContentLength != c.length {
					t.Fatalf("answer %d: got %d %q chunked=%v length=%d, want 200 %q chunked=%v length=%d",
						i+1, resp.StatusCode, body, chunked, resp.ContentLength, c.body, c.chunked, c.length)
				}
				if got := resp.Trailer.Get("X-Sum"); got != c.trailer {
					t.Fatalf("trailer: got %q, want %q", got, c.trailer)
				}
				if resp.Close {
					t.Fatalf("answer %d: Connection: close, want the client connection kept", i+1)
				}
			}
			if n := len(tp.conns()); n != c.workerConns {
				t.Fatalf("worker connections: got %d, want %d", n, c.workerConns)
			}
		})
	}
}

// 1xx answers reach an HTTP/1.1 client before the final one, and not an
// HTTP/1.0 client, which would not understand them.
func TestEarlyHints(t *testing.T) {
	e := newEngine(t, ServerOptions{})
	s := httpWorker(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	})
	e.use(s.Listener.Addr().String())

	w := dial(t, e.addr)
	w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp := w.head("GET"); resp.StatusCode != 103 || resp.Header.Get("Link") != "</style.css>; rel=preload" {
		t.Fatalf("first: got %d Link=%q, want 103 with the Link", resp.StatusCode, resp.Header.Get("Link"))
	}
	if resp, body := w.answer("GET"); resp.StatusCode != 200 || body != "final" {
		t.Fatalf("then: got %d %q, want 200 %q", resp.StatusCode, body, "final")
	}

	w = dial(t, e.addr)
	w.send("GET / HTTP/1.0\r\n\r\n")
	if resp, body := w.answer("GET"); resp.StatusCode != 200 || body != "final" {
		t.Fatalf("HTTP/1.0: got %d %q, want 200 %q", resp.StatusCode, body, "final")
	}
}
