package proxyproto

import (
	"io"
	"net"
	"slices"
	"time"
)

// chunkConn is a connection whose reads return data in chunks of at most
// chunk bytes, as a peer's separate writes would arrive; the chunks left
// show what Accept did not read.
type chunkConn struct {
	net.Conn  // nil: a method the tests do not expect panics
	data      []byte
	chunk     int
	deadlines []time.Time
	err       error // returned once data is exhausted; io.EOF if nil
}

func newChunkConn(data []byte, chunk int) *chunkConn {
	return &chunkConn{data: slices.Clone(data), chunk: chunk}
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.chunk)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func (c *chunkConn) SetReadDeadline(t time.Time) error {
	c.deadlines = append(c.deadlines, t)
	return nil
}

var (
	ownRemote = &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1).To4(), Port: 40000}
	ownLocal  = &net.TCPAddr{IP: net.IPv4(10, 0, 0, 2).To4(), Port: 80}
)

func (c *chunkConn) RemoteAddr() net.Addr { return ownRemote }
func (c *chunkConn) LocalAddr() net.Addr  { return ownLocal }
