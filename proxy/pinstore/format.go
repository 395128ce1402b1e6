package pinstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/gatewayd/gateway/proxy"
)

// The file: a header, then records of recordSize bytes, appended in the
// order the changes were taken. A record holds the whole state of one pin
// (or its end), so replaying the records in order leaves each pin as its
// last record says, and a record written twice does no harm.
//
//	header:  "GWPINS" | version u16 | len(app) u16 | app | crc32c u32
//	record:  kind u8 ('S' set, 'D' ended) | 3 zero bytes | key [16]
//	         | generation u32 | instance u32 | last seen i64 (unix ns)
//	         | crc32c u32 of the 36 bytes before it
//
// Integers are little-endian. A record that is cut short or fails its
// checksum ends the file: that is what a crash in the middle of a write
// leaves, and nothing after it can be trusted.

const (
	magic      = "GWPINS"
	version    = 1
	recordSize = 40
	maxApp     = 1024
)

var (
	le         = binary.LittleEndian
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// ErrRefused marks a file this gateway must not read as its own: another
// app's, another version's, or not a pin store at all.
var ErrRefused = errors.New("refused")

func appendHeader(b []byte, app string) []byte {
	start := len(b)
	b = append(b, magic...)
	b = le.AppendUint16(b, version)
	b = le.AppendUint16(b, uint16(len(app)))
	b = append(b, app...)
	return le.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

func headerSize(app string) int64 { return int64(len(magic) + 2 + 2 + len(app) + 4) }

// readHeader reads and checks the header at the start of r and returns its
// size.
func readHeader(r io.Reader, app string) (int64, error) {
	b := make([]byte, len(magic)+4, len(magic)+4+maxApp+4)
	if _, err := io.ReadFull(r, b); err != nil || string(b[:len(magic)]) != magic {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, err
		}
		return 0, fmt.Errorf("%w: not a pin store of the gateway", ErrRefused)
	}
	if v := le.Uint16(b[len(magic):]); v != version {
		return 0, fmt.Errorf("%w: pin store version %d, this gateway reads version %d", ErrRefused, v, version)
	}
	n := int(le.Uint16(b[len(magic)+2:]))
	if n > maxApp {
		return 0, fmt.Errorf("%w: the header is damaged", ErrRefused)
	}
	b = b[:len(b)+n+4]
	if _, err := io.ReadFull(r, b[len(magic)+4:]); err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, err
		}
		return 0, fmt.Errorf("%w: the header is cut short", ErrRefused)
	}
	end := len(b) - 4
	if crc32.Checksum(b[:end], castagnoli) != le.Uint32(b[end:]) {
		return 0, fmt.Errorf("%w: the header fails its checksum", ErrRefused)
	}
	if got := string(b[len(magic)+4 : end]); got != app {
		return 0, fmt.Errorf("%w: the pins of app %q, and this gateway runs app %q", ErrRefused, got, app)
	}
	return int64(len(b)), nil
}

func putRecord(b []byte, c proxy.PinChange) {
	b[0] = 'S'
	if c.Generation == 0 {
		b[0] = 'D'
	}
	b[1], b[2], b[3] = 0, 0, 0
	copy(b[4:20], c.Key[:])
	le.PutUint32(b[20:], c.Generation)
	le.PutUint32(b[24:], c.Instance)
	le.PutUint64(b[28:], uint64(c.LastSeen))
	le.PutUint32(b[36:], crc32.Checksum(b[:36], castagnoli))
}

// getRecord decodes one record; ok is false for anything putRecord would not
// have written.
func getRecord(b []byte) (c proxy.PinChange, ok bool) {
	if crc32.Checksum(b[:36], castagnoli) != le.Uint32(b[36:]) || b[1]|b[2]|b[3] != 0 {
		return c, false
	}
	copy(c.Key[:], b[4:20])
	c.Generation = le.Uint32(b[20:])
	c.Instance = le.Uint32(b[24:])
	c.LastSeen = int64(le.Uint64(b[28:]))
	switch b[0] {
	case 'S':
		return c, c.Generation != 0
	case 'D':
		return c, c.Generation == 0
	}
	return c, false
}
