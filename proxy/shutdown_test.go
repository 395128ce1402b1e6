package proxy

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// A request in flight when Run's context ends is answered, with
// "Connection: close" (the client must not send another request on a
// connection about to close), and Run returns once it is.
func TestShutdownAnswersWithConnectionClose(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{}, 1)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "done")
	}))
	defer s.Close()
	h, _ := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	p, err := New(Options{Hasher: h, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	p.Publish(&fleet.Routes{Active: gen(1, s)})
	f := serveProxy(t, p, ServerOptions{ShutdownTimeout: waitLimit})
	c, err := net.Dial("tcp", f.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started
	stopped := make(chan struct{})
	go func() { f.Close(); close(stopped) }()
	deadline := time.Now().Add(waitLimit)
	for { // Run is stopping once the listener is closed
		probe, err := net.Dial("tcp", f.Addr)
		if err != nil {
			break
		}
		probe.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts after Run's context ended")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "done" || !resp.Close {
		t.Fatalf("got %d %q close=%v, want 200 %q close=true", resp.StatusCode, body, resp.Close, "done")
	}
	select {
	case <-stopped:
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after the last request was answered")
	}
}

// acceptSignal is a listener that tells when it has accepted a connection.
type acceptSignal struct {
	net.Listener
	accepted chan struct{}
}

func (l acceptSignal) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted <- struct{}{}
	}
	return c, err
}

// A connection accepted just before shutdown, whose first request comes
// after it began, is answered (with "Connection: close"), not closed
// unanswered: a request on a fresh connection is one no client retries.
func TestShutdownAnswersANewConnection(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer s.Close()
	h, _ := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	p, err := New(Options{Hasher: h, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	p.Publish(&fleet.Routes{Active: gen(1, s)})
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := acceptSignal{raw, make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, []net.Listener{l}, ServerOptions{ShutdownTimeout: waitLimit}) }()
	c, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-l.accepted
	cancel()
	deadline := time.Now().Add(waitLimit)
	for { // Run is stopping once the listener is closed
		probe, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			break
		}
		probe.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts after Run's context ended")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // shutdown sweeps idle connections every 10 ms
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the first request of a connection accepted before shutdown: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok" || !resp.Close {
		t.Fatalf("got %d %q close=%v, want 200 %q close=true", resp.StatusCode, body, resp.Close, "ok")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after the new connection's request was answered")
	}
}
