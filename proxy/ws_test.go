package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// upgradeEcho switches to a line-echo protocol, enough to show that the
// proxy passes upgraded connections through and counts them.
func upgradeEcho(w http.ResponseWriter, r *http.Request) {
	c, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	rw.Flush()
	for {
		line, err := rw.ReadString('\n')
		if err != nil {
			return
		}
		rw.WriteString(line)
		rw.Flush()
	}
}

func dialUpgrade(t *testing.T, f *fixture, cookies string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(f.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\nCookie: "+cookies+"\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return c, br
}

func TestUpgradedConnectionKeepsGeneration(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.client(t)
	a.get("/login")
	c, br := dialUpgrade(t, f, "SID="+a.cookies["SID"])
	f.upgrade(t)
	a.get("/logout")
	if u := f.proxy.Usage(1); u.Upgraded != 1 || u.Idle() {
		t.Fatalf("gen 1 usage with an open upgrade: got %+v, want 1 upgraded", u)
	}
	io.WriteString(c, "hello\n")
	if line, _ := br.ReadString('\n'); line != "hello\n" {
		t.Fatalf("echo: got %q, want %q", line, "hello\n")
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !f.proxy.Usage(1).Idle() {
		if time.Now().After(deadline) {
			t.Fatalf("gen 1 not idle after the upgraded connection closed: %+v", f.proxy.Usage(1))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseHeldSpreadsOverWindow(t *testing.T) {
	f := newFixture(t, Options{})
	var conns []net.Conn
	for range 3 {
		c, _ := dialUpgrade(t, f, "")
		conns = append(conns, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.proxy.Usage(1).Upgraded != 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	closed := make(chan time.Time, 3)
	for _, c := range conns {
		go func() {
			io.Copy(io.Discard, c)
			closed <- time.Now()
		}()
	}
	start := time.Now()
	if n := f.proxy.CloseHeld(context.Background(), 1, 600*time.Millisecond); n != 3 {
		t.Fatalf("closed: got %d, want 3", n)
	}
	var last time.Time
	for range 3 {
		last = <-closed
	}
	// Spread, not all at once: the last one closes at least a full step
	// after the start (the ordering, not a speed, is what is checked).
	if last.Sub(start) < 400*time.Millisecond {
		t.Fatalf("all connections closed within %v; want them spread over the window", last.Sub(start))
	}
}
