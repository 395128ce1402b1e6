package proxy

// Benchmarks of the request path. The end-to-end ones use real HTTP over
// loopback (httptest backend, httptest front, a keep-alive client), so that
// BenchmarkProxy* minus BenchmarkDirect is what a request pays for going
// through the gateway. The micro-benchmarks time the pieces the proxy adds
// to every request. Results and how to read them: docs/benchmarks.md.
//
//	go test -run '^$' -bench . -benchmem ./proxy/
//
// Helpers here are prefixed "bench" so that they cannot collide with the
// fixtures of the other test files.

import (
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// benchSecret is the key of every benchmark Hasher.
var benchSecret = []byte("0123456789abcdef0123456789abcdef")

// benchBody is a small, typical answer of an app (a JSON status or a
// fragment); large bodies would measure io.Copy, not the gateway.
var benchBody = []byte(`{"revision":"r1","generation":"1","pid":4242,"user":"alice","notes":3,"session":true}` + "\n")

// benchBackend is a worker: /login starts a session the way a web framework
// does, every other path answers benchBody without touching cookies (the
// common, fast case for the proxy's response tracking).
func benchBackend(tb testing.TB) *httptest.Server {
	tb.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			http.SetCookie(w, &http.Cookie{Name: "SID", Value: benchSessionID, Path: "/", HttpOnly: true})
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(benchBody)
	}))
	tb.Cleanup(s.Close)
	return s
}

// benchSessionID looks like a framework's session id: 32 random bytes in
// base64url.
var benchSessionID = base64.RawURLEncoding.EncodeToString([]byte("an id of thirty-two bytes, fixed"))

// benchProxy fronts backend with a Proxy (one generation, one instance) and
// returns the Proxy and the URL clients use.
func benchProxy(tb testing.TB, backend *httptest.Server) (*Proxy, string) {
	tb.Helper()
	return benchProxyObserved(tb, backend, nil)
}

