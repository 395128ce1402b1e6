package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// maxWSMessage bounds one (possibly fragmented) message; this is a test
// fixture, not a file server.
const maxWSMessage = 1 << 20

// wsTracker knows the hijacked connections, which http.Server.Shutdown does
// not, so a stopping generation can say goodbye (1001) instead of just
// vanishing.
type wsTracker struct {
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
	wg      sync.WaitGroup
}

func newWSTracker() *wsTracker { return &wsTracker{conns: make(map[net.Conn]struct{})} }

func (t *wsTracker) add(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false
	}
	t.conns[c] = struct{}{}
	t.wg.Add(1)
	return true
}

func (t *wsTracker) remove(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	t.wg.Done()
}

func (t *wsTracker) isClosing() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closing
}

// shutdown wakes every echo loop by expiring its read; the loop itself sends
// the close frame, so each connection keeps a single writer.
func (t *wsTracker) shutdown() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closing = true
	for c := range t.conns {
		c.SetReadDeadline(time.Now())
	}
}

func (t *wsTracker) wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func (a *app) websocket(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !headerHasToken(r.Header, "Upgrade", "websocket") || key == "" {
		http.Error(w, "expected a WebSocket upgrade", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot hijack: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Time{}) // the server's header timeout may still be armed
	if !a.ws.add(conn) {
		brw.WriteString("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		brw.Flush()
		return
	}
	defer a.ws.remove(conn)

	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + wsAcceptKey(key) + "\r\n\r\n")
	if brw.Flush() != nil {
		return
	}
	a.echoWS(brw.Reader, brw.Writer)
}

// echoWS echoes each complete text or binary message exactly, answers pings,
// and returns after the close handshake or any error.
func (a *app) echoWS(r *bufio.Reader, w *bufio.Writer) {
	send := func(op byte, payload []byte) error {
		if err := writeFrame(w, true, op, payload, nil); err != nil {
			return err
		}
		return w.Flush()
	}
	fail := func(code uint16, reason string) { send(opClose, closePayload(code, reason)) }

	var msgOp byte // opText or opBinary while a fragmented message is open
	var msg []byte
	for {
		f, err := readFrame(r, maxWSMessage)
		switch {
		case err == nil:
		case a.ws.isClosing():
			fail(closeGoingAway, "server shutting down")
			return
		case errors.Is(err, errTooBig):
			fail(closeTooBig, "message too big")
			return
		case errors.Is(err, errProtocol):
			fail(closeProtocolError, err.Error())
			return
		default:
			return // the peer went away
		}
		if !f.masked {
			fail(closeProtocolError, "client frames must be masked")
			return
		}
		switch f.op {
		case opPing:
			if send(opPong, f.payload) != nil {
				return
			}
			continue
		case opPong:
			continue
		case opClose:
			if len(f.payload) == 1 {
				fail(closeProtocolError, "bad close payload")
				return
			}
			send(opClose, f.payload) // complete the closing handshake
			return
		case opText, opBinary:
			if msgOp != 0 {
				fail(closeProtocolError, "new message inside a fragmented one")
				return
			}
			msgOp, msg = f.op, f.payload
		case opContinuation:
			if msgOp == 0 {
				fail(closeProtocolError, "continuation without a message")
				return
			}
			if len(msg)+len(f.payload) > maxWSMessage {
				fail(closeTooBig, "message too big")
				return
			}
			msg = append(msg, f.payload...)
		default:
			fail(closeProtocolError, "unknown opcode")
			return
		}
		if !f.fin {
			continue
		}
		if msgOp == opText && !utf8.Valid(msg) {
			fail(closeInvalidData, "text message is not UTF-8")
			return
		}
		if send(msgOp, msg) != nil {
			return
		}
		msgOp, msg = 0, nil
	}
}
