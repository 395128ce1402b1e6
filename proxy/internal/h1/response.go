package h1

import "bytes"

// Response is a parsed response head.
type Response struct {
	Status int
	// Reason is the reason phrase, possibly empty.
	Reason []byte
	Minor  int
	Fields []Field

	ContentLength int64 // -1 when there is none
	Chunked       bool
	// Close is set when the server ends the connection after this
	// response (Connection: close, or HTTP/1.0 without keep-alive).
	Close bool
	// ConnTokens: Connection names other fields (see Nominated).
	ConnTokens bool
}

// ParseResponse parses the response head at the start of b, as
// ParseRequest does a request. A worker's response is held to the same
// rules as a client's request: one that could be framed two ways is
// refused, never guessed at.
func ParseResponse(b []byte, r *Response) (int, error) {
	*r = Response{Fields: r.Fields[:0], ContentLength: -1}
	return parseHead(b, r, &r.Fields)
}

// startLine parses the status line.
func (r *Response) startLine(l []byte) error {
	if len(l) < 12 || string(l[:7]) != "HTTP/1." || (l[7] != '0' && l[7] != '1') || l[8] != ' ' {
		return ErrStatusLine
	}
	r.Minor = int(l[7] - '0')
	for _, c := range l[9:12] {
		if !isDigit(c) {
			return ErrStatusLine
		}
		r.Status = r.Status*10 + int(c-'0')
	}
	if r.Status < 100 {
		return ErrStatusLine
	}
	rest := l[12:]
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return ErrStatusLine
		}
		for _, c := range rest[1:] {
			if !vchar[c] {
				return ErrStatusLine
			}
		}
		r.Reason = rest[1:]
	}
	return nil
}

func (r *Response) semantics() error {
	var length []byte
	var conn connection
	for i := range r.Fields {
		f := &r.Fields[i]
		switch f.Kind {
		case KindContentLength:
			// Repeated, it must be repeated exactly: net/http refuses
			// "5" and "05", so another parser may too.
			n, ok := parseLength(f.Value)
			if !ok || length != nil && !bytes.Equal(f.Value, length) {
				return ErrContentLength
			}
			length = f.Value
			r.ContentLength = n
		case KindTransferEncoding:
			if r.Chunked || !equalFold(f.Value, "chunked") {
				return ErrTransferEncoding
			}
			r.Chunked = true
		case KindConnection:
			if !conn.read(f.Value) {
				return ErrConnection
			}
		case KindTrailer:
			if namesFraming(f.Value) {
				return errTrailer
			}
		}
	}
	switch {
	case r.Chunked && length != nil:
		return ErrTEAndCL
	case r.Chunked && r.Minor == 0:
		// RFC 9112 §6.1: the framing of such a message is faulty (and
		// net/http reads it as if there were no Transfer-Encoding).
		return ErrTEOnHTTP10
	}
	r.Close, r.ConnTokens = conn.close || r.Minor == 0 && !conn.keepAlive, conn.other
	return nil
}

// Bodyless reports whether a response to a request with this method has
// no body whatever its fields say (RFC 9112 §6.3 rules 1 and 2).
func (r *Response) Bodyless(method []byte) bool {
	return r.Status < 200 || r.Status == 204 || r.Status == 304 || bytes.Equal(method, head)
}

var head = []byte("HEAD")
