package proxy

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ServerOptions are the limits of the client-facing server and of the
// exchanges with workers. Zero values are replaced as documented.
type ServerOptions struct {
	// ReadHeaderTimeout bounds reading a request's head, from its first
	// byte. If zero, 10s.
	ReadHeaderTimeout time.Duration
	// MaxHeaderBytes bounds a request's head; a larger one is answered 431.
	// If zero, 64 KiB.
	MaxHeaderBytes int
	// IdleTimeout closes keep-alive connections idle this long. If zero,
	// they stay open.
	IdleTimeout time.Duration
	// ShutdownTimeout bounds waiting for in-flight requests once ctx ends.
	// If zero, requests still running are cut off at once.
	ShutdownTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for a worker's response head
	// once the request is sent; past it the client gets 504. If zero, 60s;
	// negative: no limit.
	ResponseHeaderTimeout time.Duration
	// BodyIdleTimeout bounds the wait for the next byte of a request or
	// response body, and for a worker to take the next bytes of a request.
	// If zero, 60s; negative: no limit.
	BodyIdleTimeout time.Duration
	// WriteTimeout bounds a write to a client that does not read. If zero,
	// 60s; negative: no limit.
	WriteTimeout time.Duration
}

func (o ServerOptions) withDefaults() ServerOptions {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	for _, d := range []*time.Duration{&o.ResponseHeaderTimeout, &o.BodyIdleTimeout, &o.WriteTimeout} {
		switch {
		case *d == 0:
			*d = 60 * time.Second
		case *d < 0:
			*d = 0 // deadline.arm: no deadline
		}
	}
	return o
}

// server is the state of one Run: its connections, for shutdown.
type server struct {
	o        ServerOptions
	stopping atomic.Bool
	mu       sync.Mutex
	conns    map[*clientConn]struct{}
	wg       sync.WaitGroup
	h2       *h2server // nil: no listener offers HTTP/2
}

func (s *server) track(cc *clientConn) {
	s.mu.Lock()
	s.conns[cc] = struct{}{}
	s.mu.Unlock()
}

func (s *server) forget(cc *clientConn) {
	s.mu.Lock()
	delete(s.conns, cc)
	s.mu.Unlock()
}

// closeIdle closes the connections between requests (all of them when
// force is set), and new ones that have sent no request within
// newConnGrace, and reports how many are still busy or new.
func (s *server) closeIdle(force bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	busy := 0
	for cc := range s.conns {
		switch {
		case force || cc.state.CompareAndSwap(connIdle, connClosed):
			cc.c.Close()
		case time.Since(cc.accepted) > newConnGrace && cc.state.CompareAndSwap(connNew, connClosed):
			cc.c.Close()
		case cc.state.Load() == connBusy || cc.state.Load() == connNew:
			busy++
		}
	}
	return busy
}

// Run serves the proxy on every listener and sweeps idle pins until ctx
// ends; then it stops accepting, lets in-flight requests finish (bounded by
// ShutdownTimeout) and returns. Listeners are closed on return.
func (p *Proxy) Run(ctx context.Context, listeners []net.Listener, o ServerOptions) error {
	if len(listeners) == 0 {
		return errors.New("proxy: no listeners")
	}
	s := &server{o: o.withDefaults(), conns: map[*clientConn]struct{}{}}
	if offersH2(listeners) {
		s.h2 = p.newH2Server(s)
	}
	errc := make(chan error, len(listeners))
	var accepting sync.WaitGroup
	for _, l := range listeners {
		accepting.Add(1)
		go func() {
			defer accepting.Done()
			errc <- p.accept(s, l)
		}()
	}
	sweepDone := make(chan struct{})
	sweepCtx, stopSweep := context.WithCancel(ctx)
	go func() { defer close(sweepDone); p.sweep(sweepCtx) }()
	defer func() { stopSweep(); <-sweepDone }()

	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	for _, l := range listeners {
		l.Close()
	}
	accepting.Wait()
	h2done := s.stopH2(err == nil, o.ShutdownTimeout)
	defer func() { <-h2done }()
	if err != nil {
		s.closeIdle(true)
		s.wg.Wait()
		return err
	}
	deadline := time.Now().Add(o.ShutdownTimeout)
	for s.closeIdle(false) > 0 {
		if time.Now().After(deadline) {
			s.closeIdle(true)
			s.wg.Wait()
			return errors.New("proxy: requests still running after the shutdown timeout were cut off")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.closeIdle(true) // upgraded connections end with the process anyway
	s.wg.Wait()
	return nil
}

// stopH2 shuts the HTTP/2 server down next to the HTTP/1.1 connections,
// letting its streams finish within timeout when graceful.
func (s *server) stopH2(graceful bool, timeout time.Duration) <-chan struct{} {
	done := make(chan struct{})
	if s.h2 == nil {
		close(done)
		return done
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	if !graceful {
		cancel()
	}
	go func() {
		defer close(done)
		defer cancel()
		s.h2.shutdown(ctx)
	}()
	return done
}

// accept serves one listener until it is closed; a closed listener is not
// an error.
func (p *Proxy) accept(s *server, l net.Listener) error {
	spec, _ := l.(*Listener)
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: back off as
				// net/http does, rather than spin.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				p.log.Warn("accept failed; retrying", "error", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		s.wg.Add(1)
		if spec == nil || !spec.needsSetup() {
			cc := p.newClientConn(s, c, spec.redirect())
			s.track(cc)
			go func() {
				defer s.wg.Done()
				cc.serve()
			}()
			continue
		}
		go func() {
			defer s.wg.Done()
			p.serveSetup(s, spec, c)
		}()
	}
}

// serveSetup serves a connection that needs a PROXY header or a TLS
// handshake first; an HTTP/2 one goes to the HTTP/2 server.
func (p *Proxy) serveSetup(s *server, l *Listener, raw net.Conn) {
	c, h2, err := p.setup(l, raw, s.o.ReadHeaderTimeout)
	if err != nil {
		p.log.Debug("connection refused before HTTP", "listener", l.Name, "peer", raw.RemoteAddr().String(), "error", err)
		c.Close()
		return
	}
	if h2 {
		s.h2.serve(c)
		return
	}
	cc := p.newClientConn(s, c, l.RedirectHTTPS)
	s.track(cc)
	if s.stopping.Load() {
		cc.release() // Run's closeIdle may have passed it by
		return
	}
	cc.serve()
}

func offersH2(ls []net.Listener) bool {
	for _, l := range ls {
		if spec, ok := l.(*Listener); ok && spec.TLS != nil && slices.Contains(spec.TLS.NextProtos, "h2") {
			return true
		}
	}
	return false
}

func (l *Listener) redirect() int {
	if l == nil {
		return 0
	}
	return l.RedirectHTTPS
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// sweep ends idle pins, often enough that expiry is late by at most a tenth
// of the idle timeout (between 100ms and 10s).
func (p *Proxy) sweep(ctx context.Context) {
	every := min(max(p.o.IdleTimeout/10, 100*time.Millisecond), 10*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			p.ExpireIdle(now)
		}
	}
}
