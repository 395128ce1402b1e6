package h1_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// The differential targets hold h1 to net/http: h1 may refuse what net/http
// accepts (it is stricter by design), but what h1 accepts net/http must
// accept too, and frame the same way: same method and target, same fields,
// same body, same bytes taken from the connection.
//
// Deliberate differences, normalized rather than reported:
//   - net/http canonicalizes field names (textproto.CanonicalMIMEHeaderKey);
//     the h1 fields are compared under the same names.
//   - http.ReadRequest moves Host out of Header (to Host), and
//     Transfer-Encoding (to TransferEncoding),
//     and for a chunked message the Trailer field too (to Trailer).
//   - net/http adds "Cache-Control: no-cache" to "Pragma: no-cache".
//   - net/http sets Host from an absolute-form target, and gives the URL of
//     an absolute-form target without a path the path "" where h1 says "/";
//     URL.Path is unescaped where h1.Path is not.
//   - net/http ignores Transfer-Encoding on HTTP/1.0 (h1 refuses it: a
//     refusal, nothing to normalize).
//   - net/http gives up on a trailer section not within its bufio buffer
//     ("suspiciously long trailer") and on chunks with more framing than
//     data ("too much non-data"): limits of its own, not framing; h1 has
//     other ones.

// message is a request as one parser frames it.
type message struct {
	method, target string
	minor          int
	host           string // the authority of the target, else the Host field
	path, query    string // path unescaped
	header         http.Header
	chunked        bool
	length         int64 // body length, -1 when chunked
	close          bool
	body           []byte
	end            int // offset in the input just past the message
}

func (m *message) String() string {
	return fmt.Sprintf("%s %q HTTP/1.%d host=%q path=%q query=%q chunked=%v length=%d close=%v body=%q end=%d header=%v",
		m.method, m.target, m.minor, m.host, m.path, m.query, m.chunked, m.length, m.close, m.body, m.end, m.header)
}

// readOurs frames the request at in[start:] with h1. A nil message is a
// head refused or incomplete; with a message, err is about the body.
func readOurs(in []byte, start int) (*message, error) {
	var r h1.Request
	n, err := h1.ParseRequest(in[start:], &r)
	if err != nil {
		return nil, err
	}
	// The head alone parses the same; less its last byte, it is incomplete.
	var r2 h1.Request
	if n2, err := h1.ParseRequest(in[start:start+n], &r2); n2 != n || err != nil {
		return nil, fmt.Errorf("head alone: got %d, %v, want %d", n2, err, n)
	}
	if _, err := h1.ParseRequest(in[start:start+n-1], &r2); err != h1.ErrIncomplete {
		return nil, fmt.Errorf("head less its last byte: got %v, want %v", err, h1.ErrIncomplete)
	}
	m := &message{
		method: string(r.Method), target: string(r.Target), minor: r.Minor,
		host: string(r.Host), query: string(r.Query),
		chunked: r.Chunked, close: r.Close,
		header: http.Header{},
	}
	if r.Authority != nil {
		m.host = string(r.Authority)
	}
	if m.path, err = url.PathUnescape(string(r.Path)); err != nil {
		return nil, fmt.Errorf("h1 accepted a path it cannot unescape: %q: %v", r.Path, err)
	}
	for _, f := range r.Fields {
		k := textproto.CanonicalMIMEHeaderKey(string(f.Name))
		m.header[k] = append(m.header[k], string(f.Value))
	}
	delete(m.header, "Host")
	delete(m.header, "Transfer-Encoding")
	if r.Chunked {
		delete(m.header, "Trailer")
	}
	if hp := m.header["Pragma"]; len(hp) > 0 && hp[0] == "no-cache" && m.header["Cache-Control"] == nil {
		m.header["Cache-Control"] = []string{"no-cache"}
	}
	rest := in[start+n:]
	switch {
	case r.Chunked:
		d := feedChunked(rest, 0)
		if d.err != nil {
			return m, d.err
		}
		m.body, m.length, m.end = d.body, -1, start+n+d.used
	case r.ContentLength > 0:
		if int64(len(rest)) < r.ContentLength {
			return m, h1.ErrIncomplete
		}
		m.body, m.length, m.end = rest[:r.ContentLength], r.ContentLength, start+n+int(r.ContentLength)
	default:
		m.length, m.end = 0, start+n
	}
	return m, nil
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// readStd frames the next request of br with net/http: headErr is from
// http.ReadRequest, bodyErr from reading the body.
func readStd(br *bufio.Reader, cr *countingReader) (m *message, headErr, bodyErr error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err, nil
	}
	m = &message{
		method: req.Method, target: req.RequestURI, minor: req.ProtoMinor,
		host: req.Host, path: req.URL.Path, query: req.URL.RawQuery,
		header: req.Header, chunked: len(req.TransferEncoding) > 0,
		length: req.ContentLength, close: req.Close,
	}
	if req.ProtoMajor != 1 {
		m.minor = -1
	}
	m.body, bodyErr = io.ReadAll(req.Body)
	m.end = cr.n - br.Buffered()
	return m, nil, bodyErr
}

