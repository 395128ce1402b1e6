// Package h1 is the gateway's HTTP/1.1 message codec: it parses request and
// response heads and chunked bodies in place, without allocating, and
// refuses every message whose framing another parser could read
// differently (RFC 9112 §2.2, §5, §6.1, §6.3, §7.1; RFC 9110 §5.5).
//
// It is ours rather than net/http's because a proxy needs what net/http
// hides: the exact bytes of each field (to forward them), one pass over a
// head without building maps and strings (the request path allocates
// nothing), and refusal where net/http is lenient (repeated Content-Length,
// Transfer-Encoding on HTTP/1.0, chunk extensions). A differential fuzz
// target (fuzz_test.go) holds it to never accept what net/http rejects and
// never frame a message differently.
//
// Parsed values are slices of the caller's buffer: they are valid until the
// caller reuses it.
package h1
