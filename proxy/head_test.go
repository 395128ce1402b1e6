package proxy

import (
	"bufio"
	"net"
	"net/http"
	"testing"
)

// A head that arrives a byte at a time is served (it is parsed once its
// end may be there, see mayEndHead), and so is a bare-LF head refused.
func TestHeadByteByByte(t *testing.T) {
	f := newFixture(t, Options{})
	for _, c := range []struct {
		head string
		want int
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n", 200},
		{"GET / HTTP/1.1\nHost: x\n\n", 400},
		{"GET / HTTP/1.1\r\nHost: x\r\nBad : 1\r\n\r\n", 400},
	} {
		c2, err := net.Dial("tcp", f.front.Addr)
		if err != nil {
			t.Fatal(err)
		}
		for i := range len(c.head) {
			if _, err := c2.Write([]byte{c.head[i]}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
		c2.Close()
		if err != nil || resp.StatusCode != c.want {
			t.Errorf("%q a byte at a time: got %v, %v; want %d", c.head, resp, err, c.want)
		}
	}
}

func TestMayEndHead(t *testing.T) {
	for _, c := range []struct {
		in   string
		from int
		want bool
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\n", 0, false},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, true},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 24, true},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r", 0, false},
		{"GET / HTTP/1.1\n\n", 0, true},
		{"\r\n", 0, false},
	} {
		if got := mayEndHead([]byte(c.in), c.from); got != c.want {
			t.Errorf("mayEndHead(%q, %d): got %v, want %v", c.in, c.from, got, c.want)
		}
	}
}
