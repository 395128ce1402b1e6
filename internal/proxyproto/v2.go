package proxyproto

import (
	"encoding/binary"
	"net/netip"
)

const (
	v2FixedLen = 16 // signature, version/command, family/protocol, length
	// v2MaxLen bounds a v2 header below the spec's 16+65535: the header
	// is read before anything is known of the peer, and a peer sending
	// 64 KiB headers on many connections would make the gateway hold that
	// much per connection. Balancers' TLVs (HAProxy's SSL and unique-id
	// ones, cloud balancers' endpoint ids) take well under 4 KiB.
	v2MaxLen = v2FixedLen + 4096

	cmdLocal  = 0x20
	cmdProxy  = 0x21
	famUnspec = 0x00
	famTCP4   = 0x11
	famTCP6   = 0x21
	famUnix   = 0x31

	addrLenTCP4 = 12
	addrLenTCP6 = 36
	addrLenUnix = 216
)

func scanV2(b []byte) (header, error) {
	if !hasPrefix(b, v2Sig) {
		return header{}, ErrNoHeader
	}
	if len(b) < v2FixedLen {
		return header{need: v2FixedLen}, nil
	}
	size := v2FixedLen + int(binary.BigEndian.Uint16(b[14:16]))
	if size > v2MaxLen {
		return header{}, malformed("v2 header of %d bytes, longer than the %d accepted", size, v2MaxLen)
	}
	if len(b) < size {
		return header{need: size}, nil
	}
	src, dst, err := parseV2(b[:size])
	if err != nil {
		return header{}, err
	}
	return header{size: size, version: 2, src: src, dst: dst}, nil
}

// parseV2 parses a whole v2 header: zero addresses where it names none the
// gateway can use (LOCAL, UNSPEC, unix sockets).
func parseV2(h []byte) (src, dst netip.AddrPort, err error) {
	switch h[12] {
	case cmdLocal:
		// A balancer's own connection (a health check): the spec says to
		// ignore the rest, family included.
		return src, dst, nil
	case cmdProxy:
	default:
		if h[12]>>4 != 2 {
			return src, dst, malformed("v2 header has version %d, want 2", h[12]>>4)
		}
		return src, dst, malformed("v2 header has command %#x, want 0 (LOCAL) or 1 (PROXY)", h[12]&0xf)
	}
	fam, body := h[13], h[v2FixedLen:]
	if fam == famUnspec {
		// An unsupported protocol: the spec says to ignore the block.
		return src, dst, nil
	}
	n, err := v2AddrLen(fam)
	if err != nil {
		return src, dst, err
	}
	if len(body) < n {
		return src, dst, malformed("v2 header family %#02x needs %d address bytes, has %d", fam, n, len(body))
	}
	if err := checkTLVs(body[n:]); err != nil {
		return src, dst, err
	}
	src, dst = v2Addrs(fam, body)
	return src, dst, nil
}

// v2AddrLen is the size of the address block of a family the gateway can
// be sent on a stream connection.
func v2AddrLen(fam byte) (int, error) {
	switch fam {
	case famTCP4:
		return addrLenTCP4, nil
	case famTCP6:
		return addrLenTCP6, nil
	case famUnix:
		return addrLenUnix, nil
	case 0x12, 0x22, 0x32:
		return 0, malformed("v2 header family %#02x is a datagram protocol, on a stream connection", fam)
	}
	return 0, malformed("v2 header has unknown family/protocol %#02x", fam)
}

// v2Addrs reads the addresses of a TCP family; TCP4 ones are 4-byte
// addresses, never IPv4-mapped ones.
func v2Addrs(fam byte, body []byte) (src, dst netip.AddrPort) {
	switch fam {
	case famTCP4:
		s, d := netip.AddrFrom4([4]byte(body[0:4])), netip.AddrFrom4([4]byte(body[4:8]))
		return netip.AddrPortFrom(s, be16(body[8:])), netip.AddrPortFrom(d, be16(body[10:]))
	case famTCP6:
		s, d := netip.AddrFrom16([16]byte(body[0:16])), netip.AddrFrom16([16]byte(body[16:32]))
		return netip.AddrPortFrom(s, be16(body[32:])), netip.AddrPortFrom(d, be16(body[34:]))
	}
	return src, dst
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// checkTLVs checks that the TLVs after the addresses fill the header
// exactly. None is used, but a header whose TLVs do not add up was not
// built by a sender that follows the spec.
func checkTLVs(t []byte) error {
	for len(t) > 0 {
		if len(t) < 3 {
			return malformed("v2 header ends in %d bytes too short for a TLV", len(t))
		}
		n := 3 + int(be16(t[1:3]))
		if n > len(t) {
			return malformed("v2 header TLV of type %#02x claims %d bytes, %d remain", t[0], n, len(t))
		}
		t = t[n:]
	}
	return nil
}
