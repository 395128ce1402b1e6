package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// wsConn is a minimal RFC 6455 client: enough to hold a WebSocket open
// through the gateway and exchange text messages with the sample app.
type wsConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialWS(t *testing.T, g *gateway, cookie string) *wsConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(g.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	req := "GET /ws HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\n"
	if cookie != "" {
		req += "Cookie: " + cookie + "\r\n"
	}
	io.WriteString(c, req+"\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("WebSocket handshake: got %v (%v), want 101", resp, err)
	}
	return &wsConn{c: c, br: br}
}

func (w *wsConn) send(msg string) error {
	var mask [4]byte
	rand.Read(mask[:])
	frame := []byte{0x81, 0x80 | byte(len(msg))}
	frame = append(frame, mask[:]...)
	for i := range len(msg) {
		frame = append(frame, msg[i]^mask[i%4])
	}
	_, err := w.c.Write(frame)
	return err
}

func (w *wsConn) recv() (string, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(w.br, hdr[:]); err != nil {
		return "", err
	}
	if op := hdr[0] & 0x0f; op != 1 {
		return "", fmt.Errorf("frame opcode %d, want a text frame", op)
	}
	n := int(hdr[1] & 0x7f)
	if n >= 126 {
		return "", fmt.Errorf("long frame in a test that sends short ones")
	}
	buf := make([]byte, n)
	_, err := io.ReadFull(w.br, buf)
	return string(buf), err
}

// echo sends msg and expects it back.
func (w *wsConn) echo(t *testing.T, msg string) {
	t.Helper()
	if err := w.send(msg); err != nil {
		t.Fatalf("WebSocket send: %v", err)
	}
	if got, err := w.recv(); err != nil || got != msg {
		t.Fatalf("WebSocket echo: got %q (%v), want %q", got, err, msg)
	}
}
