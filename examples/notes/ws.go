package main

// Minimal RFC 6455 framing, written for both sides: the server uses it
// unmasked, the test client masked, so one reader and one writer suffice.

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// wsGUID is the fixed suffix of RFC 6455 §1.3 that proves the server speaks
// WebSocket rather than echoing headers.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Opcodes (RFC 6455 §5.2).
const (
	opContinuation byte = 0x0
	opText         byte = 0x1
	opBinary       byte = 0x2
	opClose        byte = 0x8
	opPing         byte = 0x9
	opPong         byte = 0xA
)

// Close status codes (RFC 6455 §7.4.1) the echo server sends.
const (
	closeGoingAway     = 1001
	closeProtocolError = 1002
	closeInvalidData   = 1007
	closeTooBig        = 1009
)

var (
	errProtocol = errors.New("websocket: protocol error")
	errTooBig   = errors.New("websocket: frame too large")
)

type wsFrame struct {
	fin     bool
	op      byte
	masked  bool // as received; writeFrame masks when given a key
	payload []byte
}

func isControl(op byte) bool { return op&0x8 != 0 }

func wsAcceptKey(key string) string {
	sum := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// maskBytes applies (and, being XOR, removes) a masking key.
func maskBytes(key [4]byte, b []byte) {
	for i := range b {
		b[i] ^= key[i%4]
	}
}

// readFrame reads one frame and returns its payload unmasked. Frames with a
// payload above limit are refused before allocating it.
func readFrame(r io.Reader, limit int64) (wsFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return wsFrame{}, err
	}
	f := wsFrame{fin: h[0]&0x80 != 0, op: h[0] & 0x0f, masked: h[1]&0x80 != 0}
	if h[0]&0x70 != 0 { // RSV bits: no extension was negotiated
		return wsFrame{}, fmt.Errorf("%w: reserved bits set", errProtocol)
	}
	n, err := readLength(r, h[1]&0x7f)
	if err != nil {
		return wsFrame{}, err
	}
	if isControl(f.op) && (!f.fin || n > 125) {
		return wsFrame{}, fmt.Errorf("%w: fragmented or long control frame", errProtocol)
	}
	if n > uint64(limit) {
		return wsFrame{}, errTooBig
	}
	var key [4]byte
	if f.masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return wsFrame{}, err
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return wsFrame{}, err
	}
	if f.masked {
		maskBytes(key, f.payload)
	}
	return f, nil
}

// readLength decodes the 7-bit length or its 16-bit / 64-bit extensions.
func readLength(r io.Reader, short byte) (uint64, error) {
	switch short {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, err
		}
		return uint64(binary.BigEndian.Uint16(b[:])), nil
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, err
		}
		n := binary.BigEndian.Uint64(b[:])
		if n>>63 != 0 {
			return 0, fmt.Errorf("%w: 64-bit length with the top bit set", errProtocol)
		}
		return n, nil
	default:
		return uint64(short), nil
	}
}

// appendHeader encodes fin/opcode, the mask bit and the shortest length form.
func appendHeader(b []byte, fin bool, op byte, masked bool, n int) []byte {
	first := op
	if fin {
		first |= 0x80
	}
	var maskBit byte
	if masked {
		maskBit = 0x80
	}
	switch {
	case n <= 125:
		return append(b, first, maskBit|byte(n))
	case n <= 0xffff:
		b = append(b, first, maskBit|126)
		return binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, first, maskBit|127)
		return binary.BigEndian.AppendUint64(b, uint64(n))
	}
}

// writeFrame writes one frame. Servers pass a nil key; clients must pass one
// (RFC 6455 §5.3). The caller's payload is not modified.
func writeFrame(w io.Writer, fin bool, op byte, payload []byte, key *[4]byte) error {
	buf := appendHeader(make([]byte, 0, 14+len(payload)), fin, op, key != nil, len(payload))
	if key != nil {
		buf = append(buf, key[:]...)
	}
	start := len(buf)
	buf = append(buf, payload...)
	if key != nil {
		maskBytes(*key, buf[start:])
	}
	_, err := w.Write(buf)
	return err
}

// closePayload builds a close frame body: a status code and a short reason.
func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}
