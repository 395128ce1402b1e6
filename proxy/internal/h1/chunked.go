package h1

// Chunked decodes a chunked body (RFC 9112 §7.1) from successive views of
// a buffered input, without copying: the caller re-frames the data it is
// given, so that chunk extensions (and any way of reading them differently)
// never pass the gateway.
//
//	for {
//		data, n, err := c.Decode(buffered)
//		// ErrIncomplete: read more and call again; another error: refuse.
//		// forward data (and c.Trailer when not nil), then consume n bytes
//		if c.Done() { break }
//	}
type Chunked struct {
	state   uint8
	left    int64 // data bytes left in the current chunk
	Trailer []byte
}

const (
	chunkHeader uint8 = iota
	chunkData
	chunkCRLF
	chunkTrailer
	chunkDone
)

// maxChunkLine bounds a chunk-size line with its extensions.
const maxChunkLine = 4096

// Reset makes c ready for another body.
func (c *Chunked) Reset() { *c = Chunked{} }

// Done reports whether the last chunk and the trailer section were read.
func (c *Chunked) Done() bool { return c.state == chunkDone }

// Decode consumes what it can of b: it returns body data (a prefix of
// b[..]), or nothing while it reads framing, and the count of bytes of b
// consumed. Trailer is set to the trailer section (its field lines and the
// final CRLF, validated) on the call that completes it, nil otherwise.
func (c *Chunked) Decode(b []byte) (data []byte, n int, err error) {
	c.Trailer = nil
	switch c.state {
	case chunkHeader:
		size, m, err := chunkSize(b)
		if err != nil {
			return nil, 0, err
		}
		c.left = size
		c.state = chunkData
		if size == 0 {
			c.state = chunkTrailer
		}
		return nil, m, nil
	case chunkData:
		if len(b) == 0 {
			return nil, 0, ErrIncomplete
		}
		m := int64(len(b))
		if m > c.left {
			m = c.left
		}
		c.left -= m
		if c.left == 0 {
			c.state = chunkCRLF
		}
		return b[:m], int(m), nil
	case chunkCRLF:
		if len(b) < 2 {
			if len(b) == 1 && b[0] != '\r' {
				return nil, 0, ErrChunkEnd
			}
			return nil, 0, ErrIncomplete
		}
		if b[0] != '\r' || b[1] != '\n' {
			return nil, 0, ErrChunkEnd
		}
		c.state = chunkHeader
		return nil, 2, nil
	case chunkTrailer:
		var scratch [16]Field
		fields, m, err := parseFields(b, scratch[:0])
		// The same bound whether the section comes whole or in pieces.
		if err == ErrIncomplete && len(b) >= maxTrailer || err == nil && m > maxTrailer {
			return nil, 0, ErrTooManyFields
		}
		if err != nil {
			return nil, 0, err
		}
		for i := range fields {
			// A field that frames or routes a message has no place after
			// the body: a worker that merges trailers into the head would
			// see it.
			if k := fields[i].Kind; k.Hop() || k == KindHost {
				return nil, 0, ErrTrailerField
			}
		}
		c.Trailer = b[:m]
		c.state = chunkDone
		return nil, m, nil
	}
	return nil, 0, nil
}

// maxTrailer bounds a trailer section.
const maxTrailer = 64 << 10

// chunkSize parses "1*HEXDIG *(BWS ; BWS name [BWS = BWS value]) CRLF",
// but for whitespace between the size and the first ";", which net/http
// refuses.
func chunkSize(b []byte) (int64, int, error) {
	l, n, err := line(b)
	// The same bound whether the line comes whole or in pieces.
	if err == ErrIncomplete && len(b) >= maxChunkLine || err == nil && n > maxChunkLine {
		return 0, 0, ErrChunkSize
	}
	if err != nil {
		return 0, 0, err
	}
	var size int64
	i := 0
	for ; i < len(l) && isHex(l[i]); i++ {
		if i == 15 {
			return 0, 0, ErrChunkSize
		}
		size = size<<4 | int64(unhex(l[i]))
	}
	if i == 0 || i < len(l) && l[i] != ';' {
		return 0, 0, ErrChunkSize
	}
	if !validExtensions(l[i:]) {
		return 0, 0, ErrChunkExtension
	}
	return size, n, nil
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// validExtensions checks chunk-ext: each ";" name ["=" token or
// quoted-string], whitespace allowed around ";" and "=".
func validExtensions(b []byte) bool {
	for {
		b = trimOWS(b)
		if len(b) == 0 {
			return true
		}
		if b[0] != ';' {
			return false
		}
		b = trimOWS(b[1:])
		i := 0
		for i < len(b) && tchar[b[i]] {
			i++
		}
		if i == 0 {
			return false
		}
		b = trimOWS(b[i:])
		if len(b) == 0 || b[0] != '=' {
			continue
		}
		b = trimOWS(b[1:])
		if len(b) > 0 && b[0] == '"' {
			j, ok := quotedEnd(b)
			if !ok {
				return false
			}
			b = b[j:]
			continue
		}
		i = 0
		for i < len(b) && tchar[b[i]] {
			i++
		}
		if i == 0 {
			return false
		}
		b = b[i:]
	}
}

// quotedEnd returns the length of the quoted-string at the start of b.
func quotedEnd(b []byte) (int, bool) {
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			i++
			if i == len(b) || !vchar[b[i]] {
				return 0, false
			}
		case !vchar[c]:
			return 0, false
		}
	}
	return 0, false
}
