package h1

import "bytes"

// Kind names the fields the gateway acts on; the rest are KindOther.
type Kind uint8

const (
	KindOther Kind = iota
	KindHost
	KindContentLength
	KindTransferEncoding
	KindConnection
	KindKeepAlive
	KindProxyConnection
	KindTE
	KindTrailer
	KindUpgrade
	KindProxyAuthenticate
	KindProxyAuthorization
	KindCookie
	KindSetCookie
	KindExpect
	KindXForwardedFor
	KindXForwardedHost
	KindXForwardedProto
	KindForwarded
	KindGatewayCanary
)

// Field is one header field as received: its name, and its value without
// surrounding whitespace.
type Field struct {
	Name, Value []byte
	Kind        Kind
}

// Hop reports whether a proxy must not forward the field as it is (RFC 9110
// §7.6.1: the connection-specific fields), Upgrade included: the proxy adds
// back what a protocol switch needs.
func (k Kind) Hop() bool {
	switch k {
	case KindContentLength, KindTransferEncoding, KindConnection, KindKeepAlive, KindProxyConnection,
		KindTE, KindTrailer, KindUpgrade, KindProxyAuthenticate, KindProxyAuthorization:
		return true
	}
	return false
}

func kindOf(name []byte) Kind {
	switch len(name) {
	case 2:
		if equalFold(name, "te") {
			return KindTE
		}
	case 4:
		if equalFold(name, "host") {
			return KindHost
		}
	case 6:
		switch {
		case equalFold(name, "cookie"):
			return KindCookie
		case equalFold(name, "expect"):
			return KindExpect
		}
	case 7:
		switch {
		case equalFold(name, "upgrade"):
			return KindUpgrade
		case equalFold(name, "trailer"):
			return KindTrailer
		}
	case 9:
		if equalFold(name, "forwarded") {
			return KindForwarded
		}
	case 10:
		switch {
		case equalFold(name, "connection"):
			return KindConnection
		case equalFold(name, "keep-alive"):
			return KindKeepAlive
		case equalFold(name, "set-cookie"):
			return KindSetCookie
		}
	case 14:
		if equalFold(name, "content-length") {
			return KindContentLength
		}
	case 15:
		if equalFold(name, "x-forwarded-for") {
			return KindXForwardedFor
		}
	case 16:
		if equalFold(name, "proxy-connection") {
			return KindProxyConnection
		}
		if equalFold(name, "x-forwarded-host") {
			return KindXForwardedHost
		}
		if equalFold(name, "x-gateway-canary") {
			return KindGatewayCanary
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			return KindTransferEncoding
		}
		if equalFold(name, "x-forwarded-proto") {
			return KindXForwardedProto
		}
	case 18:
		if equalFold(name, "proxy-authenticate") {
			return KindProxyAuthenticate
		}
	case 19:
		if equalFold(name, "proxy-authorization") {
			return KindProxyAuthorization
		}
	}
	return KindOther
}

// line returns the next CRLF-terminated line of b without its CRLF, and the
// bytes it took. A LF without CR before it, or a CR anywhere else, is an
// error; no LF yet is ErrIncomplete.
func line(b []byte) ([]byte, int, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		// Only a CR at the very end may be the start of a CRLF.
		if cr := bytes.IndexByte(b, '\r'); cr >= 0 && cr < len(b)-1 {
			return nil, 0, ErrBareLF
		}
		return nil, 0, ErrIncomplete
	}
	if i == 0 || b[i-1] != '\r' {
		return nil, 0, ErrBareLF
	}
	return b[:i-1], i + 1, nil
}

// parseFields reads field lines up to and including the empty line that
// ends a head (or a trailer section) and appends them to fields.
func parseFields(b []byte, fields []Field) ([]Field, int, error) {
	n := 0
	for {
		l, m, err := line(b[n:])
		if err != nil {
			return fields, 0, err
		}
		n += m
		if len(l) == 0 {
			return fields, n, nil
		}
		if l[0] == ' ' || l[0] == '\t' {
			return fields, 0, ErrObsFold
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 || !isToken(l[:colon]) {
			return fields, 0, ErrFieldName
		}
		v := trimOWS(l[colon+1:])
		for _, c := range v {
			if !vchar[c] {
				return fields, 0, ErrFieldValue
			}
		}
		if len(fields) == maxFields {
			return fields, 0, ErrTooManyFields
		}
		fields = append(fields, Field{Name: l[:colon], Value: v, Kind: kindOf(l[:colon])})
	}
}

// eachToken calls f with every non-empty element of a comma-separated list
// (RFC 9110 §5.6.1), trimmed; false if an element is not a token.
func eachToken(v []byte, f func(tok []byte)) bool {
	for len(v) > 0 {
		var el []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			el, v = v[:i], v[i+1:]
		} else {
			el, v = v, nil
		}
		el = trimOWS(el)
		if len(el) == 0 {
			continue
		}
		if !isToken(el) {
			return false
		}
		f(el)
	}
	return true
}

// namesFraming reports whether a Trailer field value lists a field that
// frames the message (Content-Length, Transfer-Encoding, Trailer): such a
// field cannot come in a trailer section (RFC 9110 §6.5.1), and net/http
// refuses the message.
func namesFraming(v []byte) bool {
	for len(v) > 0 {
		var el []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			el, v = v[:i], v[i+1:]
		} else {
			el, v = v, nil
		}
		el = trimOWS(el)
		if equalFold(el, "content-length") || equalFold(el, "transfer-encoding") || equalFold(el, "trailer") {
			return true
		}
	}
	return false
}

// parseLength reads a Content-Length value: decimal digits only, at most
// 18 of them (so that it cannot overflow).
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// connection is what the Connection fields of a message say.
type connection struct {
	close, keepAlive, upgrade bool
	// other: they name fields, which are hop-by-hop (see Nominated).
	other bool
}

// read adds one Connection field's tokens; false if one is not a token.
func (c *connection) read(v []byte) bool {
	return eachToken(v, func(tok []byte) {
		switch {
		case equalFold(tok, "close"):
			c.close = true
		case equalFold(tok, "keep-alive"):
			c.keepAlive = true
		case equalFold(tok, "upgrade"):
			c.upgrade = true
		default:
			c.other = true
		}
	})
}

// KindOf is the kind of a field named name, for fields that did not come
// through this package's parser (the HTTP/2 engine's).
func KindOf(name []byte) Kind { return kindOf(name) }
