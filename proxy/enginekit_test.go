package proxy

// The kit of the engine's behaviour tests (smuggle_test.go,
// engine_test.go, reqbody_test.go, stream_test.go, bigbody_test.go,
// timeout_test.go, failure_test.go, hop_test.go): a Proxy served by Run in
// front of one worker address, a raw client ("wire") that writes bytes and
// reads answers, and a raw backend ("tap") that records every byte and
// connection that reaches it.
//
// Create the engine first and its backend after: cleanups run last-first,
// so the backend closes (and releases whatever the engine waits for)
// before the engine is stopped.

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// waitLimit bounds every wait of these tests: reaching it is a failure,
// never the expected outcome.
const waitLimit = 5 * time.Second

// engine is a Proxy whose only generation (1) has one instance.
type engine struct {
	p    *Proxy
	addr string // the proxy's
}

func newEngine(t testing.TB, so ServerOptions) *engine {
	t.Helper()
	return newEngineWith(t, so, Options{})
}

// newEngineWith is newEngine with the Proxy's options o (its hasher,
// session cookie and logger are the engine's).
func newEngineWith(t testing.TB, so ServerOptions, o Options) *engine {
	t.Helper()
	h, err := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	e := &engine{}
	o.Hasher, o.SessionCookie, o.Logger = h, "SID", slog.New(slog.DiscardHandler)
	e.p, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.p.Run(ctx, []net.Listener{l}, so) }()
	// Unlike serveProxy, a Run that does not return is reported, not
	// waited for: it means a connection of the test is stuck.
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitLimit):
			t.Errorf("Run did not return %v after its context ended: a connection is stuck", waitLimit)
		}
	})
	return e
}

// use routes every request to the worker at addr.
func (e *engine) use(addr string) {
	e.p.Publish(&fleet.Routes{Active: &fleet.Route{Generation: 1, Revision: "r1",
		Instances: []fleet.Endpoint{{Instance: 1, Network: "tcp", Address: addr}}}})
}

// settled waits until no request of generation 1 is in flight.
func (e *engine) settled(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for e.p.Usage(1).InFlight != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("in flight: got %d, want 0", e.p.Usage(1).InFlight)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// httpWorker serves h on a loopback port until the test ends.
func httpWorker(t testing.TB, h http.HandlerFunc) *httptest.Server {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// wire is a raw client connection to the proxy.
type wire struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, addr string) *wire {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(2 * waitLimit))
	return &wire{t: t, c: c, br: bufio.NewReader(c)}
}

func (w *wire) send(s string) {
	w.t.Helper()
	if _, err := io.WriteString(w.c, s); err != nil {
		w.t.Fatalf("send: %v", err)
	}
}

// head reads one response head (a 1xx one too) to a request of method.
func (w *wire) head(method string) *http.Response {
	w.t.Helper()
	resp, err := http.ReadResponse(w.br, &http.Request{Method: method})
	if err != nil {
		w.t.Fatalf("reading the answer to %s: %v", method, err)
	}
	return resp
}

// answer reads one whole response and its body.
func (w *wire) answer(method string) (*http.Response, string) {
	w.t.Helper()
	resp := w.head(method)
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatalf("reading the body of %d: %v (got %q)", resp.StatusCode, err, b)
	}
	return resp, string(b)
}

// rawHead reads one response head as sent, through its empty line.
func (w *wire) rawHead() string {
	w.t.Helper()
	var b strings.Builder
	for {
		l, err := w.br.ReadString('\n')
		b.WriteString(l)
		if err != nil {
			w.t.Fatalf("reading a head: got %q, %v", b.String(), err)
		}
		if l == "\r\n" {
			return b.String()
		}
	}
}

