package proxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// smuggling is a corpus of requests that two HTTP parsers could frame
// differently, or that are plainly malformed. The gateway must refuse each
// before anything of it reaches a worker.
var smuggling = []struct {
	name, req string
	status    int
}{
	{"TE and CL", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nG", 400},
	{"CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400},
	{"two CL differing", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
	{"two CL equal", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400},
	{"CL list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello", 400},
	{"CL plus sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", 400},
	{"CL negative", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
	{"CL hex", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nhello", 400},
	{"CL overflow", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
	{"TE gzip, chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400},
	{"TE chunked twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"TE identity", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", 400},
	{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400},
	{"obs-fold of TE", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
	{"bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400},
	{"bare LF in a field", "GET / HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n", 400},
	{"bare CR", "GET / HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n", 400},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400},
	{"space before colon", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
	{"invalid method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"bad target", "GET foo HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"bad percent escape", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"fragment in target", "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"lower-case version", "GET / http/1.1\r\nHost: x\r\n\r\n", 400},
	{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
	{"missing Host on 1.1", "GET / HTTP/1.1\r\n\r\n", 400},
	{"two Hosts", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400},
	{"invalid Host", "GET / HTTP/1.1\r\nHost: x/y\r\n\r\n", 400},
	{"invalid Connection", "GET / HTTP/1.1\r\nHost: x\r\nConnection: a b\r\n\r\n", 400},
	{"CONNECT", "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", 405},
	{"unknown expectation", "POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417},
	{"chunk size zz", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400},
	{"chunk size overflow", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n", 400},
	{"chunk size negative", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", 400},
	{"chunk extension garbage", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"b\r\nhello\r\n0\r\n\r\n", 400},
	{"chunk extension without name", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n", 400},
	{"chunk data without CRLF", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400},
	{"chunk size ended by LF", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400},
	{"trailer with obs-fold", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n", 400},
	{"too many fields", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: 1\r\n", 300) + "\r\n", 431},
	// Exactly MaxHeaderBytes without the end of the head, so that the
	// gateway has read everything sent when it refuses.
	{"oversized head", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10-len("GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")), 431},
}

// sentinelWorker answers every request 200, recording what reached it.
func sentinelWorker(t *testing.T) *tap {
	return newTap(t, replying(okReply))
}

// nothingButSentinel checks that the worker saw one connection, whose
// first request is the sentinel: any connection or byte the refused
// request caused would be accepted (the listen queue is in order) or
// received before it.
func nothingButSentinel(t *testing.T, e *engine, tp *tap) {
	t.Helper()
	w := dial(t, e.addr)
	w.send("GET /sentinel HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := w.answer("GET"); resp.StatusCode != 200 || body != "/sentinel " {
		t.Fatalf("sentinel: got %d %q, want 200 %q", resp.StatusCode, body, "/sentinel ")
	}
	tcs := tp.conns()
	if len(tcs) != 1 {
		t.Fatalf("worker connections: got %d, want 1 (the sentinel's)", len(tcs))
	}
	if got := tcs[0].received(); !strings.HasPrefix(got, "GET /sentinel HTTP/1.1\r\n") {
		t.Fatalf("the worker received %q, want the sentinel only", got)
	}
}

func TestSmugglingIsRefused(t *testing.T) {
	for _, c := range smuggling {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, ServerOptions{})
			tp := sentinelWorker(t)
			e.use(tp.addr)
			w := dial(t, e.addr)
			w.send(c.req)
			resp, body := w.answer("GET")
			if resp.StatusCode != c.status {
				t.Fatalf("status: got %d %q, want %d", resp.StatusCode, body, c.status)
			}
			if !resp.Close {
				t.Errorf("answer without Connection: close: %v", resp.Header)
			}
			w.closed()
			if got := e.p.Refused(); got != 1 {
				t.Errorf("refused count: got %d, want 1", got)
			}
			nothingButSentinel(t, e, tp)
		})
	}
}

// A refused request after good ones on a kept-alive connection: the good
// ones are answered, the bad one refused, and only the good ones reach the
// worker.
func TestSmugglingAfterPipelinedRequests(t *testing.T) {
	e := newEngine(t, ServerOptions{})
	tp := sentinelWorker(t)
	e.use(tp.addr)
	w := dial(t, e.addr)
	w.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
		"POST /smuggler HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
		"GET /three HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"/one ", "/two abc"} {
		if resp, body := w.answer("GET"); resp.StatusCode != 200 || body != want {
			t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, want)
		}
	}
	if resp, _ := w.answer("POST"); resp.StatusCode != 400 {
		t.Fatalf("smuggler: got %d, want 400", resp.StatusCode)
	}
	w.closed()
	tcs := tp.conns()
	if len(tcs) != 1 {
		t.Fatalf("worker connections: got %d, want 1", len(tcs))
	}
	got := strings.Join(heads(t, tcs[0].received()), ", ")
	if want := "GET /one, POST /two"; got != want {
		t.Fatalf("the worker received %q, want %q", got, want)
	}
}

// A head larger than MaxHeaderBytes whose rest is still arriving: the
// client must be able to read the 431 although the gateway closes with
// bytes unread (Linux keeps what was received before the reset).
func TestOversizedHeadStillInFlightGets431(t *testing.T) {
	e := newEngine(t, ServerOptions{MaxHeaderBytes: 4 << 10})
	tp := sentinelWorker(t)
	e.use(tp.addr)
	w := dial(t, e.addr)
	go w.c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\n\r\n"))
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	if resp.StatusCode != 431 {
		t.Fatalf("status: got %d, want 431", resp.StatusCode)
	}
	nothingButSentinel(t, e, tp)
}

// After refusing a head it cannot read, the gateway reads (and discards)
// what the client still sends for a moment before it closes: the client's
// writes meet no reset, and it reads the 431 and then EOF.
func TestRefusalLingersSoTheClientReadsTheAnswer(t *testing.T) {
	e := newEngine(t, ServerOptions{MaxHeaderBytes: 4 << 10})
	tp := sentinelWorker(t)
	e.use(tp.addr)
	w := dial(t, e.addr)
	w.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10))
	if resp, _ := w.answer("GET"); resp.StatusCode != 431 {
		t.Fatalf("status: got %d, want 431", resp.StatusCode)
	}
	for range 4 { // the client goes on sending its head, 128 KiB
		time.Sleep(10 * time.Millisecond)
		w.send(strings.Repeat("a", 32<<10))
	}
	w.closed()
	nothingButSentinel(t, e, tp)
}

// A chunked body with a framing error past what came with the head (here
// 100 KiB in, more than one read): the client gets 400, and the
// worker sees its connection end in the middle of the body, never a
// complete request.
func TestLateChunkErrorCutsTheWorker(t *testing.T) {
	e := newEngine(t, ServerOptions{})
	bodyErr := make(chan error, 1)
	tp := newTap(t, func(tc *tapConn) {
		if req, err := http.ReadRequest(tc.br); err == nil {
			_, err = io.ReadAll(req.Body)
			bodyErr <- err
		}
	})
	e.use(tp.addr)
	w := dial(t, e.addr)
	good := strings.Repeat("a", 100<<10)
	go w.c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"19000\r\n" + good + "\r\nzz\r\nsmuggled\r\n0\r\n\r\n"))
	resp, _ := w.answer("POST")
	if resp.StatusCode != 400 || !resp.Close {
		t.Fatalf("got %d close=%v, want 400 close=true", resp.StatusCode, resp.Close)
	}
	w.closed()
	select {
	case err := <-bodyErr:
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("the worker read the body to: %v, want %v", err, io.ErrUnexpectedEOF)
		}
	case <-time.After(waitLimit):
		t.Fatal("the worker connection is still open")
	}
	if raw := tp.conns()[0].received(); strings.Contains(raw, "smuggled") {
		t.Fatalf("bytes after the framing error reached the worker")
	}
}