// stdLimit reports a net/http error that is one of its own limits rather
// than a reading of the framing.
func stdLimit(err error) bool {
	s := err.Error()
	return strings.Contains(s, "suspiciously long trailer") || strings.Contains(s, "too much non-data")
}

// differ returns how two framings of a request differ, "" if they agree.
func differ(ours, theirs *message) string {
	var d []string
	check := func(what string, same bool, got, want any) {
		if !same {
			d = append(d, fmt.Sprintf("%s: h1 %q, net/http %q", what, got, want))
		}
	}
	check("method", ours.method == theirs.method, ours.method, theirs.method)
	check("target", ours.target == theirs.target, ours.target, theirs.target)
	check("version", ours.minor == theirs.minor, ours.minor, theirs.minor)
	check("host", ours.host == theirs.host, ours.host, theirs.host)
	path := theirs.path
	if path == "" && strings.Contains(ours.target, "://") {
		path = "/"
	}
	check("path", ours.path == path, ours.path, theirs.path)
	check("query", ours.query == theirs.query, ours.query, theirs.query)
	check("fields", maps.EqualFunc(ours.header, theirs.header, slices.Equal), ours.header, theirs.header)
	check("chunked", ours.chunked == theirs.chunked, ours.chunked, theirs.chunked)
	check("length", ours.length == theirs.length, ours.length, theirs.length)
	check("close", ours.close == theirs.close, ours.close, theirs.close)
	check("body", bytes.Equal(ours.body, theirs.body), ours.body, theirs.body)
	check("end", ours.end == theirs.end, ours.end, theirs.end)
	return strings.Join(d, "\n")
}

// maxPipelined bounds the requests of one input compared.
const maxPipelined = 4

func FuzzRequestDifferential(f *testing.F) {
	for _, s := range requestSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cr := &countingReader{r: bytes.NewReader(in)}
		br := bufio.NewReader(cr)
		for i, start := 0, 0; i < maxPipelined && start < len(in); i++ {
			ours, err := readOurs(in, start)
			if ours == nil {
				if outcome(err) == 1 {
					t.Fatal(err)
				}
				return // refused or incomplete: whatever net/http makes of it
			}
			theirs, headErr, bodyErr := readStd(br, cr)
			if headErr != nil {
				t.Fatalf("request %d: h1 accepts the head, net/http refuses it: %v\nh1: %v\ninput: %q", i, headErr, ours, in[start:])
			}
			if err != nil {
				if outcome(err) == 1 {
					t.Fatalf("request %d: %v\ninput: %q", i, err, in[start:])
				}
				return // body refused or incomplete
			}
			if bodyErr != nil {
				if stdLimit(bodyErr) {
					return
				}
				t.Fatalf("request %d: h1 accepts the body, net/http refuses it: %v\nh1: %v\ninput: %q", i, bodyErr, ours, in[start:])
			}
			if d := differ(ours, theirs); d != "" {
				t.Fatalf("request %d framed differently:\n%s\ninput: %q", i, d, in[start:])
			}
			start = ours.end
		}
	})
}

