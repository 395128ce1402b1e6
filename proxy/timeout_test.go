package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// short are the limits of these tests: small, so that each timeout fires
// quickly, and equal, so that whichever fires first the outcome is the same.
const short = 200 * time.Millisecond

// silentWorker reads requests and never answers; ended is closed when the
// gateway has closed the connection.
func silentWorker(t *testing.T) (*tap, chan struct{}) {
	ended := make(chan struct{})
	tp := newTap(t, func(tc *tapConn) {
		if req, err := http.ReadRequest(tc.br); err == nil {
			io.Copy(io.Discard, req.Body)
			io.Copy(io.Discard, tc.br)
			close(ended)
		}
	})
	return tp, ended
}

func waitClosed(t *testing.T, ended <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ended:
	case <-time.After(waitLimit):
		t.Fatalf("%s: still open", what)
	}
}

func TestSilentWorkerIs504(t *testing.T) {
	cases := []struct {
		name, req string
		close     bool // the client connection closes after
	}{
		{"GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"streamed POST", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 102400\r\n\r\n" + strings.Repeat("a", 100<<10), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, ServerOptions{ResponseHeaderTimeout: short})
			tp, ended := silentWorker(t)
			e.use(tp.addr)
			w := dial(t, e.addr)
			go w.c.Write([]byte(c.req))
			resp, _ := w.answer("GET")
			if resp.StatusCode != 504 || resp.Close != c.close {
				t.Fatalf("got %d close=%v, want 504 close=%v", resp.StatusCode, resp.Close, c.close)
			}
			e.settled(t)
			waitClosed(t, ended, "the worker connection after the 504")
			if c.close {
				w.closed()
			}
		})
	}
}

// A client that stops sending its body: 408, and the worker connection
// ends before the body did (the worker must not take it for whole).
func TestStalledRequestBodyIs408(t *testing.T) {
	cases := []struct {
		name, req  string
		workerSees bool // a part of the body streamed before the stall
	}{
		{"content-length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello", true},
		{"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, ServerOptions{BodyIdleTimeout: short})
			bodyErr := make(chan error, 1)
			tp := newTap(t, func(tc *tapConn) {
				if req, err := http.ReadRequest(tc.br); err == nil {
					_, err = io.ReadAll(req.Body)
					bodyErr <- err
				}
			})
			e.use(tp.addr)
			w := dial(t, e.addr)
			w.send(c.req)
			resp, _ := w.answer("POST")
			if resp.StatusCode != 408 || !resp.Close {
				t.Fatalf("got %d close=%v, want 408 close=true", resp.StatusCode, resp.Close)
			}
			w.closed()
			e.settled(t)
			if !c.workerSees {
				if n := len(tp.conns()); n != 0 {
					t.Fatalf("worker connections: got %d, want none", n)
				}
				return
			}
			select {
			case err := <-bodyErr:
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("the worker read the body to: %v, want %v", err, io.ErrUnexpectedEOF)
				}
			case <-time.After(waitLimit):
				t.Fatal("the worker connection is still open")
			}
		})
	}
}

// A worker that stops sending its body, or hangs up in the middle of it:
// the client gets what was sent and then the end of the connection, which
// tells it the body is cut.
func TestCutResponseBody(t *testing.T) {
	cases := map[string]string{
		"content-length": "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("x", 50),
		"chunked":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n32\r\n" + strings.Repeat("x", 50) + "\r\n",
		"close":          "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + strings.Repeat("x", 50),
	}
	for name, reply := range cases {
		for _, stall := range []bool{true, false} {
			if !stall && name == "close" {
				continue // hanging up ends that body: it is whole
			}
			t.Run(fmt.Sprintf("%s stall=%v", name, stall), func(t *testing.T) {
				e := newEngine(t, ServerOptions{BodyIdleTimeout: short})
				ended := make(chan struct{})
				tp := newTap(t, func(tc *tapConn) {
					defer close(ended)
					if _, err := http.ReadRequest(tc.br); err == nil {
						io.WriteString(tc, reply)
						if stall {
							io.Copy(io.Discard, tc.br) // until the gateway hangs up
						}
					}
				})
				e.use(tp.addr)
				w := dial(t, e.addr)
				w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				resp := w.head("GET")
				body, err := io.ReadAll(resp.Body)
				if string(body) != strings.Repeat("x", 50) || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("body: got %d bytes, %v; want 50 bytes, then %v", len(body), err, io.ErrUnexpectedEOF)
				}
				w.closed()
				e.settled(t)
				waitClosed(t, ended, "the worker connection")
			})
		}
	}
}

