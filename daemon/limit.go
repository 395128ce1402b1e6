package daemon

import (
	"net"
	"sync"
)

// maxConsoleConns bounds the admin console's open connections. The console
// holds back its answer to a refused login for up to 2 s
// (console.Limits.Hold), so a brute force through these connections makes
// at most 32 guesses a second, however many it opens: the rest wait in
// the listening socket's backlog and cost the proxy nothing. Unbounded,
// 1,000 connections guessing as fast as answers came took two thirds of
// the proxy's throughput (docs/benchmarks.md §7). A few browsers need far
// fewer.
const maxConsoleConns = 64

// limitListener accepts a connection only while fewer than n are open.
type limitListener struct {
	net.Listener
	slots chan struct{}
}

func limitConns(l net.Listener, n int) net.Listener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &slotConn{Conn: c, free: func() { <-l.slots }}, nil
}

// slotConn gives its slot back when it is closed, once.
type slotConn struct {
	net.Conn
	once sync.Once
	free func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.free)
	return err
}
