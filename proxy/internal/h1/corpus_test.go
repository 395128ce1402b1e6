package h1_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// Outcomes other than an *Error status.
const (
	ok         = 0  // accepted
	incomplete = -1 // ErrIncomplete
	none       = -1 // no Content-Length
)

// head joins lines with CRLF and ends the head with an empty line.
func head(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }

// reqCase is a raw request and what ParseRequest makes of it. The framing
// fields are checked only when status is ok.
type reqCase struct {
	name   string
	in     string
	status int

	cl                              int64
	chunked, close, upgrade, expect bool
	host, authority, path, query    string
}

func many(n int) []string {
	l := []string{"GET / HTTP/1.1", "Host: a"}
	for i := 1; i < n; i++ {
		l = append(l, fmt.Sprintf("X-%d: v", i))
	}
	return l
}

var requestCorpus = []reqCase{
	// Accepted, as a base for the rest.
	{name: "get", in: head("GET / HTTP/1.1", "Host: a"), cl: none, host: "a", path: "/"},
	{name: "get query", in: head("GET /p/q?x=1&y=%41 HTTP/1.1", "Host: a.example:8080"), cl: none, host: "a.example:8080", path: "/p/q", query: "x=1&y=%41"},
	{name: "post length", in: head("POST /f HTTP/1.1", "Host: a", "Content-Length: 5") + "hello", cl: 5, host: "a", path: "/f"},
	{name: "post length zero", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 0"), cl: 0, host: "a", path: "/"},
	{name: "length leading zeros", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 005") + "hello", cl: 5, host: "a", path: "/"},
	{name: "length OWS", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: \t5 ") + "hello", cl: 5, host: "a", path: "/"},
	{name: "length 18 digits", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 999999999999999999"), cl: 999999999999999999, host: "a", path: "/"},
	{name: "chunked", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked") + "5\r\nhello\r\n0\r\n\r\n", cl: none, chunked: true, host: "a", path: "/"},
	{name: "Chunked case", in: head("POST / HTTP/1.1", "Host: a", "transfer-encoding: Chunked") + "0\r\n\r\n", cl: none, chunked: true, host: "a", path: "/"},
	{name: "CHUNKED OWS", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: \t CHUNKED \t") + "0\r\n\r\n", cl: none, chunked: true, host: "a", path: "/"},
	{name: "obs-text value", in: head("GET / HTTP/1.1", "Host: a", "X: caf\xc3\xa9"), cl: none, host: "a", path: "/"},
	{name: "empty value", in: head("GET / HTTP/1.1", "Host: a", "X:"), cl: none, host: "a", path: "/"},
	{name: "empty host", in: head("GET / HTTP/1.1", "Host:"), cl: none, host: "", path: "/"},
	{name: "tchar name", in: head("GET / HTTP/1.1", "Host: a", "!#$%&'*+-.^_`|~09aZ: v"), cl: none, host: "a", path: "/"},
	{name: "odd method", in: head("M-SEARCH / HTTP/1.1", "Host: a"), cl: none, host: "a", path: "/"},

	// Transfer-Encoding with Content-Length, in both orders.
	{name: "TE then CL", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Content-Length: 5") + "0\r\n\r\n", status: 400},
	{name: "CL then TE", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Transfer-Encoding: chunked") + "0\r\n\r\n", status: 400},
	{name: "CL then TE gzip", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Transfer-Encoding: gzip"), status: 400},

	// Content-Length forms.
	{name: "two CL equal", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Content-Length: 5") + "hello", status: 400},
	{name: "two CL different", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Content-Length: 6") + "hello!", status: 400},
	{name: "CL list", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5, 5") + "hello", status: 400},
	{name: "CL list no space", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5,5") + "hello", status: 400},
	{name: "CL plus", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: +5") + "hello", status: 400},
	{name: "CL minus", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: -5") + "hello", status: 400},
	{name: "CL space inside", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 1 0") + "0123456789", status: 400},
	{name: "CL hex", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 0x5") + "hello", status: 400},
	{name: "CL hex digits", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5a") + "hello", status: 400},
	{name: "CL empty", in: head("POST / HTTP/1.1", "Host: a", "Content-Length:"), status: 400},
	{name: "CL blank", in: head("POST / HTTP/1.1", "Host: a", "Content-Length:  "), status: 400},
	{name: "CL 19 digits", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 1234567890123456789"), status: 400},
	{name: "CL 20 digits overflow", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 18446744073709551621"), status: 400},
	{name: "CL quoted", in: head("POST / HTTP/1.1", "Host: a", `Content-Length: "5"`) + "hello", status: 400},
	{name: "CL unicode digit", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: \xd9\xa5") + "hello", status: 400},

	// Transfer-Encoding other than a single final chunked.
	{name: "TE gzip, chunked", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: gzip, chunked") + "0\r\n\r\n", status: 400},
	{name: "TE chunked, gzip", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked, gzip") + "0\r\n\r\n", status: 400},
	{name: "TE identity", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: identity"), status: 400},
	{name: "TE chunked twice", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked") + "0\r\n\r\n", status: 400},
	{name: "TE chunked, chunked", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked, chunked") + "0\r\n\r\n", status: 400},
	{name: "TE chunked comma", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked,") + "0\r\n\r\n", status: 400},
	{name: "TE empty", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding:"), status: 400},
	{name: "TE vertical tab", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: \vchunked") + "0\r\n\r\n", status: 400},
	{name: "TE form feed", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked\f") + "0\r\n\r\n", status: 400},
	{name: "TE quoted", in: head("POST / HTTP/1.1", "Host: a", `Transfer-Encoding: "chunked"`) + "0\r\n\r\n", status: 400},
	{name: "TE chunk", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunk") + "0\r\n\r\n", status: 400},
	{name: "TE xchunked", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: xchunked") + "0\r\n\r\n", status: 400},
	{name: "TE kelvin", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chun\xe2\x84\xaaed") + "0\r\n\r\n", status: 400},
	{name: "TE space before colon", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding : chunked") + "0\r\n\r\n", status: 400},
	{name: "TE on HTTP/1.0", in: head("POST / HTTP/1.0", "Transfer-Encoding: chunked") + "0\r\n\r\n", status: 400},
	{name: "TE on HTTP/1.0 with CL", in: head("POST / HTTP/1.0", "Transfer-Encoding: chunked", "Content-Length: 3") + "0\r\n\r\n", status: 400},
	{name: "Trailer names CL", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Trailer: Content-Length") + "0\r\nContent-Length: 5\r\n\r\n", status: 400},
	{name: "Trailer names TE", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Trailer: x, transfer-encoding") + "0\r\n\r\n", status: 400},
	{name: "Trailer names Trailer", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Trailer: Trailer") + "0\r\n\r\n", status: 400},
	{name: "Trailer names other", in: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Trailer: X-Sum") + "0\r\nX-Sum: 1\r\n\r\n", cl: none, chunked: true, host: "a", path: "/"},

	// Obsolete line folding.
	{name: "obs-fold SP", in: head("GET / HTTP/1.1", "Host: a", "X: b", " c"), status: 400},
	{name: "obs-fold HTAB", in: head("GET / HTTP/1.1", "Host: a", "X: b", "\tc"), status: 400},
	{name: "obs-fold first line", in: head("GET / HTTP/1.1", " X: b", "Host: a"), status: 400},
	{name: "obs-fold CL", in: head("POST / HTTP/1.1", "Host: a", "Content-Length:", " 5") + "hello", status: 400},
	{name: "whitespace line", in: head("GET / HTTP/1.1", "Host: a", " "), status: 400},

	// Line ends.
	{name: "bare LF request line", in: "GET / HTTP/1.1\nHost: a\r\n\r\n", status: 400},
	{name: "bare LF field line", in: "GET / HTTP/1.1\r\nHost: a\n\r\n", status: 400},
	{name: "bare LF final line", in: "GET / HTTP/1.1\r\nHost: a\r\n\n", status: 400},
	{name: "bare LF everywhere", in: "GET / HTTP/1.1\nHost: a\n\n", status: 400},
	{name: "bare CR request line", in: "GET / HTTP/1.1\rHost: a\r\n\r\n", status: 400},
	{name: "bare CR field line", in: "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", status: 400},
	{name: "bare CR final line", in: "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", status: 400},
	{name: "bare CR incomplete", in: "GET / HTTP/1.1\r\nHost: a\rX", status: 400},
	{name: "bare CR incomplete then CR", in: "GET / HTTP/1.1\r\nHost: a\rX\r", status: 400},
	{name: "CR CR LF", in: "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", status: 400},

	// Control bytes.
	{name: "NUL in name", in: head("GET / HTTP/1.1", "Host: a", "X\x00Y: b"), status: 400},
	{name: "NUL in value", in: head("GET / HTTP/1.1", "Host: a", "X: b\x00c"), status: 400},
	{name: "SOH in name", in: head("GET / HTTP/1.1", "Host: a", "X\x01: b"), status: 400},
	{name: "SOH in value", in: head("GET / HTTP/1.1", "Host: a", "X: \x01"), status: 400},
	{name: "DEL in name", in: head("GET / HTTP/1.1", "Host: a", "X\x7f: b"), status: 400},
	{name: "DEL in value", in: head("GET / HTTP/1.1", "Host: a", "X: b\x7f"), status: 400},
	{name: "NUL in CL", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5\x00") + "hello", status: 400},
	{name: "NUL in target", in: head("GET /\x00 HTTP/1.1", "Host: a"), status: 400},
	{name: "high byte in name", in: head("GET / HTTP/1.1", "Host: a", "X\xff: b"), status: 400},

	// Field names.
	{name: "space before colon", in: head("GET / HTTP/1.1", "Host : x"), status: 400},
	{name: "tab before colon", in: head("GET / HTTP/1.1", "Host\t: x"), status: 400},
	{name: "space in name", in: head("GET / HTTP/1.1", "Host: a", "X Y: b"), status: 400},
	{name: "empty name", in: head("GET / HTTP/1.1", "Host: a", ": b"), status: 400},
	{name: "no colon", in: head("GET / HTTP/1.1", "Host: a", "X"), status: 400},
	{name: "separator in name", in: head("GET / HTTP/1.1", "Host: a", "X(: b"), status: 400},

	// Methods.
	{name: "empty method", in: head(" / HTTP/1.1", "Host: a"), status: 400},
	{name: "method slash", in: head("GE/T / HTTP/1.1", "Host: a"), status: 400},
	{name: "method paren", in: head("GE(T / HTTP/1.1", "Host: a"), status: 400},
	{name: "method high bytes", in: head("G\xc3\x89T / HTTP/1.1", "Host: a"), status: 400},
	{name: "method tab", in: head("GET\t/ HTTP/1.1", "Host: a"), status: 400},
	{name: "no spaces", in: head("GET", "Host: a"), status: 400},
	{name: "one space", in: head("GET /", "Host: a"), status: 400},
	{name: "empty request line", in: head("", "Host: a"), status: 400},

	// Targets.
	{name: "empty target", in: head("GET  HTTP/1.1", "Host: a"), status: 400},
	{name: "double space", in: head("GET /a  HTTP/1.1", "Host: a"), status: 400},
	{name: "double space before", in: head("GET  /a HTTP/1.1", "Host: a"), status: 400},
	{name: "space inside", in: head("GET /a b HTTP/1.1", "Host: a"), status: 400},
	{name: "fragment", in: head("GET /a#frag HTTP/1.1", "Host: a"), status: 400},
	{name: "only fragment", in: head("GET #frag HTTP/1.1", "Host: a"), status: 400},
	{name: "bad escape zz", in: head("GET /%zz HTTP/1.1", "Host: a"), status: 400},
	{name: "short escape", in: head("GET /%4 HTTP/1.1", "Host: a"), status: 400},
	{name: "short escape mid", in: head("GET /%4/x HTTP/1.1", "Host: a"), status: 400},
	{name: "bad escape query", in: head("GET /?q=%g0 HTTP/1.1", "Host: a"), status: 400},
	{name: "relative", in: head("GET index.html HTTP/1.1", "Host: a"), status: 400},
	{name: "CONNECT authority", in: head("CONNECT a.example:443 HTTP/1.1", "Host: a.example:443"), status: 405},
	{name: "CONNECT origin", in: head("CONNECT / HTTP/1.1", "Host: a"), status: 405},
	{name: "asterisk GET", in: head("GET * HTTP/1.1", "Host: a"), status: 400},
	{name: "asterisk OPTIONS", in: head("OPTIONS * HTTP/1.1", "Host: a"), cl: none, host: "a", path: "*"},
	{name: "asterisk path", in: head("OPTIONS *x HTTP/1.1", "Host: a"), status: 400},
	{name: "double slash", in: head("GET //x/y HTTP/1.1", "Host: a"), cl: none, host: "a", path: "//x/y"},
	{name: "escapes", in: head("GET /a%2Fb%c3%A9 HTTP/1.1", "Host: a"), cl: none, host: "a", path: "/a%2Fb%c3%A9"},
	{name: "empty query", in: head("GET /a? HTTP/1.1", "Host: a"), cl: none, host: "a", path: "/a"},
	{name: "absolute", in: head("GET http://host/p?q HTTP/1.1", "Host: other"), cl: none, host: "other", authority: "host", path: "/p", query: "q"},
	{name: "absolute no path", in: head("GET http://host HTTP/1.1", "Host: host"), cl: none, host: "host", authority: "host", path: "/"},
	{name: "absolute query only", in: head("GET http://host?q=1 HTTP/1.1", "Host: host"), cl: none, host: "host", authority: "host", path: "/", query: "q=1"},
	{name: "absolute https port", in: head("GET HTTPS://host.example:8443/a/b HTTP/1.1", "Host: x"), cl: none, host: "x", authority: "host.example:8443", path: "/a/b"},
	{name: "absolute empty port", in: head("GET http://host:/ HTTP/1.1", "Host: x"), cl: none, host: "x", authority: "host:", path: "/"},
	{name: "absolute IPv6", in: head("GET http://[::1]:80/ HTTP/1.1", "Host: x"), cl: none, host: "x", authority: "[::1]:80", path: "/"},
	{name: "absolute userinfo", in: head("GET http://user@host/ HTTP/1.1", "Host: host"), status: 400},
	{name: "absolute userinfo pass", in: head("GET http://u:p@host/ HTTP/1.1", "Host: host"), status: 400},
	{name: "absolute empty host", in: head("GET http:///p HTTP/1.1", "Host: host"), status: 400},
	{name: "absolute bad port", in: head("GET http://host:8a/ HTTP/1.1", "Host: host"), status: 400},
	{name: "absolute two colons", in: head("GET http://a:1:2/ HTTP/1.1", "Host: host"), status: 400},
	{name: "absolute escaped host", in: head("GET http://h%41/ HTTP/1.1", "Host: host"), status: 400},
	{name: "absolute IPv4 literal", in: head("GET http://[1.2.3.4]/ HTTP/1.1", "Host: host"), status: 400},
	{name: "absolute open bracket", in: head("GET http://[::1/ HTTP/1.1", "Host: host"), status: 400},
	{name: "absolute bracket inside", in: head("GET http://a[b]/ HTTP/1.1", "Host: host"), status: 400},
	{name: "absolute other scheme", in: head("GET ftp://host/ HTTP/1.1", "Host: host"), status: 400},
	{name: "absolute no slashes", in: head("GET http:host HTTP/1.1", "Host: host"), status: 400},

	// Versions.
	{name: "HTTP/1.2", in: head("GET / HTTP/1.2", "Host: a"), status: 505},
	{name: "HTTP/2.0", in: head("GET / HTTP/2.0", "Host: a"), status: 505},
	{name: "HTTP/0.9", in: head("GET / HTTP/0.9", "Host: a"), status: 505},
	{name: "HTTP/1.1 trailing space", in: head("GET / HTTP/1.1 ", "Host: a"), status: 400},
	{name: "lower-case version", in: head("GET / http/1.1", "Host: a"), status: 400},
	{name: "HTTP/1.10", in: head("GET / HTTP/1.10", "Host: a"), status: 400},
	{name: "HTTP/01.1", in: head("GET / HTTP/01.1", "Host: a"), status: 400},
	{name: "HTTP/2", in: head("GET / HTTP/2", "Host: a"), status: 400},
	{name: "no version", in: head("GET / ", "Host: a"), status: 400},
	{name: "PRI", in: head("PRI * HTTP/2.0", "", "SM"), status: 505},

	// Host.
	{name: "missing Host 1.1", in: head("GET / HTTP/1.1"), status: 400},
	{name: "missing Host 1.0", in: head("GET / HTTP/1.0"), cl: none, close: true, path: "/"},
	{name: "two Host", in: head("GET / HTTP/1.1", "Host: a", "Host: a"), status: 400},
	{name: "two Host different", in: head("GET / HTTP/1.1", "Host: a", "host: b"), status: 400},
	{name: "Host space", in: head("GET / HTTP/1.1", "Host: a b"), status: 400},
	{name: "Host slash", in: head("GET / HTTP/1.1", "Host: a/b"), status: 400},
	{name: "Host at", in: head("GET / HTTP/1.1", "Host: u@a"), status: 400},
	{name: "Host high byte", in: head("GET / HTTP/1.1", "Host: \xc3\xa9"), status: 400},
	{name: "Host IPv6", in: head("GET / HTTP/1.1", "Host: [::1]:8080"), cl: none, host: "[::1]:8080", path: "/"},

	// Connection, keep-alive and upgrade.
	{name: "close", in: head("GET / HTTP/1.1", "Host: a", "Connection: close"), cl: none, close: true, host: "a", path: "/"},
	{name: "close case list", in: head("GET / HTTP/1.1", "Host: a", "Connection: foo, CLOSE"), cl: none, close: true, host: "a", path: "/"},
	{name: "1.0 close", in: head("GET / HTTP/1.0", "Host: a"), cl: none, close: true, host: "a", path: "/"},
	{name: "1.0 keep-alive", in: head("GET / HTTP/1.0", "Host: a", "Connection: keep-alive"), cl: none, host: "a", path: "/"},
	{name: "1.0 keep-alive close", in: head("GET / HTTP/1.0", "Host: a", "Connection: keep-alive, close"), cl: none, close: true, host: "a", path: "/"},
	{name: "upgrade", in: head("GET /ws HTTP/1.1", "Host: a", "Connection: Upgrade", "Upgrade: websocket"), cl: none, upgrade: true, host: "a", path: "/ws"},
	{name: "upgrade twice empty", in: head("GET /ws HTTP/1.1", "Host: a", "Connection: upgrade", "Upgrade: websocket", "Upgrade:"), cl: none, upgrade: true, host: "a", path: "/ws"},
	{name: "upgrade without Upgrade", in: head("GET /ws HTTP/1.1", "Host: a", "Connection: upgrade"), cl: none, host: "a", path: "/ws"},
	{name: "Upgrade without upgrade", in: head("GET /ws HTTP/1.1", "Host: a", "Upgrade: websocket"), cl: none, host: "a", path: "/ws"},
	{name: "upgrade empty Upgrade", in: head("GET /ws HTTP/1.1", "Host: a", "Connection: upgrade", "Upgrade:"), cl: none, host: "a", path: "/ws"},
	{name: "upgrade on 1.0", in: head("GET /ws HTTP/1.0", "Host: a", "Connection: keep-alive, upgrade", "Upgrade: websocket"), cl: none, host: "a", path: "/ws"},
	{name: "Connection not a token", in: head("GET / HTTP/1.1", "Host: a", "Connection: a b"), status: 400},
	{name: "Connection quoted", in: head("GET / HTTP/1.1", "Host: a", `Connection: "close"`), status: 400},

	// Expect.
	{name: "100-continue", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Expect: 100-continue") + "hello", cl: 5, expect: true, host: "a", path: "/"},
	{name: "100-Continue", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Expect: 100-Continue") + "hello", cl: 5, expect: true, host: "a", path: "/"},
	{name: "Expect other", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Expect: 200-ok") + "hello", status: 417},
	{name: "Expect list", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Expect: 100-continue, x") + "hello", status: 417},
	{name: "Expect empty", in: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Expect:") + "hello", status: 417},

	// Field count.
	{name: "256 fields", in: head(many(256)...), cl: none, host: "a", path: "/"},
	{name: "257 fields", in: head(many(257)...), status: 431},
	{name: "257 fields incomplete", in: strings.Join(many(257), "\r\n") + "\r\n", status: 431},

	// Incomplete heads are never accepted.
	{name: "nothing", in: "", status: incomplete},
	{name: "method only", in: "G", status: incomplete},
	{name: "request line", in: "GET / HTTP/1.1", status: incomplete},
	{name: "request line CR", in: "GET / HTTP/1.1\r", status: incomplete},
	{name: "no empty line", in: "GET / HTTP/1.1\r\nHost: a\r\n", status: incomplete},
	{name: "final CR", in: "GET / HTTP/1.1\r\nHost: a\r\n\r", status: incomplete},
	{name: "partial field", in: "GET / HTTP/1.1\r\nHost: a\r\nContent-Le", status: incomplete},
	{name: "bad field not yet ended", in: "GET / HTTP/1.1\r\nHost: a\r\nX\x00", status: incomplete},
}

func TestRequestCorpus(t *testing.T) {
	var r h1.Request
	for _, c := range requestCorpus {
		t.Run(c.name, func(t *testing.T) {
			n, err := h1.ParseRequest([]byte(c.in), &r)
			if got := outcome(err); got != c.status {
				t.Fatalf("outcome: got %v (%v), want %v", got, err, c.status)
			}
			if c.status != ok {
				if n != 0 {
					t.Errorf("length of a refused head: got %v, want %v", n, 0)
				}
				return
			}
			if want := strings.Index(c.in, "\r\n\r\n") + 4; n != want {
				t.Errorf("head length: got %v, want %v", n, want)
			}
			checks := []struct {
				what      string
				got, want any
			}{
				{"ContentLength", r.ContentLength, c.cl},
				{"Chunked", r.Chunked, c.chunked},
				{"Close", r.Close, c.close},
				{"Upgrade", r.Upgrade, c.upgrade},
				{"Expect100", r.Expect100, c.expect},
				{"Host", string(r.Host), c.host},
				{"Authority", string(r.Authority), c.authority},
				{"Path", string(r.Path), c.path},
				{"Query", string(r.Query), c.query},
				{"Target", string(r.Target), strings.Fields(c.in)[1]},
			}
			for _, k := range checks {
				if k.got != k.want {
					t.Errorf("%s: got %v, want %v", k.what, k.got, k.want)
				}
			}
			// Every strict prefix of an accepted head is incomplete.
			for i := range n {
				if _, err := h1.ParseRequest([]byte(c.in[:i]), &r); err != h1.ErrIncomplete {
					t.Fatalf("prefix of %d bytes: got %v, want %v", i, err, h1.ErrIncomplete)
				}
			}
		})
	}
}

// outcome is ok, incomplete or the status of an *Error (or 1 for another
// error, which no parser returns).
func outcome(err error) int {
	var e *h1.Error
	switch {
	case err == nil:
		return ok
	case err == h1.ErrIncomplete:
		return incomplete
	case errors.As(err, &e):
		return e.Status
	}
	return 1
}

type respCase struct {
	name   string
	in     string
	status int // outcome, as for requests

	code           int
	cl             int64
	chunked, close bool
}

var responseCorpus = []respCase{
	{name: "ok", in: head("HTTP/1.1 200 OK", "Content-Length: 5") + "hello", code: 200, cl: 5},
	{name: "no reason", in: head("HTTP/1.1 204"), code: 204, cl: none},
	{name: "empty reason", in: head("HTTP/1.1 200 "), code: 200, cl: none},
	{name: "long reason", in: head("HTTP/1.1 404 Not  Found\tat all \xff"), code: 404, cl: none},
	{name: "continue", in: head("HTTP/1.1 100 Continue"), code: 100, cl: none},
	{name: "chunked", in: head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked") + "0\r\n\r\n", code: 200, cl: none, chunked: true},
	{name: "close", in: head("HTTP/1.1 200 OK", "Connection: close"), code: 200, cl: none, close: true},
	{name: "1.0 close", in: head("HTTP/1.0 200 OK", "Content-Length: 0"), code: 200, cl: 0, close: true},
	{name: "1.0 keep-alive", in: head("HTTP/1.0 200 OK", "Connection: Keep-Alive", "Content-Length: 0"), code: 200, cl: 0},
	{name: "repeated equal CL", in: head("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 5") + "hello", code: 200, cl: 5},
	{name: "repeated CL with OWS", in: head("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length:  5 ") + "hello", code: 200, cl: 5},
	{name: "repeated CL different", in: head("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 6") + "hello!", status: 400},
	{name: "repeated CL same number", in: head("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 05") + "hello", status: 400},
	{name: "CL list", in: head("HTTP/1.1 200 OK", "Content-Length: 5, 5") + "hello", status: 400},
	{name: "TE then CL", in: head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Content-Length: 5") + "0\r\n\r\n", status: 400},
	{name: "CL then TE", in: head("HTTP/1.1 200 OK", "Content-Length: 5", "Transfer-Encoding: chunked") + "0\r\n\r\n", status: 400},
	{name: "TE twice", in: head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked") + "0\r\n\r\n", status: 400},
	{name: "TE gzip", in: head("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked") + "0\r\n\r\n", status: 400},
	{name: "TE on 1.0", in: head("HTTP/1.0 200 OK", "Transfer-Encoding: chunked") + "0\r\n\r\n", status: 400},
	{name: "Trailer names CL", in: head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Trailer: Content-Length") + "0\r\n\r\n", status: 400},
	{name: "two-digit status", in: head("HTTP/1.1 20 OK"), status: 400},
	{name: "four-digit status", in: head("HTTP/1.1 2000 OK"), status: 400},
	{name: "status below 100", in: head("HTTP/1.1 099 Odd"), status: 400},
	{name: "status sign", in: head("HTTP/1.1 +20 OK"), status: 400},
	{name: "two spaces", in: head("HTTP/1.1  200 OK"), status: 400},
	{name: "HTTP/1.2", in: head("HTTP/1.2 200 OK"), status: 400},
	{name: "HTTP/2", in: head("HTTP/2 200 OK"), status: 400},
	{name: "lower-case", in: head("http/1.1 200 OK"), status: 400},
	{name: "NUL in reason", in: head("HTTP/1.1 200 O\x00K"), status: 400},
	{name: "bare LF", in: "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", status: 400},
	{name: "obs-fold", in: head("HTTP/1.1 200 OK", "X: a", " b"), status: 400},
	{name: "space before colon", in: head("HTTP/1.1 200 OK", "Content-Length : 5") + "hello", status: 400},
	{name: "incomplete", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", status: incomplete},
}

func TestResponseCorpus(t *testing.T) {
	var r h1.Response
	for _, c := range responseCorpus {
		t.Run(c.name, func(t *testing.T) {
			n, err := h1.ParseResponse([]byte(c.in), &r)
			if got := outcome(err); got != c.status {
				t.Fatalf("outcome: got %v (%v), want %v", got, err, c.status)
			}
			if c.status != ok {
				if n != 0 {
					t.Errorf("length of a refused head: got %v, want %v", n, 0)
				}
				return
			}
			if want := strings.Index(c.in, "\r\n\r\n") + 4; n != want {
				t.Errorf("head length: got %v, want %v", n, want)
			}
			if r.Status != c.code {
				t.Errorf("Status: got %v, want %v", r.Status, c.code)
			}
			if r.ContentLength != c.cl {
				t.Errorf("ContentLength: got %v, want %v", r.ContentLength, c.cl)
			}
			if r.Chunked != c.chunked {
				t.Errorf("Chunked: got %v, want %v", r.Chunked, c.chunked)
			}
			if r.Close != c.close {
				t.Errorf("Close: got %v, want %v", r.Close, c.close)
			}
		})
	}
}

type chunkCase struct {
	name    string
	in      string
	status  int // outcome, as for requests
	body    string
	trailer string
	used    int // bytes of in taken when accepted; 0: all of them
}

var chunkCorpus = []chunkCase{
	{name: "one chunk", in: "5\r\nhello\r\n0\r\n\r\n", body: "hello"},
	{name: "two chunks", in: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", body: "hello world"},
	{name: "empty body", in: "0\r\n\r\n", body: ""},
	{name: "upper hex", in: "A\r\n0123456789\r\n0\r\n\r\n", body: "0123456789"},
	{name: "lower hex", in: "a\r\n0123456789\r\n0\r\n\r\n", body: "0123456789"},
	{name: "leading zeros", in: "005\r\nhello\r\n000\r\n\r\n", body: "hello"},
	{name: "15 hex digits", in: "000000000000005\r\nhello\r\n0\r\n\r\n", body: "hello"},
	{name: "data with CRLF", in: "4\r\n\r\n\r\n\r\n0\r\n\r\n", body: "\r\n\r\n"},
	{name: "extension", in: "5;name\r\nhello\r\n0;last\r\n\r\n", body: "hello"},
	{name: "extension value", in: "5;a=b;c=d\r\nhello\r\n0\r\n\r\n", body: "hello"},
	{name: "extension BWS after semicolon", in: "5; a = b\r\nhello\r\n0\r\n\r\n", body: "hello"},
	{name: "quoted extension", in: "5;a=\"b c;d=e\"\r\nhello\r\n0\r\n\r\n", body: "hello"},
	{name: "quoted extension escape", in: "5;a=\"q\\\"x\"\r\nhello\r\n0\r\n\r\n", body: "hello"},
	{name: "trailer", in: "5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Other: two words\r\n\r\n", body: "hello", trailer: "X-Sum: 1\r\nX-Other: two words\r\n\r\n"},
	{name: "pipelined after", in: "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", body: "hello", used: 15},

	{name: "missing size", in: "\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "missing size before ext", in: ";a\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "non-hex size", in: "g\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "size then junk", in: "5x\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "16 hex digits", in: "0000000000000005\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "huge size", in: "ffffffffffffffff\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "0x", in: "0x5\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "sign", in: "+5\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "space before size", in: " 5\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "space after size", in: "5 \r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "tab after size", in: "5\t\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "BWS before semicolon", in: "5 ;a=b\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "empty extension", in: "5;\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "extension without name", in: "5;=b\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "extension without value", in: "5;a=\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "extension two values", in: "5;a=b c\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "extension bad name", in: "5;a(b\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "extension unterminated quote", in: "5;a=\"b\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "extension control in quote", in: "5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "extension NUL", in: "5;a\x00\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "extension bare CR", in: "5;a\rb\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "bare CR then CR", in: "\r0\r", status: 400},
	{name: "long chunk line", in: "5;a=" + strings.Repeat("b", 5000) + "\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "data longer", in: "5\r\nhelloX\r\n0\r\n\r\n", status: 400},
	{name: "data shorter", in: "5\r\nhell\r\n0\r\n\r\n", status: 400},
	{name: "data then LF", in: "5\r\nhello\n0\r\n\r\n", status: 400},
	{name: "data then CR", in: "5\r\nhello\r0\r\n\r\n", status: 400},
	{name: "bare LF after size", in: "5\nhello\r\n0\r\n\r\n", status: 400},
	{name: "bare LF after last size", in: "5\r\nhello\r\n0\n\r\n", status: 400},
	{name: "CR CR LF after size", in: "5\r\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "trailer obs-fold", in: "0\r\nX: a\r\n b\r\n\r\n", status: 400},
	{name: "trailer bare LF", in: "0\r\nX: a\n\r\n", status: 400},
	{name: "trailer bare LF end", in: "0\r\nX: a\r\n\n", status: 400},
	{name: "end bare LF", in: "0\r\n\n", status: 400},
	{name: "trailer bad name", in: "0\r\nX Y: a\r\n\r\n", status: 400},
	{name: "trailer NUL", in: "0\r\nX: a\x00\r\n\r\n", status: 400},
	{name: "trailer Content-Length", in: "0\r\nContent-Length: 5\r\n\r\n", status: 400},
	{name: "trailer Transfer-Encoding", in: "0\r\nTransfer-Encoding: chunked\r\n\r\n", status: 400},
	{name: "trailer Host", in: "0\r\nHost: evil\r\n\r\n", status: 400},
	{name: "trailer Connection", in: "0\r\nConnection: close\r\n\r\n", status: 400},
	{name: "trailer no colon", in: "0\r\nX\r\n\r\n", status: 400},
	{name: "long trailer", in: "0\r\n" + strings.Repeat("X: "+strings.Repeat("v", 1000)+"\r\n", 70) + "\r\n", status: 431},
	{name: "too many trailer fields", in: "0\r\n" + strings.Repeat("X: v\r\n", 300) + "\r\n", status: 431},

	{name: "incomplete size", in: "5", status: incomplete},
	{name: "incomplete data", in: "5\r\nhel", status: incomplete, body: "hel"},
	{name: "incomplete CRLF", in: "5\r\nhello\r", status: incomplete, body: "hello"},
	{name: "incomplete last", in: "5\r\nhello\r\n0\r\n", status: incomplete, body: "hello"},
	{name: "incomplete trailer", in: "5\r\nhello\r\n0\r\nX: 1\r\n", status: incomplete, body: "hello"},
}

// decoded is what feedChunked makes of an input.
type decoded struct {
	body, trailer []byte
	used          int
	err           error
}

func (d decoded) String() string {
	short := func(b []byte) string {
		if len(b) > 64 {
			return fmt.Sprintf("%q...(%d bytes)", b[:64], len(b))
		}
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("{body %s trailer %s used %d err %v}", short(d.body), short(d.trailer), d.used, d.err)
}

// feedChunked drives a Chunked decoder as the proxy does: Decode on the
// unconsumed bytes, consuming n each time, and on ErrIncomplete again with
// step more bytes of in visible (step 0: all of in is visible at once). It
// returns ErrIncomplete if in ends before the body does. It reports a
// broken contract of Decode (data not a prefix of what it consumed, or no
// progress) as a non-*Error error.
func feedChunked(in []byte, step int) (d decoded) {
	var c h1.Chunked
	end := len(in)
	if step > 0 {
		end = min(step, len(in))
	}
	for !c.Done() {
		b := in[d.used:end]
		data, n, err := c.Decode(b)
		if err == h1.ErrIncomplete {
			if end == len(in) {
				d.err = err
				return d
			}
			end = min(end+step, len(in))
			continue
		}
		if err != nil {
			d.err = err
			return d
		}
		switch {
		case n < 0 || n > len(b):
			d.err = fmt.Errorf("consumed %d of %d bytes", n, len(b))
		case len(data) > n || len(data) > 0 && &data[0] != &b[0]:
			d.err = fmt.Errorf("data (%d bytes) is not a prefix of the %d consumed", len(data), n)
		case c.Trailer != nil && (len(c.Trailer) > n || !bytes.Equal(c.Trailer, b[:len(c.Trailer)])):
			d.err = fmt.Errorf("trailer %q is not what was consumed", c.Trailer)
		case n == 0:
			d.err = errors.New("no progress")
		}
		if d.err != nil {
			return d
		}
		d.body = append(d.body, data...)
		if c.Trailer != nil {
			d.trailer = append(d.trailer, c.Trailer...)
		}
		d.used += n
	}
	return d
}

func TestChunkedCorpus(t *testing.T) {
	for _, c := range chunkCorpus {
		t.Run(c.name, func(t *testing.T) {
			whole := feedChunked([]byte(c.in), 0)
			step := 1 // byte by byte, but for the long inputs (that is quadratic)
			if len(c.in) > 8<<10 {
				step = 97
			}
			bytewise := feedChunked([]byte(c.in), step)
			for _, d := range []struct {
				how string
				decoded
			}{{"whole", whole}, {fmt.Sprintf("%d by %d", step, step), bytewise}} {
				if got := outcome(d.err); got != c.status {
					t.Fatalf("%s: outcome: got %v (%v), want %v", d.how, got, d.err, c.status)
				}
				if c.status == ok || c.status == incomplete {
					if string(d.body) != c.body {
						t.Errorf("%s: body: got %q, want %q", d.how, d.body, c.body)
					}
				}
				if c.status == ok {
					if string(d.trailer) != c.trailer && !(c.trailer == "" && string(d.trailer) == "\r\n") {
						t.Errorf("%s: trailer: got %q, want %q", d.how, d.trailer, c.trailer)
					}
					want := c.used
					if want == 0 {
						want = len(c.in)
					}
					if d.used != want {
						t.Errorf("%s: used: got %v, want %v", d.how, d.used, want)
					}
				}
			}
			if !sameDecoding(whole, bytewise) {
				t.Errorf("%d by %d: got %v, want %v (whole)", step, step, bytewise, whole)
			}
		})
	}
}

// sameDecoding reports whether two feedings agree: same body, trailer and
// length, and both accepted, both incomplete or both refused.
func sameDecoding(a, b decoded) bool {
	oa, ob := outcome(a.err), outcome(b.err)
	if oa == 1 || ob == 1 { // a broken contract
		return false
	}
	if oa > 1 && ob > 1 { // both refused, perhaps for different reasons
		return true
	}
	if oa != ob || !bytes.Equal(a.body, b.body) {
		return false
	}
	return oa != ok || a.used == b.used && bytes.Equal(a.trailer, b.trailer)
}
