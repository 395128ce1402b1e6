package proxy

import (
	"errors"
	"io"
	"net"
	"time"
)

// inbuf is a connection's read buffer. Parsed heads are slices of it, valid
// until the next fill (which may move what is buffered to the front).
type inbuf struct {
	conn net.Conn
	buf  []byte
	r, w int
}

// errHeadTooLarge: a head did not fit in the largest buffer allowed.
var errHeadTooLarge = errors.New("head too large")

func (b *inbuf) init(c net.Conn, size int) {
	b.conn, b.r, b.w = c, 0, 0
	if cap(b.buf) < size {
		b.buf = make([]byte, size)
	}
	b.buf = b.buf[:cap(b.buf)]
}

func (b *inbuf) buffered() []byte { return b.buf[b.r:b.w] }

func (b *inbuf) discard(n int) {
	b.r += n
	if b.r == b.w {
		b.r, b.w = 0, 0
	}
}

// fill reads at least one more byte. When the buffer is full it grows up to
// max bytes (to hold a large head), and past that fails with
// errHeadTooLarge.
func (b *inbuf) fill(max int) error {
	if b.w == len(b.buf) && b.r > 0 {
		b.w = copy(b.buf, b.buf[b.r:b.w])
		b.r = 0
	}
	if b.w == len(b.buf) {
		if len(b.buf) >= max {
			return errHeadTooLarge
		}
		grown := make([]byte, min(2*len(b.buf), max))
		b.w = copy(grown, b.buf[b.r:b.w])
		b.r, b.buf = 0, grown
	}
	n, err := b.conn.Read(b.buf[b.w:])
	b.w += n
	switch {
	case n > 0:
		return nil
	case err == nil:
		return io.ErrNoProgress
	}
	return err
}

// deadline keeps one direction's deadline of a connection. It moves the
// deadline only when it is off by more than a sixteenth of the timeout, so
// that a busy keep-alive connection does not re-arm a runtime timer on
// every request: a timeout fires between 15/16 and 16/16 of its value
// after the last progress.
type deadline struct{ at time.Time }

func (d *deadline) arm(c net.Conn, write bool, now time.Time, timeout time.Duration) {
	var want time.Time
	if timeout > 0 {
		want = now.Add(timeout)
		if !d.at.IsZero() {
			if diff := want.Sub(d.at); diff >= 0 && diff < timeout/16 {
				return
			}
		}
	} else if d.at.IsZero() {
		return
	}
	d.at = want
	if write {
		c.SetWriteDeadline(want)
	} else {
		c.SetReadDeadline(want)
	}
}

// isTimeout reports a deadline that passed.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
