package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/tests/gwtest"
)

// serveTLS serves p on a TLS listener that offers h2 and http/1.1, and
// returns its https:// URL and certificate.
func serveTLS(t testing.TB, p *Proxy) (string, *gwtest.Cert) {
	t.Helper()
	cert := gwtest.NewCert(t, t.TempDir(), "site", "127.0.0.1")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	spec := &Listener{Listener: l, Name: "https", TLS: &tls.Config{Certificates: []tls.Certificate{cert.Pair},
		NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, []net.Listener{spec}, ServerOptions{}) }()
	t.Cleanup(func() { cancel(); <-done })
	return "https://" + l.Addr().String(), cert
}

// tlsFixture is newFixture's proxy behind TLS.
func tlsFixture(t *testing.T) (*fixture, string, *gwtest.Cert) {
	t.Helper()
	f := newFixture(t, Options{SwitchPath: "/.gateway/switch"})
	url, cert := serveTLS(t, f.proxy)
	return f, url, cert
}

var protocols = []struct {
	name  string
	h2    bool
	proto string
}{{"HTTP/1.1", false, "HTTP/1.1"}, {"HTTP/2", true, "HTTP/2.0"}}

// Over TLS, in both protocols, the routing core does what it does in
// clear: a login pins the session (its affinity cookie Secure), an upgrade
// leaves it where it is, the worker learns the client's address and that
// it came over https, a logout path ends the pin.
func TestTLSRoutingCore(t *testing.T) {
	for _, pr := range protocols {
		t.Run(pr.name, func(t *testing.T) {
			f, url, cert := tlsFixture(t)
			c := &client{t: t, base: url, cookies: map[string]string{}}
			hc := cert.Client(pr.h2)
			resp, body := c.do("GET", "/login", hc)
			if resp.Proto != pr.proto {
				t.Fatalf("spoke %s, want %s", resp.Proto, pr.proto)
			}
			if a := gwtest.SetCookie(resp, "GATEWAY_AFFINITY"); !strings.Contains(a, "; Secure") || !strings.Contains(a, "HttpOnly") {
				t.Errorf("affinity cookie over TLS: %q, want Secure and HttpOnly", a)
			}
			if !strings.Contains(body, "fwd=127.0.0.1 ") || !strings.Contains(body, "proto=https") {
				t.Errorf("the worker saw %q, want fwd=127.0.0.1 and proto=https", body)
			}
			f.upgrade(t)
			if _, body := c.do("GET", "/", hc); !strings.HasPrefix(body, "g1 ") {
				t.Errorf("after the upgrade the session went to %q, want g1", body)
			}
			fresh := &client{t: t, base: url, cookies: map[string]string{}}
			if _, body := fresh.do("GET", "/", hc); !strings.HasPrefix(body, "g2 ") {
				t.Errorf("a new client went to %q, want g2", body)
			}
			if n := f.proxy.PinCount(); n != 1 {
				t.Fatalf("%d pins, want 1", n)
			}
			resp, _ = c.do("GET", "/signout", hc)
			if sid := gwtest.SetCookie(resp, "SID"); !strings.Contains(sid, "Max-Age=0") {
				t.Errorf("logout path: session cookie %q, want it expired", sid)
			}
			if n := f.proxy.PinCount(); n != 0 {
				t.Errorf("%d pins after the logout path, want 0", n)
			}
		})
	}
}

// The end header ends the pin and never reaches the client; the switch
// path moves a session to the active generation; both protocols.
func TestTLSEndHeaderAndSwitch(t *testing.T) {
	for _, pr := range protocols {
		t.Run(pr.name, func(t *testing.T) {
			f, url, cert := tlsFixture(t)
			hc := cert.Client(pr.h2)
			c := &client{t: t, base: url, cookies: map[string]string{}}
			c.do("GET", "/login", hc)
			f.upgrade(t)
			resp, _ := c.do("GET", "/.gateway/switch?return=/x", hc)
			if resp.StatusCode != 303 || resp.Header.Get("Location") != "/x" {
				t.Fatalf("switch path: %d Location %q, want 303 to /x", resp.StatusCode, resp.Header.Get("Location"))
			}
			if _, body := c.do("GET", "/", hc); !strings.HasPrefix(body, "g2 ") {
				t.Errorf("after the switch the session went to %q, want g2", body)
			}
			c.do("GET", "/login", hc)
			resp, _ = c.do("GET", "/end", hc)
			if v := resp.Header.Get("X-Gateway-End-Session"); v != "" {
				t.Errorf("the end header reached the client: %q", v)
			}
			if n := f.proxy.PinCount(); n != 0 {
				t.Errorf("%d pins after the end header, want 0", n)
			}
		})
	}
}

