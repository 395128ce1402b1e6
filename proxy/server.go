package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// ServerOptions are the client-facing limits of the HTTP server.
type ServerOptions struct {
	// ReadHeaderTimeout bounds reading a request's headers. If zero, 10s.
	ReadHeaderTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers. If zero, 64 KiB.
	MaxHeaderBytes int
	// IdleTimeout closes keep-alive connections idle this long. If zero,
	// they stay open (http.Server's own rule).
	IdleTimeout time.Duration
	// ShutdownTimeout bounds waiting for in-flight requests once ctx ends.
	// If zero, requests still running are cut off at once.
	ShutdownTimeout time.Duration
}

// Run serves the proxy on every listener and sweeps idle pins until ctx
// ends; then it stops accepting, lets in-flight requests finish (bounded by
// ShutdownTimeout) and returns. Listeners are closed on return.
func (p *Proxy) Run(ctx context.Context, listeners []net.Listener, o ServerOptions) error {
	if len(listeners) == 0 {
		return errors.New("proxy: no listeners")
	}
	o = o.withDefaults()
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		IdleTimeout:       o.IdleTimeout,
		ErrorLog:          p.errorLog,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { errc <- srv.Serve(l) }()
	}
	sweepDone := make(chan struct{})
	sweepCtx, stopSweep := context.WithCancel(ctx)
	go func() { defer close(sweepDone); p.sweep(sweepCtx) }()
	defer func() { stopSweep(); <-sweepDone }()

	select {
	case err := <-errc:
		srv.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return errors.New("proxy: requests still running after the shutdown timeout were cut off")
	}
	return nil
}

func (o ServerOptions) withDefaults() ServerOptions {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	return o
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
