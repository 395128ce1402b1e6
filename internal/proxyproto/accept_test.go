package proxyproto

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

const request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"

// v2 builds a v2 header by hand, so that the parser is not only checked
// against the builders: ver/cmd byte, family byte, then the rest (address
// block and TLVs), whose length it fills in.
func v2(verCmd, fam byte, rest ...byte) string {
	h := append([]byte(string(v2Sig)), verCmd, fam, byte(len(rest)>>8), byte(len(rest)))
	return string(append(h, rest...))
}

var (
	v4Block = []byte{192, 0, 2, 1, 198, 51, 100, 7, 0xc3, 0x50, 0x01, 0xbb} // 192.0.2.1:50000 -> 198.51.100.7:443
	v6Block = cat(netip.MustParseAddr("2001:db8::1").AsSlice(), netip.MustParseAddr("2001:db8::2").AsSlice(),
		[]byte{0x04, 0xd2, 0x00, 0x50}) // [2001:db8::1]:1234 -> [2001:db8::2]:80
	tlvs = []byte{0x04, 0, 0, 0x05, 0, 3, 'a', 'b', 'c'} // a NOOP and a unique-id TLV
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var validHeaders = []struct {
	name, header  string
	version       int
	remote, local string
	ownAddrs      bool
}{
	{"v1 TCP4", "PROXY TCP4 192.0.2.1 198.51.100.7 50000 443\r\n", 1, "192.0.2.1:50000", "198.51.100.7:443", false},
	{"v1 TCP4 ports 0 and 65535", "PROXY TCP4 192.0.2.1 198.51.100.7 0 65535\r\n", 1, "192.0.2.1:0", "198.51.100.7:65535", false},
	{"v1 TCP6", "PROXY TCP6 2001:db8::1 2001:db8::2 1234 80\r\n", 1, "[2001:db8::1]:1234", "[2001:db8::2]:80", false},
	{"v1 TCP6 mapped", "PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n", 1, "[::ffff:192.0.2.1]:1", "[::1]:2", false},
	{"v1 UNKNOWN", "PROXY UNKNOWN\r\n", 1, "", "", true},
	{"v1 UNKNOWN with anything", "PROXY UNKNOWN ffff::1 garbage  x\r\n", 1, "", "", true},
	{"v1 longest", "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n", 1,
		"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", false},
	{"v1 UNKNOWN of 107 bytes", "PROXY UNKNOWN " + strings.Repeat("x", 107-16) + "\r\n", 1, "", "", true},
	{"v2 TCP4", v2(0x21, 0x11, v4Block...), 2, "192.0.2.1:50000", "198.51.100.7:443", false},
	{"v2 TCP4 with TLVs", v2(0x21, 0x11, cat(v4Block, tlvs)...), 2, "192.0.2.1:50000", "198.51.100.7:443", false},
	{"v2 TCP4 with a TLV larger than the inline buffer", v2(0x21, 0x11, cat(v4Block, []byte{0xe0, 0x03, 0xe8}, make([]byte, 1000))...), 2,
		"192.0.2.1:50000", "198.51.100.7:443", false},
	{"v2 TCP6", v2(0x21, 0x21, v6Block...), 2, "[2001:db8::1]:1234", "[2001:db8::2]:80", false},
	{"v2 TCP6 with TLVs", v2(0x21, 0x21, cat(v6Block, tlvs)...), 2, "[2001:db8::1]:1234", "[2001:db8::2]:80", false},
	{"v2 UNIX", v2(0x21, 0x31, make([]byte, 216)...), 2, "", "", true},
	{"v2 UNSPEC", v2(0x21, 0x00), 2, "", "", true},
	{"v2 UNSPEC with a block to ignore", v2(0x21, 0x00, 1, 2, 3), 2, "", "", true},
	{"v2 LOCAL", v2(0x20, 0x00), 2, "", "", true},
	{"v2 LOCAL ignores its family and addresses", v2(0x20, 0x11, v4Block...), 2, "", "", true},
	{"v2 LOCAL ignores even a bad family", v2(0x20, 0xff, 1), 2, "", "", true},
	{"v2 of the largest length accepted", v2(0x21, 0x11, cat(v4Block, []byte{0xe0, 0x0f, 0xf1}, make([]byte, 4096-12-3))...), 2,
		"192.0.2.1:50000", "198.51.100.7:443", false},
}

// TestAcceptValid checks every valid header, whole and split at every
// chunk size a peer could write, followed by a request: the addresses are
// the header's and the request comes out of Read unchanged.
func TestAcceptValid(t *testing.T) {
	for _, tc := range validHeaders {
		for _, chunk := range []int{1, 2, 7, 16, 64, 1 << 20} {
			c := newChunkConn([]byte(tc.header+request), chunk)
			pc, err := Accept(c, time.Time{})
			if err != nil {
				t.Fatalf("%s, chunks of %d: %v", tc.name, chunk, err)
			}
			remote, local := tc.remote, tc.local
			if tc.ownAddrs {
				remote, local = ownRemote.String(), ownLocal.String()
			}
			if got := addrString(pc.RemoteAddr()); got != remote {
				t.Errorf("%s: RemoteAddr %s, want %s", tc.name, got, remote)
			}
			if got := addrString(pc.LocalAddr()); got != local {
				t.Errorf("%s: LocalAddr %s, want %s", tc.name, got, local)
			}
			if pc.Version() != tc.version {
				t.Errorf("%s: Version %d, want %d", tc.name, pc.Version(), tc.version)
			}
			if got, err := io.ReadAll(pc); err != nil || string(got) != request {
				t.Errorf("%s, chunks of %d: read %q, %v after the header; want %q", tc.name, chunk, got, err, request)
			}
		}
	}
}

// addrString writes IPv4-mapped addresses as such, unlike net.IP.
func addrString(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().String()
	}
	return a.String()
}

