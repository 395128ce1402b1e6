package proxy

// The engine's own cost per request, with a backend and a client that
// allocate nothing themselves, so that allocs/op is the proxy's alone:
//
//	go test -run '^$' -bench 'Engine' -benchmem ./proxy/

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// rawBackend answers every request (a head without a body) with resp,
// reading and writing fixed buffers only.
func rawBackend(tb testing.TB, resp []byte) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 16<<10)
				n := 0
				for {
					m, err := c.Read(buf[n:])
					if err != nil {
						return
					}
					n += m
					for {
						end := bytes.Index(buf[:n], []byte("\r\n\r\n"))
						if end < 0 {
							break
						}
						if _, err := c.Write(resp); err != nil {
							return
						}
						n = copy(buf, buf[end+4:n])
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// rawClient sends req on one kept-alive connection and reads one answer
// with a body of Content-Length bytes.
type rawClient struct {
	c   net.Conn
	req []byte
	buf []byte
}

func (rc *rawClient) do() (status int, err error) {
	if _, err := rc.c.Write(rc.req); err != nil {
		return 0, err
	}
	n := 0
	for {
		m, err := rc.c.Read(rc.buf[n:])
		if err != nil {
			return 0, err
		}
		n += m
		end := bytes.Index(rc.buf[:n], []byte("\r\n\r\n"))
		if end < 0 {
			continue
		}
		head := rc.buf[:end]
		i := bytes.Index(head, []byte("Content-Length: "))
		if i < 0 {
			return 0, io.ErrUnexpectedEOF
		}
		j := bytes.IndexByte(head[i:], '\r')
		if j < 0 {
			j = len(head) - i
		}
		length, _ := strconv.Atoi(string(head[i+16 : i+j]))
		for n < end+4+length {
			m, err := rc.c.Read(rc.buf[n:])
			if err != nil {
				return 0, err
			}
			n += m
		}
		status, _ = strconv.Atoi(string(rc.buf[9:12]))
		return status, nil
	}
}

func benchEngine(b *testing.B, pinned, canary bool) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(benchBody)) + "\r\n\r\n" + string(benchBody))
	addr := rawBackend(b, resp)
	routes := &fleet.Routes{Active: &fleet.Route{Generation: 1, Revision: "r1",
		Instances: []fleet.Endpoint{{Instance: 1, Network: "tcp", Address: addr}}}}
	if canary {
		routes.Canary, routes.CanaryShare = &fleet.Route{Generation: 2, Revision: "r2",
			Instances: []fleet.Endpoint{{Instance: 1, Network: "tcp", Address: addr}}}, 0.5
	}
	h, _ := NewHasher(benchSecret)
	p, err := New(Options{Hasher: h, SessionCookie: "SID", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	p.Publish(routes)
	f := serveProxy(b, p, ServerOptions{})
	req := "GET /whoami HTTP/1.1\r\nHost: gateway.test\r\nUser-Agent: bench\r\nAccept: */*\r\n"
	if pinned {
		p.pins.set(h.Key(benchSessionID), 1, 1, time.Now())
		req += "Cookie: " + benchCookieHeader(h) + "\r\n"
	}
	c, err := net.Dial("tcp", f.Addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	rc := &rawClient{c: c, req: []byte(req + "\r\n"), buf: make([]byte, 16<<10)}
	for range 10 { // warm the pools and buffers
		if st, err := rc.do(); err != nil || st != 200 {
			b.Fatalf("warm-up: status %d, %v", st, err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rc.do(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnginePinned: a logged-in browser's request (session and
// affinity cookies among others, pinned session) on a kept-alive
// connection. The budget: 0 allocs/op.
func BenchmarkEnginePinned(b *testing.B) { benchEngine(b, true, false) }

// BenchmarkEngineAnonymous: the same without cookies.
func BenchmarkEngineAnonymous(b *testing.B) { benchEngine(b, false, false) }

// BenchmarkEngineCanary: anonymous requests, half of them drawn to a
// canary. The budget is the same: the draw allocates nothing.
func BenchmarkEngineCanary(b *testing.B) { benchEngine(b, false, true) }