// requestSeeds is the request corpus, its chunked bodies behind a head,
// and pipelined pairs.
func requestSeeds() []string {
	var seeds, accepted []string
	for _, c := range requestCorpus {
		seeds = append(seeds, c.in)
		if c.status == ok {
			accepted = append(accepted, c.in)
		}
	}
	chunkedHead := head("POST /upload?x=1 HTTP/1.1", "Host: a.example", "Transfer-Encoding: chunked", "Trailer: X-Sum")
	for _, c := range chunkCorpus {
		if len(c.in) < 1000 {
			seeds = append(seeds, chunkedHead+c.in)
		}
	}
	bodies := []string{
		head("POST /form HTTP/1.1", "Host: a", "Content-Type: application/x-www-form-urlencoded", "Content-Length: 7") + "a=1&b=2",
		head("PUT /f HTTP/1.1", "Host: a", "Content-Length: 3") + "abc",
		head("POST / HTTP/1.0", "Content-Length: 4", "Connection: keep-alive") + "ping",
		head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked") + "3;x=y\r\nabc\r\n1\r\n\n\r\n0\r\nX-T: 1\r\n\r\n",
		head("GET / HTTP/1.1", "Host: a", "Content-Length: 2") + "\r\n",
		head("GET / HTTP/1.1", "Host: a", "Pragma: no-cache", "Cookie: a=1", "Cookie: b=2"),
		head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Expect: 100-continue") + "hello",
	}
	seeds = append(seeds, bodies...)
	accepted = append(accepted, bodies...)
	for i, a := range accepted {
		b := accepted[(i*7+3)%len(accepted)]
		seeds = append(seeds, a+b)
	}
	// Smuggling shapes: a second request hidden in the first one's body.
	seeds = append(seeds,
		head("POST / HTTP/1.1", "Host: a", "Content-Length: 4", "Transfer-Encoding: chunked")+"0\r\n\r\n"+head("GET /admin HTTP/1.1", "Host: a"),
		head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Content-Length: 30")+"0\r\n\r\n"+head("GET /admin HTTP/1.1", "Host: a"),
		head("POST / HTTP/1.1", "Host: a", "Content-Length: 0", "Content-Length: 30")+head("GET /admin HTTP/1.1", "Host: a"),
		head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked")+"5 ;x\r\nhello\r\n0\r\n\r\n"+head("GET /admin HTTP/1.1", "Host: a"),
		head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked")+"5\nhello\r\n0\r\n\r\n"+head("GET /admin HTTP/1.1", "Host: a"),
		head("POST / HTTP/1.0", "Transfer-Encoding: chunked", "Content-Length: 5")+"0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: y\nContent-Length: 5\r\n\r\nhello",
	)
	return seeds
}