// benchProxyObserved is benchProxy with an Observer (nil: none).
func benchProxyObserved(tb testing.TB, backend *httptest.Server, obs Observer) (*Proxy, string) {
	tb.Helper()
	routes := &fleet.Routes{Active: &fleet.Route{Generation: 1, Revision: "r1",
		Instances: []fleet.Endpoint{{Instance: 1, Network: "tcp", Address: backend.Listener.Addr().String()}}}}
	h, err := NewHasher(benchSecret)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := New(Options{Hasher: h, SessionCookie: "SID", Observer: obs,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	p.Publish(routes)
	return p, serveProxy(tb, p, ServerOptions{}).URL
}

// benchClient is a keep-alive client with enough idle connections for the
// parallel benchmarks (http.DefaultTransport keeps 2 per host, which would
// measure connection setup instead).
func benchClient(tb testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// benchLogin starts a session through the proxy and returns the Cookie
// header a browser would send afterwards: the session and affinity cookies.
func benchLogin(tb testing.TB, c *http.Client, base string) string {
	tb.Helper()
	resp, err := c.Get(base + "/login")
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var parts []string
	for _, ck := range resp.Cookies() {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	if len(parts) != 2 {
		tb.Fatalf("login set cookies %q, want SID and GATEWAY_AFFINITY", resp.Header["Set-Cookie"])
	}
	return strings.Join(parts, "; ")
}

// benchGet sends req and drains the answer.
func benchGet(c *http.Client, req *http.Request) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || n != int64(len(benchBody)) {
		return fmt.Errorf("GET %s: status %d, %d body bytes; want 200, %d", req.URL, resp.StatusCode, n, len(benchBody))
	}
	return nil
}

// benchRequest is a GET of url with cookie as its Cookie header (none if
// empty). It has no body, so a client may send it again and again.
func benchRequest(tb testing.TB, url, cookie string) *http.Request {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	return req
}

// benchTarget is one end-to-end case: where the client connects and which
// cookies it sends.
type benchTarget struct {
	url, cookie string
}

func benchDirect(b *testing.B) benchTarget {
	return benchTarget{url: benchBackend(b).URL + "/whoami"}
}

func benchAnonymous(b *testing.B) benchTarget {
	_, base := benchProxy(b, benchBackend(b))
	return benchTarget{url: base + "/whoami"}
}

func benchPinned(b *testing.B) benchTarget { return benchPinnedObserved(b, nil) }

func benchPinnedObserved(b *testing.B, obs Observer) benchTarget {
	p, base := benchProxyObserved(b, benchBackend(b), obs)
	cookie := benchLogin(b, benchClient(b), base)
	if got := p.Usage(1).Sessions; got != 1 {
		b.Fatalf("sessions pinned after login: got %d, want 1", got)
	}
	return benchTarget{url: base + "/whoami", cookie: cookie}
}

// benchSerial sends one request at a time on one keep-alive connection.
func benchSerial(b *testing.B, t benchTarget) {
	c := benchClient(b)
	req := benchRequest(b, t.url, t.cookie)
	if err := benchGet(c, req); err != nil { // connect outside the timed loop
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := benchGet(c, req); err != nil {
			b.Fatal(err)
		}
	}
}

// benchParallel sends from GOMAXPROCS goroutines at once, each reusing its
// own request.
func benchParallel(b *testing.B, t benchTarget) {
	c := benchClient(b)
	if err := benchGet(c, benchRequest(b, t.url, t.cookie)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := benchRequest(b, t.url, t.cookie)
		for pb.Next() {
			if err := benchGet(c, req); err != nil {
				b.Error(err) // not Fatal: this is not the benchmark's goroutine
				return
			}
		}
	})
}

// BenchmarkDirect is the baseline: client → backend over loopback.
func BenchmarkDirect(b *testing.B) { benchSerial(b, benchDirect(b)) }

// BenchmarkProxyAnonymous: client → proxy → backend, no cookies (health
// checks, static assets before login).
func BenchmarkProxyAnonymous(b *testing.B) { benchSerial(b, benchAnonymous(b)) }

// BenchmarkProxyPinned: a logged-in browser, session and affinity cookies,
// pinned session; the common case.
func BenchmarkProxyPinned(b *testing.B) { benchSerial(b, benchPinned(b)) }

// BenchmarkProxyPinnedObserved is ProxyPinned with an Observer that does
// nothing: what observing costs the proxy itself (the pooled writer that
// records the status, two clock readings). cmd/gatewayd's
// BenchmarkProxyPinnedMetrics adds the Prometheus metrics.
func BenchmarkProxyPinnedObserved(b *testing.B) { benchSerial(b, benchPinnedObserved(b, benchNoop{})) }

// benchNoop is an Observer that does nothing.
type benchNoop struct{}

func (benchNoop) Request(int, int, time.Duration) {}

func BenchmarkDirectParallel(b *testing.B)         { benchParallel(b, benchDirect(b)) }
func BenchmarkProxyAnonymousParallel(b *testing.B) { benchParallel(b, benchAnonymous(b)) }
func BenchmarkProxyPinnedParallel(b *testing.B)    { benchParallel(b, benchPinned(b)) }

// benchCookieHeader is what a browser sends to an app behind the gateway:
// analytics and preference cookies around the session and affinity ones.
func benchCookieHeader(h *Hasher) string {
	key := h.Key(benchSessionID)
	aff := h.SignAffinity(Affinity{Generation: 1, Instance: 1, Issued: time.Now()}, key)
	return "_ga=GA1.1.1234567890.1700000000; theme=dark; lang=en-GB; " +
		"SID=" + benchSessionID + "; _gid=GA1.1.987654321.1700000000; GATEWAY_AFFINITY=" + aff
}

func BenchmarkRequestCookie(b *testing.B) {
	h, _ := NewHasher(benchSecret)
	hdr := []h1.Field{{Name: []byte("Cookie"), Value: []byte(benchCookieHeader(h)), Kind: h1.KindCookie}}
	for _, c := range []struct{ name, cookie, want string }{
		{"first", "_ga", "GA1.1.1234567890.1700000000"},
		{"session", "SID", benchSessionID},
		{"last", "GATEWAY_AFFINITY", "?"},
		{"missing", "JSESSIONID", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			if got := string(requestCookie(hdr, c.cookie)); c.want != "?" && got != c.want || c.want == "?" && got == "" {
				b.Fatalf("requestCookie(%q): got %q, want %q", c.cookie, got, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				requestCookie(hdr, c.cookie)
			}
		})
	}
}

func BenchmarkHasherKey(b *testing.B) {
	h, _ := NewHasher(benchSecret)
	b.ReportAllocs()
	for b.Loop() {
		h.Key(benchSessionID)
	}
}

func BenchmarkHasherKeyParallel(b *testing.B) {
	h, _ := NewHasher(benchSecret)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Key(benchSessionID)
		}
	})
}

