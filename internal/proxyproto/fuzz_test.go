package proxyproto

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// FuzzAccept feeds Accept arbitrary bytes in arbitrary chunks and checks
// what must hold whatever they are; it also builds headers from the same
// bytes and checks that they come back as built.
func FuzzAccept(f *testing.F) {
	for _, tc := range validHeaders {
		f.Add([]byte(tc.header+request), uint8(1))
		f.Add([]byte(tc.header), uint8(200))
	}
	for _, tc := range malformedHeaders {
		f.Add([]byte(tc.header+request), uint8(7))
	}
	f.Add([]byte(request), uint8(0))
	f.Add(cat(netip.MustParseAddr("::ffff:1.2.3.4").AsSlice(), netip.MustParseAddr("5.6.7.8").AsSlice(), []byte{0, 1, 2, 3, 4}), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		checkAccept(t, data, int(chunk)%32+1)
		checkRoundTrip(t, data)
	})
}

// checkAccept checks that Accept, on any bytes, refuses them with one of
// its errors or keeps every byte past a header that is exactly a prefix of
// them, the same whatever the chunks they come in.
func checkAccept(t *testing.T, data []byte, chunk int) {
	pc, err := Accept(newChunkConn(data, chunk), time.Time{})
	whole, werr := Accept(newChunkConn(data, len(data)+1), time.Time{})
	if err != nil {
		if werr == nil || werr.Error() != err.Error() {
			t.Fatalf("in chunks of %d: %v; whole: %v", chunk, err, werr)
		}
		if !errors.Is(err, ErrNoHeader) && !errors.Is(err, ErrMalformed) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("error %v is none of Accept's", err)
		}
		return
	}
	if werr != nil {
		t.Fatalf("in chunks of %d: accepted; whole: %v", chunk, werr)
	}
	rest, err := io.ReadAll(pc)
	if err != nil || !bytes.HasSuffix(data, rest) {
		t.Fatalf("read %q, %v after the header of %q", rest, err, data)
	}
	h := data[:len(data)-len(rest)]
	if max := map[int]int{1: v1MaxLen, 2: v2MaxLen}[pc.Version()]; len(h) > max {
		t.Fatalf("v%d header of %d bytes accepted", pc.Version(), len(h))
	}
	alone, err := Accept(newChunkConn(h, len(h)), time.Time{})
	if err != nil {
		t.Fatalf("header %q alone: %v", h, err)
	}
	for _, c := range []*Conn{whole, alone} {
		if addrString(c.RemoteAddr()) != addrString(pc.RemoteAddr()) || addrString(c.LocalAddr()) != addrString(pc.LocalAddr()) {
			t.Fatalf("header %q: addresses %v %v, in chunks of %d %v %v", h, c.RemoteAddr(), c.LocalAddr(), chunk, pc.RemoteAddr(), pc.LocalAddr())
		}
	}
}

// checkRoundTrip builds v1 and v2 headers from the first 36 bytes of data
// (two addresses, in 4-byte form where the 37th byte is odd, and two
// ports), followed by the rest, and checks that Accept names the addresses
// built and returns the rest unchanged.
func checkRoundTrip(t *testing.T, data []byte) {
	if len(data) < 37 {
		return
	}
	src, dst := fuzzAddrPort(data[0:16], data[32:34], data[36]), fuzzAddrPort(data[16:32], data[34:36], data[36])
	wantSrc, wantDst := src, dst
	if !src.Addr().Unmap().Is4() || !dst.Addr().Unmap().Is4() {
		wantSrc = netip.AddrPortFrom(netip.AddrFrom16(src.Addr().As16()), src.Port())
		wantDst = netip.AddrPortFrom(netip.AddrFrom16(dst.Addr().As16()), dst.Port())
	} else {
		wantSrc = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		wantDst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	}
	payload := data[37:]
	for _, h := range [][]byte{AppendV1(nil, src, dst), AppendV2(nil, src, dst)} {
		pc, err := Accept(newChunkConn(append(h, payload...), 5), time.Time{})
		if err != nil {
			t.Fatalf("built header %q refused: %v", h, err)
		}
		r, l := pc.RemoteAddr().(*net.TCPAddr), pc.LocalAddr().(*net.TCPAddr)
		if r.AddrPort() != wantSrc || l.AddrPort() != wantDst {
			t.Fatalf("built header %q: addresses %v %v, want %v %v", h, r.AddrPort(), l.AddrPort(), wantSrc, wantDst)
		}
		if rest, err := io.ReadAll(pc); err != nil || !bytes.Equal(rest, payload) {
			t.Fatalf("built header %q: read %q, %v after it, want %q", h, rest, err, payload)
		}
	}
}

func fuzzAddrPort(ip, port []byte, form byte) netip.AddrPort {
	a := netip.AddrFrom16([16]byte(ip))
	if form&1 == 1 {
		a = netip.AddrFrom4([4]byte(ip[12:]))
	}
	return netip.AddrPortFrom(a, uint16(port[0])<<8|uint16(port[1]))
}