// Request bodies reach the worker whole, with and without a length, and
// answers without a length (chunked from the worker) reach the client.
func TestH2Bodies(t *testing.T) {
	h, err := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Hasher: h, Logger: gwtest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	echo := httpWorker(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Length", r.Header.Get("Content-Length"))
		w.Write([]byte(strings.ToUpper(string(b))))
		http.NewResponseController(w).Flush() // chunked
	})
	p.Publish(&fleet.Routes{Active: gen(1, echo)})
	url, cert := serveTLS(t, p)
	hc := cert.Client(true)
	big := strings.Repeat("abcdefgh", 64<<10)
	for _, c := range []struct {
		name string
		body io.Reader
	}{{"length", strings.NewReader(big)}, {"no length", io.MultiReader(strings.NewReader(big[:1000]), strings.NewReader(big[1000:]))}} {
		resp, err := hc.Post(url+"/echo", "text/plain", c.body)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Proto != "HTTP/2.0" || string(got) != strings.ToUpper(big) {
			t.Errorf("%s: %s, %d bytes back, want HTTP/2.0 and %d", c.name, resp.Proto, len(got), len(big))
		}
	}
}

// Many streams at once on one connection each get their own answer.
func TestH2ConcurrentStreams(t *testing.T) {
	f, url, cert := tlsFixture(t)
	_ = f
	hc := cert.Client(true)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := hc.Get(url + "/")
			if err != nil {
				errs <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Proto != "HTTP/2.0" || !strings.HasPrefix(string(b), "g1 ") {
				errs <- resp.Proto + " " + string(b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// Without a generation, 503; with a dead worker, 502; over HTTP/2 as over
// HTTP/1.1.
func TestH2Failures(t *testing.T) {
	h, _ := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	p, err := New(Options{Hasher: h, Logger: gwtest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	url, cert := serveTLS(t, p)
	hc := cert.Client(true)
	status := func() int {
		resp, err := hc.Get(url + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status(); s != 503 {
		t.Errorf("no generation: %d, want 503", s)
	}
	dead := httpWorker(t, func(http.ResponseWriter, *http.Request) {})
	p.Publish(&fleet.Routes{Active: gen(1, dead)})
	dead.Close()
	if s := status(); s != 502 {
		t.Errorf("dead worker: %d, want 502", s)
	}
}

// A redirecting listener sends every request to the same URL over https,
// and forwards nothing.
func TestRedirectHTTPS(t *testing.T) {
	h, _ := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	p, err := New(Options{Hasher: h, Logger: gwtest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	worker := newTap(t, replying(okReply))
	p.Publish(&fleet.Routes{Active: &fleet.Route{Generation: 1, Instances: []fleet.Endpoint{{Instance: 1, Network: "tcp", Address: worker.addr}}}})
	for _, c := range []struct {
		port       int
		host, want string
	}{
		{443, "example.test:8080", "https://example.test/a/b?c=d"},
		{8443, "example.test", "https://example.test:8443/a/b?c=d"},
		{443, "[::1]:80", "https://[::1]/a/b?c=d"},
	} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- p.Run(ctx, []net.Listener{&Listener{Listener: l, RedirectHTTPS: c.port}}, ServerOptions{})
		}()
		w := dial(t, l.Addr().String())
		w.send("POST /a/b?c=d HTTP/1.1\r\nHost: " + c.host + "\r\nContent-Length: 0\r\n\r\n")
		resp := w.head("POST")
		if resp.StatusCode != 308 || resp.Header.Get("Location") != c.want {
			t.Errorf("Host %q, port %d: %d to %q, want 308 to %q", c.host, c.port, resp.StatusCode, resp.Header.Get("Location"), c.want)
		}
		cancel()
		<-done
	}
	if n := len(worker.conns()); n != 0 {
		t.Errorf("the worker got %d connections from a redirecting listener, want 0", n)
	}
}

// A protocol switch (WebSocket's) works over TLS next to HTTP/2: the
// client that asks for http/1.1 gets the HTTP/1.1 engine and its tunnel.
func TestUpgradeOverTLS(t *testing.T) {
	f, url, cert := tlsFixture(t)
	c, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), &tls.Config{RootCAs: cert.Pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade over TLS: %v %v", resp, err)
	}
	if u := f.proxy.Usage(1); u.Upgraded != 1 {
		t.Errorf("usage with an open upgrade: %+v, want 1 upgraded", u)
	}
	io.WriteString(c, "hello\n")
	if line, _ := br.ReadString('\n'); line != "hello\n" {
		t.Errorf("echo through the TLS tunnel: got %q", line)
	}
}

// A worker's field names reach an HTTP/2 client once, whatever their case:
// a lowercase content-type is not doubled by a sniffed one.
func TestH2FieldNames(t *testing.T) {
	h, _ := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	p, err := New(Options{Hasher: h, Logger: gwtest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	worker := newTap(t, replying(func(*http.Request, string) string {
		return "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-app: 1\r\ncontent-length: 2\r\n\r\n{}"
	}))
	(&engine{p: p}).use(worker.addr)
	url, cert := serveTLS(t, p)
	resp, err := cert.Client(true).Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Values("Content-Type"); len(ct) != 1 || ct[0] != "application/json" || resp.Header.Get("X-App") != "1" || string(body) != "{}" {
		t.Errorf("got Content-Type %q, X-App %q, body %q", ct, resp.Header.Get("X-App"), body)
	}
}