func FuzzChunked(f *testing.F) {
	for _, c := range chunkCorpus {
		if len(c.in) < 8<<10 {
			f.Add([]byte(c.in))
		}
	}
	f.Add([]byte("1\r\na\r\n1;a=\"\\\"\"\r\nb\r\n0\r\nX: y\r\n\r\nGET"))
	chunkedHead := head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked")
	f.Fuzz(func(t *testing.T, in []byte) {
		whole := feedChunked(in, 0)
		if outcome(whole.err) == 1 {
			t.Fatalf("whole: %v", whole.err)
		}
		if whole.used > len(in) || len(whole.body) > whole.used && whole.err == nil || len(whole.body) > len(in) {
			t.Fatalf("whole: %d bytes of body from %d consumed of %d", len(whole.body), whole.used, len(in))
		}
		for _, step := range []int{1, 3} {
			if d := feedChunked(in, step); !sameDecoding(whole, d) {
				t.Fatalf("fed %d bytes at a time: got %v, want %v (whole)\ninput: %q", step, d, whole, in)
			}
		}
		if whole.err != nil {
			return
		}
		// What h1 decodes net/http decodes the same way.
		req := append([]byte(chunkedHead), in...)
		cr := &countingReader{r: bytes.NewReader(req)}
		br := bufio.NewReader(cr)
		theirs, headErr, bodyErr := readStd(br, cr)
		switch {
		case headErr != nil:
			t.Fatalf("net/http refuses the head: %v", headErr)
		case bodyErr != nil && stdLimit(bodyErr):
		case bodyErr != nil:
			t.Fatalf("h1 accepts the body, net/http refuses it: %v\ninput: %q", bodyErr, in)
		case !bytes.Equal(whole.body, theirs.body):
			t.Fatalf("body: got %q, want %q (net/http)", whole.body, theirs.body)
		case whole.used != theirs.end-len(chunkedHead):
			t.Fatalf("consumed: got %v, want %v (net/http)", whole.used, theirs.end-len(chunkedHead))
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, c := range responseCorpus {
		f.Add([]byte(c.in))
	}
	f.Add([]byte(head("HTTP/1.1 101 Switching Protocols", "Connection: upgrade", "Upgrade: websocket")))
	f.Add([]byte(head("HTTP/1.1 304 Not Modified", "Content-Length: 10")))
	f.Add([]byte(head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Trailer: X-Sum") + "5;a=b\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var r h1.Response
		n, err := h1.ParseResponse(in, &r)
		if err != nil {
			switch o := outcome(err); {
			case o == 1:
				t.Fatalf("not an *Error: %v", err)
			case n != 0:
				t.Fatalf("refused (%v) with length %v", err, n)
			}
			return
		}
		switch {
		case n < 4 || n > len(in) || string(in[n-4:n]) != "\r\n\r\n":
			t.Fatalf("head length %d of %d: %q", n, len(in), in)
		case r.Status < 100 || r.Status > 999 || r.Minor != 0 && r.Minor != 1:
			t.Fatalf("status %d, HTTP/1.%d", r.Status, r.Minor)
		case r.ContentLength < -1:
			t.Fatalf("ContentLength %d", r.ContentLength)
		case r.Chunked && r.ContentLength >= 0:
			t.Fatalf("both chunked and length %d", r.ContentLength)
		case r.Chunked && r.Minor == 0:
			t.Fatal("chunked HTTP/1.0")
		case r.Minor == 0 && !r.Close && !hasToken(r.Fields, "keep-alive"):
			t.Fatal("HTTP/1.0 without keep-alive not closing")
		}
		// The head alone parses the same, and no part of it parses at all.
		var r2 h1.Response
		if n2, err := h1.ParseResponse(in[:n], &r2); n2 != n || err != nil ||
			r2.ContentLength != r.ContentLength || r2.Chunked != r.Chunked || r2.Close != r.Close {
			t.Fatalf("head alone: got %d, %v, %+v, want %d, %+v", n2, err, r2, n, r)
		}
		if n <= 4096 {
			for i := range n {
				if _, err := h1.ParseResponse(in[:i], &r2); err != h1.ErrIncomplete {
					t.Fatalf("prefix of %d bytes: got %v, want %v", i, err, h1.ErrIncomplete)
				}
			}
		}
		// What h1 accepts net/http accepts, with the same framing.
		cr := &countingReader{r: bytes.NewReader(in)}
		br := bufio.NewReader(cr)
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("h1 accepts the head, net/http refuses it: %v\ninput: %q", err, in)
		}
		defer resp.Body.Close()
		if r.Bodyless([]byte("GET")) {
			return
		}
		toClose := r.Close || !r.Chunked && r.ContentLength < 0
		switch {
		case r.Chunked != (len(resp.TransferEncoding) > 0):
			t.Fatalf("chunked: got %v, want %v (net/http)", r.Chunked, resp.TransferEncoding)
		case r.ContentLength != resp.ContentLength:
			t.Fatalf("length: got %v, want %v (net/http)", r.ContentLength, resp.ContentLength)
		case toClose != resp.Close:
			t.Fatalf("close: got %v, want %v (net/http)", toClose, resp.Close)
		}
		var body []byte
		used := n
		switch rest := in[n:]; {
		case r.Chunked:
			d := feedChunked(rest, 0)
			if d.err != nil {
				return
			}
			body, used = d.body, n+d.used
		case r.ContentLength >= 0:
			if int64(len(rest)) < r.ContentLength {
				return
			}
			body, used = rest[:r.ContentLength], n+int(r.ContentLength)
		default:
			return // read to close
		}
		theirs, err := io.ReadAll(resp.Body)
		switch end := cr.n - br.Buffered(); {
		case err != nil && stdLimit(err):
		case err != nil:
			t.Fatalf("h1 accepts the body, net/http refuses it: %v\ninput: %q", err, in)
		case !bytes.Equal(body, theirs):
			t.Fatalf("body: got %q, want %q (net/http)", body, theirs)
		case used != end:
			t.Fatalf("consumed: got %v, want %v (net/http)", used, end)
		}
	})
}

func hasToken(fields []h1.Field, tok string) bool {
	for _, f := range fields {
		if f.Kind == h1.KindConnection && h1.HasToken(f.Value, tok) {
			return true
		}
	}
	return false
}