// closed checks that the proxy closed the connection with nothing more
// to say: a read returns EOF at once (not a reset, not a timeout).
func (w *wire) closed() {
	w.t.Helper()
	w.c.SetReadDeadline(time.Now().Add(waitLimit))
	b, err := io.ReadAll(w.br)
	if err != nil || len(b) > 0 {
		w.t.Fatalf("after the answer: got %q, %v; want EOF", b, err)
	}
}

// dropped asserts the gateway closed the connection without a byte of
// answer: by EOF, or by a reset when it closed with the client's request
// unread (the kernel resets such a connection rather than finish it).
func (w *wire) dropped() {
	w.t.Helper()
	w.c.SetReadDeadline(time.Now().Add(waitLimit))
	b, err := io.ReadAll(w.br)
	if len(b) > 0 || err != nil && !errors.Is(err, syscall.ECONNRESET) {
		w.t.Fatalf("got %q, %v; want EOF or a reset, no answer", b, err)
	}
}

// tap is a raw backend: it records every byte each connection received,
// and serves each connection with its serve function.
type tap struct {
	l    net.Listener
	addr string
	quit chan struct{} // closed when the test ends
	mu   sync.Mutex
	tcs  []*tapConn
	wg   sync.WaitGroup
}

type tapConn struct {
	net.Conn
	br   *bufio.Reader // reads through the recording
	quit <-chan struct{}
	mu   sync.Mutex
	got  []byte
}

func (tc *tapConn) Read(p []byte) (int, error) {
	n, err := tc.Conn.Read(p)
	tc.mu.Lock()
	tc.got = append(tc.got, p[:n]...)
	tc.mu.Unlock()
	return n, err
}

func (tc *tapConn) received() string {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return string(tc.got)
}

func newTap(t testing.TB, serve func(tc *tapConn)) *tap {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{l: l, addr: l.Addr().String(), quit: make(chan struct{})}
	tp.wg.Add(1)
	go func() {
		defer tp.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			tc := &tapConn{Conn: c, quit: tp.quit}
			tc.br = bufio.NewReader(tc)
			tp.mu.Lock()
			tp.tcs = append(tp.tcs, tc)
			tp.mu.Unlock()
			tp.wg.Add(1)
			go func() {
				defer tp.wg.Done()
				defer c.Close()
				serve(tc)
			}()
		}
	}()
	t.Cleanup(func() {
		close(tp.quit)
		l.Close()
		tp.mu.Lock()
		for _, tc := range tp.tcs {
			tc.Conn.Close()
		}
		tp.mu.Unlock()
		tp.wg.Wait()
	})
	return tp
}

// conns returns the connections accepted so far.
func (tp *tap) conns() []*tapConn {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]*tapConn(nil), tp.tcs...)
}

// replying serves HTTP/1.1 requests in order: reply returns the raw answer
// to each request (whose body it gets whole), or "" to hang up.
func replying(reply func(req *http.Request, body string) string) func(*tapConn) {
	return func(tc *tapConn) {
		for {
			req, err := http.ReadRequest(tc.br)
			if err != nil {
				return
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return
			}
			out := reply(req, string(body))
			if out == "" {
				return
			}
			if _, err := io.WriteString(tc, out); err != nil {
				return
			}
			if strings.Contains(out, "Connection: close\r\n") || strings.HasPrefix(out, "HTTP/1.0") {
				return
			}
		}
	}
}

// okReply answers 200 with the request's path and body.
func okReply(req *http.Request, body string) string {
	return reply200(req.URL.RequestURI() + " " + body)
}

func reply200(body string) string {
	return "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// heads splits what a worker received into request heads: the request
// line of each, in order (bodies in between are skipped as framed).
func heads(t testing.TB, raw string) []string {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(raw))
	var lines []string
	for {
		req, err := http.ReadRequest(br)
		if err == io.EOF {
			return lines
		}
		if err != nil {
			t.Fatalf("the worker received %q: not requests: %v", raw, err)
		}
		io.Copy(io.Discard, req.Body)
		lines = append(lines, req.Method+" "+req.RequestURI)
	}
}