// TestAcceptReadsNoFurther checks that Accept returns once the header is
// in, without waiting for bytes it does not need: a peer that sends the
// header and waits for an answer before sending more must get one.
func TestAcceptReadsNoFurther(t *testing.T) {
	for _, tc := range validHeaders {
		c := newChunkConn([]byte(tc.header), 1)
		c.err = errors.New("read past the header")
		if _, err := Accept(c, time.Time{}); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestAcceptTCP4Unmapped checks that TCP4 addresses are 4-byte ones, as the
// request path and trusted_proxies prefixes compare them.
func TestAcceptTCP4Unmapped(t *testing.T) {
	for _, h := range []string{validHeaders[0].header, v2(0x21, 0x11, v4Block...)} {
		pc, err := Accept(newChunkConn([]byte(h), 1<<20), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []net.Addr{pc.RemoteAddr(), pc.LocalAddr()} {
			ta, ok := a.(*net.TCPAddr)
			if !ok || len(ta.IP) != 4 || !ta.AddrPort().Addr().Is4() {
				t.Errorf("%q: address %#v, want a *net.TCPAddr with a 4-byte IP", h, a)
			}
		}
	}
}

var malformedHeaders = []struct{ name, header, want string }{
	{"v1 lowercase protocol", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", `protocol "tcp4", want TCP4, TCP6 or UNKNOWN`},
	{"v1 TCP5", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", `protocol "TCP5"`},
	{"v1 UNKNOWN glued", "PROXY UNKNOWNX\r\n", `protocol "UNKNOWNX"`},
	{"v1 double space after PROXY", "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", `protocol ""`},
	{"v1 double space between fields", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "field 2 (destination address) is empty"},
	{"v1 no fields", "PROXY TCP4\r\n", "field 1 (source address) is empty"},
	{"v1 three fields", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "has 3 fields after the protocol, want 4"},
	{"v1 five fields", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "more than CRLF after the destination port"},
	{"v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "more than CRLF after the destination port"},
	{"v1 LF only", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "ends in LF without CR"},
	{"v1 no CRLF in 107 bytes", "PROXY UNKNOWN " + strings.Repeat("x", 200), "no CRLF within 107 bytes"},
	{"v1 108 bytes", "PROXY UNKNOWN " + strings.Repeat("x", 107-15) + "\r\n", "no CRLF within 107 bytes"},
	{"v1 bad IPv4", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", `source address "1.2.3"`},
	{"v1 IPv4 leading zero", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", `source address "01.2.3.4"`},
	{"v1 IPv6 in TCP4", "PROXY TCP4 1.2.3.4 ::1 1 2\r\n", `destination address "::1" is not an IPv4 address`},
	{"v1 mapped IPv4 in TCP4", "PROXY TCP4 ::ffff:1.2.3.4 5.6.7.8 1 2\r\n", `source address "::ffff:1.2.3.4" is not an IPv4 address`},
	{"v1 IPv4 in TCP6", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", `source address "1.2.3.4" is not an IPv6 address`},
	{"v1 zone in TCP6", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", `"fe80::1%eth0" is not an IPv6 address without zone`},
	{"v1 port leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", `source port "01" has a leading zero`},
	{"v1 port 00", "PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n", `destination port "00" has a leading zero`},
	{"v1 port too large", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", `source port "65536" is not in 0-65535`},
	{"v1 port too long", "PROXY TCP4 1.2.3.4 5.6.7.8 1 1000000000000000000000\r\n", `destination port "1000000000000000000000" is not in 0-65535`},
	{"v1 port sign", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", `source port "+1" is not a decimal number`},
	{"v1 port hex", "PROXY TCP4 1.2.3.4 5.6.7.8 1 0x2\r\n", `destination port "0x2" has a leading zero`},
	{"v1 port letters", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2a\r\n", `destination port "2a" is not a decimal number`},
	{"v1 CR inside", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r3\r\n", `destination port "2\r3" is not a decimal number`},
	{"v2 version 1", v2(0x11, 0x11, v4Block...), "version 1, want 2"},
	{"v2 version 3", v2(0x31, 0x11, v4Block...), "version 3, want 2"},
	{"v2 command 2", v2(0x22, 0x11, v4Block...), "command 0x2, want 0 (LOCAL) or 1 (PROXY)"},
	{"v2 TCP4 short", v2(0x21, 0x11, v4Block[:11]...), "family 0x11 needs 12 address bytes, has 11"},
	{"v2 TCP6 with a TCP4 block", v2(0x21, 0x21, v4Block...), "family 0x21 needs 36 address bytes, has 12"},
	{"v2 UNIX short", v2(0x21, 0x31, make([]byte, 215)...), "family 0x31 needs 216 address bytes, has 215"},
	{"v2 UDP4", v2(0x21, 0x12, v4Block...), "family 0x12 is a datagram protocol"},
	{"v2 UDP6", v2(0x21, 0x22, v6Block...), "family 0x22 is a datagram protocol"},
	{"v2 unknown family", v2(0x21, 0x41, v4Block...), "unknown family/protocol 0x41"},
	{"v2 unknown protocol", v2(0x21, 0x13, v4Block...), "unknown family/protocol 0x13"},
	{"v2 AF_INET without protocol", v2(0x21, 0x10, v4Block...), "unknown family/protocol 0x10"},
	{"v2 TLV cut short", v2(0x21, 0x11, cat(v4Block, []byte{0x05, 0, 4, 'a'})...), "TLV of type 0x05 claims 7 bytes, 4 remain"},
	{"v2 stray bytes after TLVs", v2(0x21, 0x11, cat(v4Block, tlvs, []byte{0})...), "ends in 1 bytes too short for a TLV"},
	{"v2 over the accepted length", v2(0x21, 0x11, make([]byte, 4097)...), "v2 header of 4113 bytes, longer than the 4112 accepted"},
	{"v2 at the spec's maximum", string(v2Sig) + "\x21\x11\xff\xff", "v2 header of 65551 bytes"},
}

// TestAcceptMalformed checks that each way of breaking the spec is refused
// with ErrMalformed and a message that says which.
func TestAcceptMalformed(t *testing.T) {
	for _, tc := range malformedHeaders {
		for _, chunk := range []int{1, 1 << 20} {
			_, err := Accept(newChunkConn([]byte(tc.header+request), chunk), time.Time{})
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s, chunks of %d: error %v, want ErrMalformed saying %q", tc.name, chunk, err, tc.want)
			}
		}
	}
}

// TestAcceptNoHeader checks that a connection not starting with a header
// is refused as soon as its bytes show it, not after waiting for more.
func TestAcceptNoHeader(t *testing.T) {
	for _, data := range []string{request, "POST / HTTP/1.1\r\n", "PROXY\r\n", "PROXYTCP4", "\r\n\r\n\x00\r\nQUIT!", "\r\nX", "\x16\x03\x01"} {
		c := newChunkConn([]byte(data), 1)
		c.err = errors.New("read past what shows there is no header")
		if _, err := Accept(c, time.Time{}); err != ErrNoHeader {
			t.Errorf("%q: error %v, want ErrNoHeader", data, err)
		}
	}
}

// TestAcceptTruncated checks that a connection that ends within a header
// says so, with io.ErrUnexpectedEOF, and one that fails passes the cause.
func TestAcceptTruncated(t *testing.T) {
	for _, data := range []string{"", "P", "PROXY TCP4 1.2.3.4", string(v2Sig), v2(0x21, 0x11, v4Block...)[:20]} {
		_, err := Accept(newChunkConn([]byte(data), 3), time.Time{})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: error %v, want io.ErrUnexpectedEOF", data, err)
		}
	}
	c := newChunkConn([]byte("PROXY TCP4 1.2.3.4"), 100)
	c.err = os.ErrDeadlineExceeded
	_, err := Accept(c, time.Time{})
	if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "18 bytes in") {
		t.Errorf("timed out: error %v, want os.ErrDeadlineExceeded after 18 bytes", err)
	}
}

// TestAcceptDeadline checks that Accept sets the deadline it is given and
// clears it after, on success and on failure, and sets none for zero.
func TestAcceptDeadline(t *testing.T) {
	d := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, data := range []string{validHeaders[0].header, request} {
		c := newChunkConn([]byte(data), 1<<20)
		Accept(c, d)
		if len(c.deadlines) != 2 || !c.deadlines[0].Equal(d) || !c.deadlines[1].IsZero() {
			t.Errorf("%q: read deadlines %v, want %v then zero", data, c.deadlines, d)
		}
	}
	c := newChunkConn([]byte(validHeaders[0].header), 1<<20)
	Accept(c, time.Time{})
	if len(c.deadlines) != 0 {
		t.Errorf("no deadline: read deadlines %v set, want none", c.deadlines)
	}
}

// TestWriteTo checks that copying from a Conn, as the relay of an upgraded
// connection does, starts with the bytes read past the header.
func TestWriteTo(t *testing.T) {
	pc, err := Accept(newChunkConn([]byte(validHeaders[0].header+request+"more"), 1<<20), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if n, err := pc.WriteTo(&b); err != nil || b.String() != request+"more" || n != int64(b.Len()) {
		t.Errorf("WriteTo: %d, %v, wrote %q; want %q", n, err, b.String(), request+"more")
	}
}

// TestCloseWriteUnsupported checks that a connection that cannot half-close
// says so rather than pretending.
func TestCloseWriteUnsupported(t *testing.T) {
	pc, err := Accept(newChunkConn([]byte(validHeaders[0].header), 1<<20), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.CloseWrite(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("CloseWrite: %v, want errors.ErrUnsupported", err)
	}
}
