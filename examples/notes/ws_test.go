package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// wsClient is the smallest client the echo server needs: it masks what it
// sends and reads frames with the same code the server uses.
type wsClient struct {
	conn net.Conn
	r    *bufio.Reader
}

// dialWS performs the opening handshake against an http:// test server URL.
func dialWS(t *testing.T, serverURL, path string) *wsClient {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(serverURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))

	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req, _ := http.NewRequest("GET", serverURL+path, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", key)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: got status %d, want 101", resp.StatusCode)
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), wsAcceptKey(key); got != want {
		t.Fatalf("Sec-WebSocket-Accept: got %q, want %q", got, want)
	}
	if got := resp.Header.Get("Upgrade"); !strings.EqualFold(got, "websocket") {
		t.Fatalf("Upgrade: got %q, want %q", got, "websocket")
	}
	return &wsClient{conn: conn, r: r}
}

func (c *wsClient) send(t *testing.T, fin bool, op byte, payload []byte) {
	t.Helper()
	var key [4]byte
	rand.Read(key[:])
	if err := writeFrame(c.conn, fin, op, payload, &key); err != nil {
		t.Fatal(err)
	}
}

func (c *wsClient) read(t *testing.T) wsFrame {
	t.Helper()
	f, err := readFrame(c.r, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if f.masked {
		t.Error("server frame is masked")
	}
	return f
}

func TestWSAcceptKey(t *testing.T) {
	// The worked example of RFC 6455 §1.3.
	if got, want := wsAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFrameRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		size       int
		wantHeader int // bytes before the payload, mask key excluded
	}{
		{0, 2}, {125, 2}, {126, 4}, {200, 4}, {65535, 4}, {65536, 10}, {70000, 10},
	} {
		for _, masked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d masked=%v", tc.size, masked), func(t *testing.T) {
				payload := bytes.Repeat([]byte{'x'}, tc.size)
				var key *[4]byte
				if masked {
					key = &[4]byte{1, 2, 3, 4}
				}
				var buf bytes.Buffer
				if err := writeFrame(&buf, true, opBinary, payload, key); err != nil {
					t.Fatal(err)
				}
				wantLen := tc.wantHeader + tc.size
				if masked {
					wantLen += 4
				}
				if buf.Len() != wantLen {
					t.Errorf("encoded length: got %d, want %d", buf.Len(), wantLen)
				}
				f, err := readFrame(&buf, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if !f.fin || f.op != opBinary || f.masked != masked || !bytes.Equal(f.payload, payload) {
					t.Errorf("got fin=%v op=%d masked=%v len=%d, want fin op=%d masked=%v len=%d",
						f.fin, f.op, f.masked, len(f.payload), opBinary, masked, tc.size)
				}
			})
		}
	}
}

func TestReadFrameRejects(t *testing.T) {
	long := binary.BigEndian.AppendUint64([]byte{0x82, 127}, 1<<63)
	for _, tc := range []struct {
		name  string
		frame []byte
		limit int64
	}{
		{"reserved bits", []byte{0xC1, 0x00}, 100},
		{"fragmented ping", []byte{0x09, 0x00}, 100},
		{"long ping", []byte{0x89, 126, 0, 126}, 1000},
		{"over limit", []byte{0x82, 126, 0x01, 0x00}, 100},
		{"top bit of 64-bit length", long, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := readFrame(bytes.NewReader(tc.frame), tc.limit); err == nil {
				t.Errorf("got no error for % x", tc.frame)
			}
		})
	}
}

