package proxyproto

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// serveOne accepts one connection on l, reads its header and returns what
// the server saw: the Conn's remote address and all it read after.
func serveOne(t *testing.T, l net.Listener, reply bool) <-chan string {
	t.Helper()
	out := make(chan string, 1)
	go func() {
		defer close(out)
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		pc, err := Accept(c, time.Now().Add(time.Minute))
		if err != nil {
			t.Error(err)
			return
		}
		if reply { // answered before the client sends its request
			pc.Write([]byte("!"))
		}
		body, err := io.ReadAll(pc)
		if err != nil {
			t.Error(err)
		}
		out <- addrString(pc.RemoteAddr()) + " " + string(body)
		pc.CloseWrite()
	}()
	return out
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func dial(t *testing.T, l net.Listener) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// TestLoopbackSplitWrites sends the header and the request over a real
// connection in writes that cut across both, as a balancer's segments can:
// the server sees the header's client and the whole request.
func TestLoopbackSplitWrites(t *testing.T) {
	src := netip.MustParseAddrPort("203.0.113.9:61000")
	dst := netip.MustParseAddrPort("198.51.100.1:443")
	for name, h := range map[string][]byte{"v1": AppendV1(nil, src, dst), "v2": AppendV2(nil, src, dst)} {
		l := listen(t)
		out := serveOne(t, l, false)
		c := dial(t, l)
		c.SetNoDelay(true)
		data := append(h, request...)
		for _, part := range [][]byte{data[:5], data[5 : len(h)+3], data[len(h)+3:]} {
			if _, err := c.Write(part); err != nil {
				t.Fatal(err)
			}
		}
		c.CloseWrite()
		if got, want := <-out, src.String()+" "+request; got != want {
			t.Errorf("%s: server saw %q, want %q", name, got, want)
		}
		// The server half-closed through the Conn: the client reads EOF.
		if rest, err := io.ReadAll(c); err != nil || len(rest) != 0 {
			t.Errorf("%s: after CloseWrite the client read %q, %v; want EOF", name, rest, err)
		}
	}
}

// TestLoopbackHeaderAlone checks that Accept returns on a header that
// arrives alone: the client waits for the server's answer before sending
// its request, which would deadlock were Accept to wait for more bytes.
func TestLoopbackHeaderAlone(t *testing.T) {
	src := netip.MustParseAddrPort("[2001:db8::7]:1000")
	l := listen(t)
	out := serveOne(t, l, true)
	c := dial(t, l)
	c.Write(AppendV2(nil, src, netip.MustParseAddrPort("[2001:db8::1]:80")))
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte(request))
	c.CloseWrite()
	if got, want := <-out, src.String()+" "+request; got != want {
		t.Errorf("server saw %q, want %q", got, want)
	}
}

// TestLoopbackDeadline checks that a peer sending nothing is given up on at
// the deadline (one already past, so that nothing is timed), with an error
// that says so, and that the deadline is cleared after.
func TestLoopbackDeadline(t *testing.T) {
	l := listen(t)
	client := dial(t, l)
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err = Accept(c, time.Now().Add(-time.Second)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("error %v, want os.ErrDeadlineExceeded", err)
	}
	// With the past deadline still set, this read would fail at once.
	client.Write([]byte("x"))
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		t.Errorf("read after Accept: %v; the deadline was not cleared", err)
	}
}
