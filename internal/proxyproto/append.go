package proxyproto

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// The builders write headers as a balancer would, for tests and for tools
// that talk to a gateway listener configured for the protocol.
//
// Both endpoints IPv4 (or IPv4-mapped) give a TCP4 header; otherwise both
// are written as IPv6, IPv4 ones mapped; an invalid one gives a header
// that names no addresses (v1 UNKNOWN, v2 UNSPEC). Zones are dropped: the
// protocol has no place for them.

// AppendV1 appends a v1 (text) header naming src and dst to b.
func AppendV1(b []byte, src, dst netip.AddrPort) []byte {
	v6, ok := family(src, dst)
	switch {
	case !ok:
		return append(b, "PROXY UNKNOWN\r\n"...)
	case v6:
		b = append(b, "PROXY TCP6 "...)
	default:
		b = append(b, "PROXY TCP4 "...)
	}
	b = appendAddr(b, src.Addr(), v6)
	b = append(b, ' ')
	b = appendAddr(b, dst.Addr(), v6)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(src.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(dst.Port()), 10)
	return append(b, "\r\n"...)
}

// AppendV2 appends a v2 (binary) PROXY header naming src and dst to b.
func AppendV2(b []byte, src, dst netip.AddrPort) []byte {
	v6, ok := family(src, dst)
	b = append(b, v2Sig...)
	switch {
	case !ok:
		return append(b, cmdProxy, famUnspec, 0, 0)
	case v6:
		b = append(b, cmdProxy, famTCP6, 0, addrLenTCP6)
	default:
		b = append(b, cmdProxy, famTCP4, 0, addrLenTCP4)
	}
	b = appendRaw(b, src.Addr(), v6)
	b = appendRaw(b, dst.Addr(), v6)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

// family says whether src and dst are written as IPv6, and whether they can
// be written at all.
func family(src, dst netip.AddrPort) (v6, ok bool) {
	if !src.Addr().IsValid() || !dst.Addr().IsValid() {
		return false, false
	}
	return !src.Addr().Unmap().Is4() || !dst.Addr().Unmap().Is4(), true
}

func appendAddr(b []byte, a netip.Addr, v6 bool) []byte {
	return norm(a, v6).AppendTo(b)
}

func appendRaw(b []byte, a netip.Addr, v6 bool) []byte {
	if v6 {
		ip := a.As16()
		return append(b, ip[:]...)
	}
	ip := a.Unmap().As4()
	return append(b, ip[:]...)
}

// norm is a as the header's family writes it.
func norm(a netip.Addr, v6 bool) netip.Addr {
	if v6 {
		return netip.AddrFrom16(a.As16())
	}
	return a.Unmap()
}
