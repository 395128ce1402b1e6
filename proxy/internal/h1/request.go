package h1

import (
	"bytes"
	"net/netip"
)

// Request is a parsed request head. Reset by ParseRequest; the Fields slice
// keeps its capacity across requests.
type Request struct {
	Method []byte
	// Target is the request target as sent; Path and Query are its
	// origin-form parts (for an absolute-form target, the part after the
	// authority, and Path "/" if that is empty); "*" for OPTIONS *.
	Target, Path, Query []byte
	// Authority is the host of an absolute-form target, else nil.
	Authority []byte
	Minor     int // 0 or 1: HTTP/1.0 or HTTP/1.1
	Fields    []Field
	Host      []byte // the Host field's value (nil when absent)

	ContentLength int64 // -1 when there is none
	Chunked       bool
	// Close is set when the connection ends after this exchange: the client
	// asked for it, or spoke HTTP/1.0 without keep-alive.
	Close bool
	// Upgrade is set for a protocol switch request (HTTP/1.1, Connection:
	// upgrade and a non-empty Upgrade field).
	Upgrade bool
	// Expect100 is set for Expect: 100-continue.
	Expect100 bool
	// ConnTokens is set when Connection names fields other than close,
	// keep-alive and upgrade: those are hop-by-hop too (see Nominated).
	ConnTokens bool
}

// HasBody reports whether body bytes follow the head.
func (r *Request) HasBody() bool { return r.Chunked || r.ContentLength > 0 }

// ParseRequest parses the request head at the start of b and returns its
// length in bytes. With a partial head it returns ErrIncomplete, with a
// refused one an *Error. It refuses every ambiguity RFC 9112 lets a server
// refuse: see the package doc.
func ParseRequest(b []byte, r *Request) (int, error) {
	*r = Request{Fields: r.Fields[:0], ContentLength: -1}
	return parseHead(b, r, &r.Fields)
}

// message is what a head is parsed into: its start line, its fields, then
// what the fields say together.
type message interface {
	startLine(l []byte) error
	semantics() error
}

// parseHead parses a head into m, appending its fields to *fields.
func parseHead(b []byte, m message, fields *[]Field) (int, error) {
	l, n, err := line(b)
	if err != nil {
		return 0, err
	}
	if err := m.startLine(l); err != nil {
		return 0, err
	}
	f, k, err := parseFields(b[n:], *fields)
	*fields = f
	if err != nil {
		return 0, err
	}
	if err := m.semantics(); err != nil {
		return 0, err
	}
	return n + k, nil
}

// startLine parses the request line.
func (r *Request) startLine(l []byte) error {
	sp := bytes.IndexByte(l, ' ')
	if sp < 0 {
		return ErrRequestLine
	}
	r.Method, l = l[:sp], l[sp+1:]
	if !isToken(r.Method) {
		return ErrMethod
	}
	sp = bytes.IndexByte(l, ' ')
	if sp < 0 {
		return ErrRequestLine
	}
	r.Target, l = l[:sp], l[sp+1:]
	switch {
	case string(l) == "HTTP/1.1":
		r.Minor = 1
	case string(l) == "HTTP/1.0":
		r.Minor = 0
	case len(l) == 8 && string(l[:5]) == "HTTP/" && isDigit(l[5]) && l[6] == '.' && isDigit(l[7]):
		return ErrVersionSupported
	default:
		return ErrVersion
	}
	if string(r.Method) == "CONNECT" {
		return ErrConnect
	}
	return r.target()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f' }

// target checks the request target and splits it: origin-form, asterisk
// form for OPTIONS, or absolute-form with an http(s) scheme. Percent signs
// must start a valid escape, as net/url requires.
func (r *Request) target() error {
	t := r.Target
	if len(t) == 0 {
		return ErrTarget
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !targetChar[c] {
			return ErrTarget
		}
		if c == '%' && (i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2])) {
			return ErrTarget
		}
	}
	switch {
	case t[0] == '/':
	case len(t) == 1 && t[0] == '*':
		if string(r.Method) != "OPTIONS" {
			return ErrTarget
		}
		r.Path = t
		return nil
	default:
		var rest []byte
		switch {
		case len(t) > 7 && equalFold(t[:7], "http://"):
			rest = t[7:]
		case len(t) > 8 && equalFold(t[:8], "https://"):
			rest = t[8:]
		default:
			return ErrTarget
		}
		end := bytes.IndexAny(rest, "/?")
		if end < 0 {
			end = len(rest)
		}
		r.Authority, t = rest[:end], rest[end:]
		if !validAuthority(r.Authority) {
			return ErrTarget
		}
		if len(t) == 0 || t[0] == '?' {
			r.Path, r.Query = slash, t
			if len(t) > 0 {
				r.Query = t[1:]
			}
			return nil
		}
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		r.Path, r.Query = t[:i], t[i+1:]
	} else {
		r.Path = t
	}
	return nil
}

