package proxy

import (
	"bufio"
	"io"
	"net"
	"time"

	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// stream copies one body from a buffered connection to a buffered writer,
// in the forwarding goroutine. What is written is flushed before the next
// read would block, and only then: a body that arrives in one piece leaves
// in one write, and a stream (server-sent events) leaves as it comes.
// Every read and write is bounded by the idle and write timeouts.
type stream struct {
	src     *inbuf
	srd     *deadline
	srcConn net.Conn
	dst     *bufio.Writer
	dwd     *deadline
	dstConn net.Conn
	idle    time.Duration // longest wait for the next byte of the body
	wto     time.Duration // longest wait for a write to make progress
	// dstFailed is set when the writing side failed (the other side of the
	// error is the source, or the body's framing).
	dstFailed bool
	// maxFill bounds the buffer for framing (chunk lines, trailers).
	maxFill int
}

// more flushes what is written and reads more of the body.
func (s *stream) more() error {
	if s.dst.Buffered() > 0 {
		if err := s.flush(); err != nil {
			return err
		}
	}
	s.srd.arm(s.srcConn, false, time.Now(), s.idle)
	max := s.maxFill
	if max == 0 {
		max = len(s.src.buf)
	}
	return s.src.fill(max)
}

func (s *stream) flush() error {
	s.dwd.arm(s.dstConn, true, time.Now(), s.wto)
	if err := s.dst.Flush(); err != nil {
		s.dstFailed = true
		return err
	}
	return nil
}

func (s *stream) write(b []byte) error {
	if len(b) > s.dst.Available() {
		s.dwd.arm(s.dstConn, true, time.Now(), s.wto)
	}
	if _, err := s.dst.Write(b); err != nil {
		s.dstFailed = true
		return err
	}
	return nil
}

// body copies a worker's body framed as in says (n: its length), chunked
// for the client when rechunk is set.
func (s *stream) body(in framing, n int64, dec *h1.Chunked, rechunk bool) error {
	switch in {
	case bodyLength:
		return s.fixed(n)
	case bodyChunked:
		return s.chunked(dec, rechunk)
	case bodyEOF:
		return s.untilEOF(rechunk)
	}
	return nil
}

// fixed copies n bytes.
func (s *stream) fixed(n int64) error {
	for n > 0 {
		if len(s.src.buffered()) == 0 {
			if err := s.more(); err != nil {
				return noEOF(err)
			}
		}
		b := s.src.buffered()
		if int64(len(b)) > n {
			b = b[:n]
		}
		if err := s.write(b); err != nil {
			return err
		}
		s.src.discard(len(b))
		n -= int64(len(b))
	}
	return nil
}

// chunked decodes a chunked body and writes it chunked again (rechunk) or
// as plain data for an HTTP/1.0 client (trailers dropped).
func (s *stream) chunked(dec *h1.Chunked, rechunk bool) error {
	dec.Reset()
	s.maxFill = 128 << 10
	defer func() { s.maxFill = 0 }()
	for !dec.Done() {
		data, n, err := dec.Decode(s.src.buffered())
		if err == h1.ErrIncomplete {
			if err := s.more(); err != nil {
				return noEOF(err)
			}
			continue
		}
		if err != nil {
			return err
		}
		if len(data) > 0 {
			if err := s.chunk(data, rechunk); err != nil {
				return err
			}
		}
		if dec.Trailer != nil && rechunk {
			if err := s.write(lastChunk); err != nil {
				return err
			}
			if err := s.write(dec.Trailer); err != nil {
				return err
			}
		}
		s.src.discard(n)
	}
	return nil
}

var lastChunk = []byte("0\r\n")

func (s *stream) chunk(data []byte, rechunk bool) error {
	if rechunk {
		s.dwd.arm(s.dstConn, true, time.Now(), s.wto)
		writeChunkHeader(s.dst, len(data))
	}
	if err := s.write(data); err != nil {
		return err
	}
	if rechunk {
		return s.write(crlf)
	}
	return nil
}

var crlf, endChunks = []byte("\r\n"), []byte("0\r\n\r\n")

// untilEOF copies a body that ends with the connection.
func (s *stream) untilEOF(rechunk bool) error {
	for {
		if len(s.src.buffered()) == 0 {
			if err := s.more(); err == io.EOF && !s.dstFailed {
				if rechunk {
					return s.write(endChunks)
				}
				return nil
			} else if err != nil {
				return err
			}
		}
		b := s.src.buffered()
		if err := s.chunk(b, rechunk); err != nil {
			return err
		}
		s.src.discard(len(b))
	}
}

// noEOF turns the end of a connection in the middle of a body into the
// error it is.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
