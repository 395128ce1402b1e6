package proxy

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// Observer is told about every request the proxy answers, for metrics. The
// proxy counts nothing itself beyond what keeps a generation alive (see
// [Proxy.Usage]); what is cheap to read at any time, such as
// [Proxy.RejectedAffinity] or [Proxy.Switched], is not reported here.
type Observer interface {
	// Request is called once per request, on the request's goroutine, once
	// the answer is complete (for a protocol switch: once switched, not at
	// the end of the connection): gen is the generation that answered (0
	// when none could: the 503 while no generation is ready), status the
	// status code the client got (101 for a protocol switch, 502 when the
	// worker failed), d the time from receiving the request to then. It must
	// not block and should not allocate. Requests to Options.SwitchPath,
	// which the gateway answers itself, are not reported.
	Request(gen, status int, d time.Duration)
}

// watchWriter is the client's ResponseWriter as a worker's answer goes
// through it: it records the status code for the Observer and, when the
// request switches protocols, the hijacked connection, so that a drain that
// runs out of time can close it. Its wrapped ResponseWriter stays reachable
// through Unwrap (http.ResponseController), which ReverseProxy uses for
// flushing and hijacking.
//
// One is taken from a pool per proxied request, so that the request path
// does not allocate for it.
type watchWriter struct {
	http.ResponseWriter
	gen   int
	stats *genStats
	obs   Observer  // nil: none
	start time.Time // zero without an Observer
	code  int       // final status code; 0 until one is written
	conn  net.Conn  // the hijacked client connection, if any
	// observed is set once the Observer has been told (at a protocol
	// switch, before the connection's long life).
	observed bool
	// done is set once ReverseProxy has returned normally; a writer left
	// by a panic (http.ErrAbortHandler) is not reused.
	done bool
}

var writerPool = sync.Pool{New: func() any { return new(watchWriter) }}

func getWatchWriter(w http.ResponseWriter, b *backend, obs Observer, start time.Time) *watchWriter {
	ww := writerPool.Get().(*watchWriter)
	ww.ResponseWriter, ww.gen, ww.stats, ww.obs, ww.start = w, b.gen, b.stats, obs, start
	return ww
}

func putWatchWriter(ww *watchWriter) {
	*ww = watchWriter{}
	writerPool.Put(ww)
}

func (w *watchWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 { // 1xx are informational: another follows
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *watchWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *watchWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.conn = c
		w.stats.hold(c)
		if w.code == 0 {
			w.code = http.StatusSwitchingProtocols
		}
		w.observe()
	}
	return c, rw, err
}

func (w *watchWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe tells the Observer about the request, once: the status code the
// client got (a handler that wrote nothing answered 200, as net/http does)
// and the time since the request arrived.
func (w *watchWriter) observe() {
	if w.obs == nil || w.observed {
		return
	}
	w.observed = true
	code := w.code
	if code == 0 {
		code = http.StatusOK
	}
	w.obs.Request(w.gen, code, time.Since(w.start))
}
