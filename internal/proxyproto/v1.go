package proxyproto

import (
	"bytes"
	"net/netip"
)

// v1MaxLen is the spec's bound on a v1 header, CRLF included.
const v1MaxLen = 107

func scanV1(b []byte) (header, error) {
	if !hasPrefix(b, v1Prefix) {
		return header{}, ErrNoHeader
	}
	if len(b) < len(v1Prefix) {
		return header{need: len(v1Prefix)}, nil
	}
	i := bytes.IndexByte(b[:min(len(b), v1MaxLen)], '\n')
	if i < 0 {
		if len(b) >= v1MaxLen {
			return header{}, malformed("v1 header has no CRLF within %d bytes", v1MaxLen)
		}
		return header{need: len(b) + 1}, nil
	}
	src, dst, err := parseV1(b[:i+1])
	if err != nil {
		return header{}, err
	}
	return header{size: i + 1, version: 1, src: src, dst: dst}, nil
}

// parseV1 parses a whole v1 line, "PROXY " to LF: zero addresses for
// UNKNOWN, whose rest the spec says to ignore.
func parseV1(line []byte) (src, dst netip.AddrPort, err error) {
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return src, dst, malformed("v1 header ends in LF without CR")
	}
	body := line[len(v1Prefix) : len(line)-2]
	proto, rest, _ := bytes.Cut(body, []byte{' '})
	switch string(proto) {
	case "UNKNOWN":
		return src, dst, nil
	case "TCP4", "TCP6":
		return parseV1Addrs(rest, proto[3] == '6')
	}
	return src, dst, malformed("v1 header has protocol %q, want TCP4, TCP6 or UNKNOWN", proto)
}

// parseV1Addrs takes "src dst sport dport" field by field, so that an
// error names the field that is wrong.
func parseV1Addrs(rest []byte, v6 bool) (src, dst netip.AddrPort, err error) {
	var f [4][]byte
	for i := range f {
		var ok bool
		f[i], rest, ok = bytes.Cut(rest, []byte{' '})
		if len(f[i]) == 0 {
			return src, dst, malformed("v1 header field %d (%s) is empty: fields are separated by single spaces", i+1, v1Fields[i])
		}
		if !ok && i < 3 {
			return src, dst, malformed("v1 header has %d fields after the protocol, want 4", i+1)
		}
		if ok && i == 3 {
			return src, dst, malformed("v1 header has more than CRLF after the destination port")
		}
	}
	var a [2]netip.Addr
	var p [2]uint16
	for i := range 2 {
		if a[i], err = v1Addr(f[i], v6, v1Fields[i]); err != nil {
			return src, dst, err
		}
		if p[i], err = v1Port(f[i+2], v1Fields[i+2]); err != nil {
			return src, dst, err
		}
	}
	return netip.AddrPortFrom(a[0], p[0]), netip.AddrPortFrom(a[1], p[1]), nil
}

var v1Fields = [4]string{"source address", "destination address", "source port", "destination port"}

// v1Addr parses an address of the line's family; TCP4 gives a 4-byte
// address, never an IPv4-mapped one.
func v1Addr(f []byte, v6 bool, name string) (netip.Addr, error) {
	a, err := netip.ParseAddr(string(f))
	switch {
	case err != nil:
		return a, malformed("v1 header %s %q: %v", name, f, err)
	case v6 && (!a.Is6() || a.Zone() != ""):
		return a, malformed("v1 header %s %q is not an IPv6 address without zone, as TCP6 requires", name, f)
	case !v6 && !a.Is4():
		return a, malformed("v1 header %s %q is not an IPv4 address, as TCP4 requires", name, f)
	}
	return a, nil
}

// v1Port parses a port as the spec writes it: decimal, 0 to 65535, no
// leading zero, so that one port has one spelling.
func v1Port(f []byte, name string) (uint16, error) {
	if len(f) > 1 && f[0] == '0' {
		return 0, malformed("v1 header %s %q has a leading zero", name, f)
	}
	n := 0
	for _, ch := range f {
		if ch < '0' || ch > '9' {
			return 0, malformed("v1 header %s %q is not a decimal number", name, f)
		}
		if n = n*10 + int(ch-'0'); n > 0xffff {
			return 0, malformed("v1 header %s %q is not in 0-65535", name, f)
		}
	}
	return uint16(n), nil
}
