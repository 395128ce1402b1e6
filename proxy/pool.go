package proxy

import (
	"bufio"
	"context"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// workerConn is one kept-alive connection to a worker, with its buffers.
type workerConn struct {
	c      net.Conn
	in     inbuf
	out    *bufio.Writer
	rd, wd deadline
	resp   h1.Response
	// headLen is the length of the head in resp, still at the start of in.
	headLen int
	// reused is set when the connection served an earlier request: a
	// failure before any answer then may be the worker having closed it
	// while idle, and the request is tried once more on a new one.
	reused bool
	idle   time.Time // when it was put back
	// raw, peekFn, quiet, sendFn, sent and sendErr serve alive and send.
	raw     syscall.RawConn
	peekFn  func(uintptr) bool
	quiet   bool
	sendFn  func(uintptr) bool
	sent    bool
	sendErr error
}

const (
	// workerBuffer is the size of a worker connection's read and write
	// buffers: a head and a body slab.
	workerBuffer = 16 << 10
	// maxIdlePerWorker bounds the idle connections kept per instance.
	maxIdlePerWorker = 256
	// workerIdleTimeout is how long an idle connection is kept: less than
	// the idle timeout of common app servers, so that the gateway, not the
	// app, closes it.
	workerIdleTimeout = 50 * time.Second
	dialTimeout       = 5 * time.Second
)

// workerPool keeps the idle connections of one worker instance, most
// recently used first, so that a burst's connections stay warm and the
// rest age out.
type workerPool struct {
	network, address string

	mu     sync.Mutex
	idle   []*workerConn
	closed bool
}

var dialer = net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}

// get returns an idle connection, or dials a new one.
func (wp *workerPool) get(ctx context.Context, now time.Time) (*workerConn, error) {
	wp.mu.Lock()
	for n := len(wp.idle); n > 0; n = len(wp.idle) {
		wc := wp.idle[n-1]
		wp.idle[n-1] = nil
		wp.idle = wp.idle[:n-1]
		if now.Sub(wc.idle) < workerIdleTimeout {
			wp.mu.Unlock()
			// Whether it is still open and quiet is checked when the
			// request is sent (workerConn.send).
			wc.reused = true
			return wc, nil
		}
		wc.c.Close()
	}
	wp.mu.Unlock()
	c, err := dialer.DialContext(ctx, wp.network, wp.address)
	if err != nil {
		return nil, err
	}
	return newWorkerConn(c), nil
}

func newWorkerConn(c net.Conn) *workerConn {
	wc := &workerConn{c: c}
	if sc, ok := c.(syscall.Conn); ok {
		wc.raw, _ = sc.SyscallConn()
	}
	wc.peekFn, wc.sendFn = wc.peek, wc.sendStep
	wc.in.init(c, workerBuffer)
	wc.out = bufio.NewWriterSize(c, workerBuffer)
	return wc
}

// put keeps wc for the next request, or closes it when the pool is full or
// closed.
func (wp *workerPool) put(wc *workerConn, now time.Time) {
	wc.idle = now
	wp.mu.Lock()
	if wp.closed || len(wp.idle) >= maxIdlePerWorker {
		wp.mu.Unlock()
		wc.c.Close()
		return
	}
	wp.idle = append(wp.idle, wc)
	wp.mu.Unlock()
}

// close closes the idle connections of an instance that left the routes;
// connections in use are closed when they come back.
func (wp *workerPool) close() {
	wp.mu.Lock()
	idle := wp.idle
	wp.idle, wp.closed = nil, true
	wp.mu.Unlock()
	for _, wc := range idle {
		wc.c.Close()
	}
}
