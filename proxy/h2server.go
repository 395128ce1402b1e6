package proxy

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
)

// HTTP/2 from clients runs on net/http's server (its HPACK, flow control
// and stream state machine are conformance-tested, see docs/benchmarks.md
// for what it costs), behind TLS only, with a handler (h2.go) that shares
// the HTTP/1.1 engine's routing core and speaks HTTP/1.1 to the workers
// through the same connection pools.

// h2server is the HTTP/2 server of one Run: the TLS connections whose
// clients chose h2 are handed to it after the handshake.
type h2server struct {
	srv   *http.Server
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	ended chan struct{}
}

func (p *Proxy) newH2Server(s *server) *h2server {
	h := &h2server{conns: make(chan net.Conn), done: make(chan struct{}), ended: make(chan struct{})}
	h.srv = &http.Server{
		Handler:        h2handler{p: p, s: s},
		IdleTimeout:    s.o.IdleTimeout,
		MaxHeaderBytes: s.o.MaxHeaderBytes,
		// Frames of RFC 9113's default size, as HAProxy's, rather than
		// net/http's 1 MiB: a peer must not make the gateway buffer a
		// megabyte per frame.
		HTTP2: &http.HTTP2Config{MaxReadFrameSize: 16 << 10},
		// Its complaints are about clients (a bad preface, a reset
		// stream): debug level, as the HTTP/1.1 engine's refusals.
		ErrorLog: slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(h.ended)
		h.srv.Serve(chanListener{h})
	}()
	return h
}

// serve hands over a connection whose TLS handshake chose h2.
func (h *h2server) serve(c net.Conn) {
	select {
	case h.conns <- c:
	case <-h.done:
		c.Close()
	}
}

// shutdown stops the server: GOAWAY to every connection, then a wait for
// the streams in flight until ctx ends, when the rest are cut off.
func (h *h2server) shutdown(ctx context.Context) {
	h.once.Do(func() { close(h.done) })
	if err := h.srv.Shutdown(ctx); err != nil {
		h.srv.Close()
	}
	<-h.ended
}

// chanListener is the listener net/http's server accepts from: the
// connections h2server.serve hands over.
type chanListener struct{ h *h2server }

func (l chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.h.conns:
		return c, nil
	case <-l.h.done:
		return nil, net.ErrClosed
	}
}

func (l chanListener) Close() error {
	l.h.once.Do(func() { close(l.h.done) })
	return nil
}

func (l chanListener) Addr() net.Addr { return h2addr{} }

type h2addr struct{}

func (h2addr) Network() string { return "tls" }
func (h2addr) String() string  { return "h2" }
