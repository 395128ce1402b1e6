package proxy

import (
	"context"
	"net"
	"sync"
	"testing"
)

// front is a Proxy served by Run on a loopback port, as gatewayd serves it.
type front struct {
	URL  string
	Addr string
	stop func()
}

func (f *front) Close() { f.stop() }

func serveProxy(tb testing.TB, p *Proxy, o ServerOptions) *front {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, []net.Listener{l}, o) }()
	f := &front{URL: "http://" + l.Addr().String(), Addr: l.Addr().String()}
	var once sync.Once
	f.stop = func() { once.Do(func() { cancel(); <-done }) }
	tb.Cleanup(f.Close)
	return f
}