func TestWebSocketEcho(t *testing.T) {
	srv := httptest.NewServer(newTestApp().routes())
	defer srv.Close()
	c := dialWS(t, srv.URL, "/ws")

	for _, tc := range []struct {
		name    string
		op      byte
		payload []byte
	}{
		{"short text", opText, []byte("hello")},
		{"200 bytes (16-bit length)", opBinary, bytes.Repeat([]byte{0xAB}, 200)},
		{"70000 bytes (64-bit length)", opBinary, bytes.Repeat([]byte("0123456789"), 7000)},
		{"empty text", opText, nil},
		{"unicode", opText, []byte("héllo ✓")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.send(t, true, tc.op, tc.payload)
			f := c.read(t)
			if f.op != tc.op || !f.fin {
				t.Errorf("frame: got op=%d fin=%v, want op=%d fin", f.op, f.fin, tc.op)
			}
			if !bytes.Equal(f.payload, tc.payload) {
				t.Errorf("payload: got %d bytes %q, want %d bytes %q", len(f.payload), trim(f.payload), len(tc.payload), trim(tc.payload))
			}
		})
	}

	t.Run("ping", func(t *testing.T) {
		c.send(t, true, opPing, []byte("p1"))
		if f := c.read(t); f.op != opPong || string(f.payload) != "p1" {
			t.Errorf("got op=%d %q, want pong %q", f.op, f.payload, "p1")
		}
	})

	t.Run("fragmented with ping inside", func(t *testing.T) {
		c.send(t, false, opText, []byte("frag"))
		c.send(t, true, opPing, nil)
		c.send(t, true, opContinuation, []byte("mented"))
		if f := c.read(t); f.op != opPong {
			t.Errorf("first answer: got op=%d, want pong", f.op)
		}
		if f := c.read(t); f.op != opText || string(f.payload) != "fragmented" {
			t.Errorf("got op=%d %q, want text %q", f.op, f.payload, "fragmented")
		}
	})

	t.Run("close", func(t *testing.T) {
		c.send(t, true, opClose, closePayload(1000, "bye"))
		f := c.read(t)
		if f.op != opClose || !bytes.Equal(f.payload, closePayload(1000, "bye")) {
			t.Errorf("got op=%d %q, want the close frame echoed", f.op, f.payload)
		}
		if _, err := c.r.ReadByte(); err == nil {
			t.Error("connection still open after close")
		}
	})
}

func TestWebSocketProtocolErrors(t *testing.T) {
	srv := httptest.NewServer(newTestApp().routes())
	defer srv.Close()
	for _, tc := range []struct {
		name     string
		frame    func(c *wsClient)
		wantCode uint16
	}{
		{"unmasked", func(c *wsClient) { writeFrame(c.conn, true, opText, []byte("x"), nil) }, closeProtocolError},
		{"bad utf-8", func(c *wsClient) { c.send(t, true, opText, []byte{0xff, 0xfe}) }, closeInvalidData},
		{"stray continuation", func(c *wsClient) { c.send(t, true, opContinuation, []byte("x")) }, closeProtocolError},
		{"unknown opcode", func(c *wsClient) { c.send(t, true, 0x3, nil) }, closeProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWS(t, srv.URL, "/ws")
			tc.frame(c)
			f := c.read(t)
			if f.op != opClose || len(f.payload) < 2 {
				t.Fatalf("got op=%d %q, want a close frame", f.op, f.payload)
			}
			if got := binary.BigEndian.Uint16(f.payload); got != tc.wantCode {
				t.Errorf("close code: got %d, want %d", got, tc.wantCode)
			}
		})
	}
}

func TestWebSocketHandshakeRefused(t *testing.T) {
	a := newTestApp()
	for _, tc := range []struct {
		name    string
		headers map[string]string
	}{
		{"plain GET", nil},
		{"no key", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket"}},
		{"other upgrade", map[string]string{"Connection": "Upgrade", "Upgrade": "h2c", "Sec-WebSocket-Key": "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/ws", nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			a.routes().ServeHTTP(rec, req)
			if got, want := rec.Code, http.StatusBadRequest; got != want {
				t.Errorf("status: got %d, want %d", got, want)
			}
		})
	}
}

// TestWebSocketShutdown checks that a stopping server says goodbye with 1001
// instead of leaving hijacked connections to be cut.
func TestWebSocketShutdown(t *testing.T) {
	a := newTestApp()
	srv := httptest.NewUnstartedServer(a.routes())
	srv.Config.RegisterOnShutdown(a.ws.shutdown)
	srv.Start()
	defer srv.Close()
	c := dialWS(t, srv.URL, "/ws")
	c.send(t, true, opText, []byte("hi"))
	c.read(t) // the echo: the server loop is running

	srv.Config.Shutdown(t.Context())
	f := c.read(t)
	if f.op != opClose || len(f.payload) < 2 {
		t.Fatalf("got op=%d %q, want a close frame", f.op, f.payload)
	}
	if got, want := binary.BigEndian.Uint16(f.payload), uint16(closeGoingAway); got != want {
		t.Errorf("close code: got %d, want %d", got, want)
	}
}

func trim(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}