func BenchmarkVerifyAffinity(b *testing.B) {
	h, _ := NewHasher(benchSecret)
	key := h.Key(benchSessionID)
	v := h.SignAffinity(Affinity{Generation: 3, Instance: 2, Issued: time.Now()}, key)
	if _, ok := h.VerifyAffinity([]byte(v), key); !ok {
		b.Fatal("VerifyAffinity rejected a cookie it signed")
	}
	b.ReportAllocs()
	for b.Loop() {
		h.VerifyAffinity([]byte(v), key)
	}
}

// BenchmarkAffinityIssued is the check that runs on every pinned request's
// response (is the affinity cookie due for reissue?).
func BenchmarkAffinityIssued(b *testing.B) {
	h, _ := NewHasher(benchSecret)
	v := []byte(h.SignAffinity(Affinity{Generation: 3, Instance: 2, Issued: time.Now()}, h.Key(benchSessionID)))
	b.ReportAllocs()
	for b.Loop() {
		affinityIssued(v)
	}
}

// benchPins fills a pin table with n sessions and returns their keys.
func benchPins(n int) (*pinTable, []fleet.SessionKey) {
	h, _ := NewHasher(benchSecret)
	t := newPinTable(newStatsTable(), time.Minute)
	keys := make([]fleet.SessionKey, n)
	now := time.Now()
	for i := range keys {
		keys[i] = h.Key(fmt.Sprint("session-", i))
		t.set(keys[i], 1+i%3, 1+i%2, now)
	}
	return t, keys
}

// BenchmarkPinTableGet reads a table of 10 000 pins from every P at once,
// as concurrent requests do; the RWMutex's reader count is the shared
// cache line.
func BenchmarkPinTableGet(b *testing.B) {
	t, keys := benchPins(10000)
	now := time.Now()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, _, ok := t.lookup(keys[i%len(keys)], now); !ok {
				b.Fatal("pin missing")
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, _, ok := t.lookup(keys[i%len(keys)], now); !ok {
					b.Error("pin missing")
					return
				}
				i += 7
			}
		})
	})
}

// BenchmarkRoute is the proxy's whole routing decision for one parsed
// request head, without I/O: cookie lookup, hash, pin lookup, backend
// choice.
func BenchmarkRoute(b *testing.B) {
	p, _ := benchProxy(b, benchBackend(b))
	t := p.table()
	p.pins.set(p.o.Hasher.Key(benchSessionID), 1, 1, time.Now())
	for _, c := range []struct{ name, cookie string }{
		{"anonymous", ""},
		{"pinned", benchCookieHeader(p.o.Hasher)},
	} {
		b.Run(c.name, func(b *testing.B) {
			head := "GET /whoami HTTP/1.1\r\nHost: gateway.test\r\n"
			if c.cookie != "" {
				head += "Cookie: " + c.cookie + "\r\n"
			}
			var r h1.Request
			if _, err := h1.ParseRequest([]byte(head+"\r\n"), &r); err != nil {
				b.Fatal(err)
			}
			route := func() *backend {
				var s session
				if sid := requestCookie(r.Fields, p.o.SessionCookie); sid != nil {
					s.key, s.has = p.o.Hasher.KeyBytes(sid), true
					s.affinity = requestCookie(r.Fields, p.o.AffinityCookie)
				}
				return p.route(t, &s, time.Now(), false)
			}
			if route() == nil {
				b.Fatal("no backend")
			}
			b.ReportAllocs()
			for b.Loop() {
				route()
			}
		})
	}
}

// BenchmarkTrackPinned is the response side of a pinned request that needs
// no new cookie: the fast path of track (end header, logout path,
// Set-Cookie, affinity freshness).
func BenchmarkTrackPinned(b *testing.B) {
	p, _ := benchProxy(b, benchBackend(b))
	t := p.table()
	be := t.active.backends[0]
	s := session{key: p.o.Hasher.Key(benchSessionID), has: true, fresh: true}
	p.pins.set(s.key, 1, 1, time.Now())
	var resp h1.Response
	head := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 90\r\n\r\n"
	if _, err := h1.ParseResponse([]byte(head), &resp); err != nil {
		b.Fatal(err)
	}
	var v verdict
	p.track(be, &s, false, false, nil, resp.Fields, time.Now(), &v)
	if len(v.add) != 0 {
		b.Fatalf("a fresh affinity cookie was reissued: %q", v.add)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.track(be, &s, false, false, nil, resp.Fields, time.Now(), &v)
	}
}
