package proxy

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// watchAfter is how long a worker may take to start answering before the
// gateway also watches the client's connection for a hang-up: a long poll
// whose user went away must not stay in flight (keeping its generation
// alive) until response_header_timeout. Prompt answers, the common case,
// cost nothing more.
const watchAfter = time.Second

// errClientGone: the client closed its connection while the worker had
// not answered yet.
var errClientGone = errors.New("the client closed its connection")

// past is a deadline that has passed: it wakes a blocked read at once.
var past = time.Unix(1, 0)

// awaitHead sends the buffered request (see workerConn.send) and waits for
// the worker's response head, at most timeout in all (0: no limit),
// watching the client from watchAfter on.
func (cc *clientConn) awaitHead(wc *workerConn, start time.Time, timeout time.Duration) error {
	first := watchAfter
	if timeout > 0 && timeout <= watchAfter {
		first = timeout
	}
	wc.rd.arm(wc.c, false, start, first)
	err := wc.send()
	if err == nil {
		err = wc.readHead(start, first)
	}
	if err == nil || !isTimeout(err) || first == timeout {
		return err
	}
	rest := time.Duration(0)
	if timeout > 0 {
		rest = timeout - watchAfter
	}
	// The worker's deadline is set before the watch starts: a watch that
	// finds the client gone at once wakes the read with a past deadline,
	// which arming it afterwards would overwrite (readHead re-arms with the
	// same values, which changes nothing).
	now := time.Now()
	wc.rd.arm(wc.c, false, now, rest)
	w := cc.watchClient(wc)
	err = wc.readHead(now, rest)
	if w.stop() {
		return errClientGone
	}
	return err
}

// clientWatch is a goroutine that waits for the client's connection to
// become readable without reading it: an end (or an error) means the
// client left, and the wait for the worker is cut short.
type clientWatch struct {
	cc   *clientConn
	done chan struct{}
	gone atomic.Bool
}

func (cc *clientConn) watchClient(wc *workerConn) *clientWatch {
	w := &clientWatch{cc: cc, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		if hungUp(cc.c) {
			w.gone.Store(true)
			wc.c.SetReadDeadline(past)
		}
	}()
	return w
}

// stop ends the watch and reports whether the client left.
func (w *clientWatch) stop() bool {
	w.cc.c.SetReadDeadline(past)
	<-w.done
	w.cc.rd.at = past // the next read arms its own deadline
	return w.gone.Load()
}

// hungUp waits until c is readable, without consuming anything, and
// reports whether what is there is its end. Bytes (a pipelined request)
// say nothing of a hang-up; a deadline ends the wait with false.
func hungUp(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	err = rc.Read(func(fd uintptr) bool {
		n, errno := peekByte(fd)
		if errno == syscall.EAGAIN {
			return false // not readable yet: wait
		}
		gone = errno != 0 || n == 0
		return true
	})
	return err == nil && gone
}