var slash = []byte("/")

// validAuthority checks the authority of an absolute-form target: a
// reg-name or an IPv6 literal, then an optional port. Userinfo,
// percent-encoding, an IPv4 literal in brackets, a port that is not
// digits: net/url refuses them, and the gateway routes on this host.
func validAuthority(a []byte) bool {
	host := a
	if i := bytes.LastIndexByte(a, ':'); i > bytes.LastIndexByte(a, ']') {
		host = a[:i]
		for _, c := range a[i+1:] {
			if !isDigit(c) {
				return false
			}
		}
	}
	if len(host) == 0 {
		return false
	}
	if host[0] == '[' {
		if len(host) < 2 || host[len(host)-1] != ']' {
			return false
		}
		ip := host[1 : len(host)-1]
		for _, c := range ip {
			if !isHex(c) && c != ':' && c != '.' {
				return false
			}
		}
		addr, err := netip.ParseAddr(string(ip))
		return err == nil && addr.Is6()
	}
	for _, c := range host {
		if !regNameChar[c] {
			return false
		}
	}
	return true
}

func validHost(h []byte) bool {
	for _, c := range h {
		if !hostChar[c] {
			return false
		}
	}
	return true
}

// semantics reads the fields that frame the message and steer the
// connection, refusing any combination that two parsers could read
// differently.
func (r *Request) semantics() error {
	var hosts, lengths, encodings int
	var conn connection
	var upgrade bool
	for i := range r.Fields {
		f := &r.Fields[i]
		switch f.Kind {
		case KindHost:
			hosts++
			r.Host = f.Value
			if !validHost(f.Value) {
				return ErrHost
			}
		case KindContentLength:
			lengths++
			n, ok := parseLength(f.Value)
			if !ok || lengths > 1 {
				return ErrContentLength
			}
			r.ContentLength = n
		case KindTransferEncoding:
			encodings++
			if encodings > 1 || !equalFold(f.Value, "chunked") {
				return ErrTransferEncoding
			}
			r.Chunked = true
		case KindConnection:
			if !conn.read(f.Value) {
				return ErrConnection
			}
		case KindUpgrade:
			if len(f.Value) > 0 {
				upgrade = true
			}
		case KindTrailer:
			if namesFraming(f.Value) {
				return errTrailer
			}
		case KindExpect:
			if !equalFold(f.Value, "100-continue") {
				return ErrExpect
			}
			r.Expect100 = true
		}
	}
	switch {
	case hosts > 1 || hosts == 0 && r.Minor == 1:
		return ErrHost
	case r.Chunked && lengths > 0:
		return ErrTEAndCL
	case r.Chunked && r.Minor == 0:
		return ErrTEOnHTTP10
	}
	r.Close, r.ConnTokens = conn.close || r.Minor == 0 && !conn.keepAlive, conn.other
	// An HTTP/1.0 request cannot switch protocols (RFC 9110 §7.8).
	r.Upgrade = conn.upgrade && upgrade && r.Minor == 1
	return nil
}

// Nominated reports whether name is listed in a Connection field of fields,
// which makes it hop-by-hop (RFC 9110 §7.6.1).
func Nominated(fields []Field, name []byte) bool {
	found := false
	for i := range fields {
		if fields[i].Kind != KindConnection {
			continue
		}
		eachToken(fields[i].Value, func(tok []byte) {
			if bytes.EqualFold(tok, name) {
				found = true
			}
		})
	}
	return found
}

// HasToken reports whether a comma-separated list holds tok (lower case).
func HasToken(v []byte, tok string) bool {
	found := false
	eachToken(v, func(t []byte) {
		if equalFold(t, tok) {
			found = true
		}
	})
	return found
}