// A client that does not read a long answer: its connection is closed
// once a write has made no progress for WriteTimeout.
func TestClientNotReadingIsCut(t *testing.T) {
	const n = 1 << 30 // more than every socket buffer on the way
	e := newEngine(t, ServerOptions{WriteTimeout: short})
	started := make(chan struct{})
	s := httpWorker(t, func(w http.ResponseWriter, r *http.Request) {
		close(started) // the request is in flight
		w.Header().Set("Content-Length", "1073741824")
		io.Copy(w, &patternReader{n: n}) // ends when the gateway hangs up
	})
	e.use(s.Listener.Addr().String())
	w := dial(t, e.addr)
	w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-started:
	case <-time.After(waitLimit):
		t.Fatal("the request did not reach the worker")
	}
	e.settled(t) // the gateway gave up on the client without it reading
	got, err := io.Copy(io.Discard, w.br)
	if err != nil || got >= n {
		t.Fatalf("client read %d bytes, %v; want less than %d, then EOF", got, err, n)
	}
}

func TestReadHeaderTimeout(t *testing.T) {
	e := newEngine(t, ServerOptions{ReadHeaderTimeout: short})
	tp := newTap(t, replying(okReply))
	e.use(tp.addr)
	t.Run("half a head", func(t *testing.T) {
		w := dial(t, e.addr)
		w.send("GET / HTTP/1.1\r\nHost: x\r\n")
		w.closed()
	})
	// The limit runs from the first byte: a head sent a byte at a time,
	// each well within the limit, is cut all the same.
	t.Run("a byte at a time", func(t *testing.T) {
		w := dial(t, e.addr)
		head := "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 200) + "\r\n\r\n"
		go func() {
			for i := range len(head) {
				if _, err := w.c.Write([]byte{head[i]}); err != nil {
					return
				}
				time.Sleep(short / 10)
			}
		}()
		w.closed()
	})
	if n := len(tp.conns()); n != 0 {
		t.Fatalf("worker connections: got %d, want none", n)
	}
}

func TestIdleTimeout(t *testing.T) {
	e := newEngine(t, ServerOptions{IdleTimeout: short})
	tp := newTap(t, replying(okReply))
	e.use(tp.addr)
	t.Run("after a request", func(t *testing.T) {
		w := dial(t, e.addr)
		w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := w.answer("GET"); resp.StatusCode != 200 || resp.Close {
			t.Fatalf("got %d close=%v, want 200 kept alive", resp.StatusCode, resp.Close)
		}
		w.closed()
	})
	t.Run("before any request", func(t *testing.T) {
		dial(t, e.addr).closed()
	})
}

// A client that goes away while the worker has not answered yet (a long
// poll): the gateway gives up on the request at once, as net/http's
// ReverseProxy did by cancelling it, instead of holding the request in
// flight (and the generation busy) until the worker answers.
func TestClientGoneWhileWorkerSilent(t *testing.T) {
	e := newEngine(t, ServerOptions{}) // ResponseHeaderTimeout: 60s
	started := make(chan struct{})
	ended := make(chan struct{})
	tp := newTap(t, func(tc *tapConn) {
		if _, err := http.ReadRequest(tc.br); err == nil {
			close(started)
			io.Copy(io.Discard, tc.br) // a long poll: silent until the gateway hangs up
			close(ended)
		}
	})
	e.use(tp.addr)
	w := dial(t, e.addr)
	w.send("GET /poll HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-started:
	case <-time.After(waitLimit):
		t.Fatal("the request did not reach the worker")
	}
	w.c.Close()
	waitClosed(t, ended, "the worker connection after the client left")
	e.settled(t)
}
