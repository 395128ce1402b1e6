package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/tests/gwtest"
)

// app is a tiny stateful backend: it names itself in every answer and
// manages the session cookie "SID" like a web framework would.
func app(t *testing.T, name string) *httptest.Server {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login", "/rotate":
			http.SetCookie(w, &http.Cookie{Name: "SID", Value: fmt.Sprintf("%s-%d", name, n.Add(1)), Path: "/"})
		case "/app/login.jsp": // a servlet container's: the cookie lives under /app
			http.SetCookie(w, &http.Cookie{Name: "SID", Value: fmt.Sprintf("%s-%d", name, n.Add(1)), Path: "/app", Domain: "example.test"})
		case "/app/logout.jsp", "/app/gone": // forget the session, keep the cookie
			if r.URL.Path == "/app/gone" {
				http.NotFound(w, r)
				return
			}
		case "/logout":
			http.SetCookie(w, &http.Cookie{Name: "SID", Value: "", Path: "/", MaxAge: -1})
		case "/expire":
			w.Header().Add("Set-Cookie", "SID=x; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
		case "/end":
			w.Header().Set("X-Gateway-End-Session", "1")
		case "/signout": // forgets the session, keeps the cookie
		case "/ws":
			upgradeEcho(w, r)
			return
		case "/missing":
			http.NotFound(w, r)
			return
		case "/abort": // promises a body, sends part of it and hangs up
			w.Header().Set("Content-Length", "100000")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("partial"))
			http.NewResponseController(w).Flush()
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
			return
		}
		fmt.Fprintf(w, "%s fwd=%s host=%s proto=%s", name, r.Header.Get("X-Forwarded-For"), r.Host, r.Header.Get("X-Forwarded-Proto"))
	}))
	t.Cleanup(s.Close)
	return s
}

func gen(id int, servers ...*httptest.Server) *fleet.Route {
	g := &fleet.Route{Generation: id, Revision: fmt.Sprintf("r%d", id)}
	for i, s := range servers {
		g.Instances = append(g.Instances, fleet.Endpoint{Instance: i + 1, Network: "tcp", Address: s.Listener.Addr().String()})
	}
	return g
}

type fixture struct {
	proxy *Proxy
	front *front
	g1    *fleet.Route
}

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	f := &fixture{}
	f.g1 = gen(1, app(t, "g1"))
	h, err := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	o.Hasher, o.SessionCookie = h, "SID"
	if o.LogoutPaths == nil {
		o.LogoutPaths = []LogoutPath{{Path: "/signout"}}
	}
	if o.Logger == nil {
		o.Logger = gwtest.Logger(t)
	}
	f.proxy, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.proxy.Publish(&fleet.Routes{Active: f.g1})
	f.front = serveProxy(t, f.proxy, ServerOptions{})
	return f
}

// upgrade makes g2 active and detaches g1.
func (f *fixture) upgrade(t *testing.T) *fleet.Route {
	g2 := gen(2, app(t, "g2"))
	f.proxy.Publish(&fleet.Routes{Active: g2, Detached: []*fleet.Route{f.g1}})
	return g2
}

// client is a browser: it keeps cookies.
type client struct {
	t       *testing.T
	base    string
	cookies map[string]string
}

func (f *fixture) client(t *testing.T) *client {
	return &client{t: t, base: f.front.URL, cookies: map[string]string{}}
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	resp, body := c.do("GET", path, http.DefaultClient)
	return resp.StatusCode, body
}

// noFollow is a client that returns redirects instead of following them.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// do sends a request with the client's cookies, keeps the cookies of the
// answer, and returns the answer with its body read.
func (c *client) do(method, path string, hc *http.Client) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, nil)
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" || (!ck.Expires.IsZero() && ck.Expires.Before(time.Now())) {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (c *client) who() string {
	c.t.Helper()
	code, body := c.get("/")
	if code != 200 {
		c.t.Fatalf("GET /: status %d, body %q", code, body)
	}
	return strings.Fields(body)[0]
}

func TestRoutingAcrossUpgrade(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.client(t)
	a.get("/login")
	if got := a.who(); got != "g1" {
		t.Fatalf("before upgrade: got %q, want %q", got, "g1")
	}
	f.upgrade(t)
	b := f.client(t)
	b.get("/login")
	for range 20 {
		if got := a.who(); got != "g1" {
			t.Fatalf("pinned session after upgrade: got %q, want %q", got, "g1")
		}
		if got := b.who(); got != "g2" {
			t.Fatalf("new session after upgrade: got %q, want %q", got, "g2")
		}
	}
	if u := f.proxy.Usage(1); u.Sessions != 1 {
		t.Fatalf("gen 1 sessions: got %d, want 1", u.Sessions)
	}
	a.get("/logout")
	if got := a.who(); got != "g2" {
		t.Fatalf("after logout: got %q, want %q", got, "g2")
	}
	if u := f.proxy.Usage(1); !u.Idle() {
		t.Fatalf("gen 1 after logout: got %+v, want idle", u)
	}
}

func TestPinEnds(t *testing.T) {
	for _, path := range []string{"/logout", "/expire", "/end", "/signout"} {
		t.Run(path, func(t *testing.T) {
			f := newFixture(t, Options{})
			a := f.client(t)
			a.get("/login")
			f.upgrade(t)
			a.get(path)
			if got := f.proxy.Usage(1).Sessions; got != 0 {
				t.Fatalf("gen 1 sessions after %s: got %d, want 0", path, got)
			}
			if _, ok := a.cookies["SID"]; ok && path != "/end" {
				t.Fatalf("after %s the client still has its session cookie", path)
			}
			if got := a.who(); got != "g2" {
				t.Fatalf("after %s: got %q, want %q", path, got, "g2")
			}
		})
	}
}

func TestEndHeaderIsStripped(t *testing.T) {
	f := newFixture(t, Options{})
	resp, err := http.Get(f.front.URL + "/end")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Gateway-End-Session"); got != "" {
		t.Fatalf("end header reached the client: got %q, want it stripped", got)
	}
}

func TestRotationKeepsGeneration(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.client(t)
	a.get("/login")
	before := a.cookies["SID"]
	f.upgrade(t)
	a.get("/rotate")
	if a.cookies["SID"] == before {
		t.Fatal("the app did not rotate the session id")
	}
	if got := a.who(); got != "g1" {
		t.Fatalf("after rotation: got %q, want %q", got, "g1")
	}
	if got := f.proxy.Usage(1).Sessions; got != 1 {
		t.Fatalf("gen 1 sessions after rotation: got %d, want 1 (old id unpinned, new pinned)", got)
	}
}

func TestAffinityCookieRestoresPin(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.client(t)
	a.get("/login")
	f.upgrade(t)
	// A restarted gateway that lost its state has no pins; the affinity
	// cookie, issued before it started, brings the session back to its
	// generation.
	f.proxy.pins.removeWhere(func(int, int, int64) bool { return true })
	f.proxy.started = time.Now().Unix() + 1
	if got := a.who(); got != "g1" {
		t.Fatalf("with affinity cookie only: got %q, want %q", got, "g1")
	}
	if got := f.proxy.Usage(1).Sessions; got != 1 {
		t.Fatalf("gen 1 sessions: got %d, want the session pinned again", got)
	}
}

func TestBadAffinityCookiesAreIgnored(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.client(t)
	a.get("/login")
	good := a.cookies["GATEWAY_AFFINITY"]
	other, _ := NewHasher([]byte("another key, another key, another"))
	key := f.proxy.o.Hasher.Key(a.cookies["SID"])
	f.upgrade(t)
	cases := map[string]string{
		"garbled":         "%%%not base64",
		"truncated":       good[:len(good)-3],
		"flipped":         flip(good),
		"forged":          other.SignAffinity(Affinity{1, 1, time.Now()}, key),
		"other session":   f.proxy.o.Hasher.SignAffinity(Affinity{1, 1, time.Now()}, f.proxy.o.Hasher.Key("someone-else")),
		"stale":           f.proxy.o.Hasher.SignAffinity(Affinity{1, 1, time.Now().Add(-31 * time.Minute)}, key),
		"gone generation": f.proxy.o.Hasher.SignAffinity(Affinity{9, 1, time.Now()}, key),
		"empty":           "",
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			f.proxy.pins.removeWhere(func(int, int, int64) bool { return true })
			a.cookies["GATEWAY_AFFINITY"] = v
			code, body := a.get("/")
			if code != 200 {
				t.Fatalf("status: got %d, want 200 (%q)", code, body)
			}
			if got := strings.Fields(body)[0]; got != "g2" {
				t.Fatalf("routed to %q, want the active generation %q", got, "g2")
			}
		})
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[10] == 'A' {
		b[10] = 'B'
	} else {
		b[10] = 'A'
	}
	return string(b)
}

func TestAffinityCookieAttributes(t *testing.T) {
	f := newFixture(t, Options{})
	resp, err := http.Get(f.front.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var line string
	for _, l := range resp.Header["Set-Cookie"] {
		if strings.HasPrefix(l, "GATEWAY_AFFINITY=") {
			line = l
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(line, want) {
			t.Errorf("affinity cookie %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "Secure") {
		t.Errorf("affinity cookie %q is Secure on a plain HTTP request", line)
	}
}

func TestNoGenerationIs503(t *testing.T) {
	f := newFixture(t, Options{})
	f.proxy.Publish(&fleet.Routes{})
	resp, err := http.Get(f.front.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d Retry-After=%q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestWorkerFailureIs502(t *testing.T) {
	f := newFixture(t, Options{})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { // accepts, reads the request, hangs up mid-answer
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			c.Close()
		}
	}()
	defer l.Close()
	f.proxy.Publish(&fleet.Routes{Active: &fleet.Route{Generation: 3, Instances: []fleet.Endpoint{{Instance: 1, Network: "tcp", Address: l.Addr().String()}}}})
	resp, err := http.Get(f.front.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 {
		t.Fatalf("got %d, want 502", resp.StatusCode)
	}
}

func TestForwardedHeaders(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.client(t)
	_, body := c.get("/")
	if !strings.Contains(body, "fwd=127.0.0.1") {
		t.Fatalf("body %q: want X-Forwarded-For 127.0.0.1", body)
	}
	if !strings.Contains(body, "host="+strings.TrimPrefix(f.front.URL, "http://")) {
		t.Fatalf("body %q: want the client's Host preserved", body)
	}
}

func TestNewSessionsSpreadOverInstances(t *testing.T) {
	f := newFixture(t, Options{})
	g := gen(5, app(t, "i1"), app(t, "i2"))
	f.proxy.Publish(&fleet.Routes{Active: g})
	seen := map[string]int{}
	for range 10 {
		c := f.client(t)
		c.get("/login")
		seen[c.who()]++
	}
	if seen["i1"] != 5 || seen["i2"] != 5 {
		t.Fatalf("got %v, want 5 sessions on each instance", seen)
	}
}

func TestIdleExpiry(t *testing.T) {
	now := time.Now()
	f := newFixture(t, Options{IdleTimeout: time.Minute, Now: func() time.Time { return now }})
	a := f.client(t)
	a.get("/login")
	f.upgrade(t)
	now = now.Add(2 * time.Minute)
	got := f.proxy.ExpireIdle(now)
	if got[1] != 1 {
		t.Fatalf("expired: got %v, want 1 session of gen 1", got)
	}
	if w := a.who(); w != "g2" {
		t.Fatalf("after expiry: got %q, want %q", w, "g2")
	}
}

func TestEndedSessionDoesNotComeBack(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.client(t)
	a.get("/login")
	f.upgrade(t)
	for _, p := range f.proxy.Pins() {
		if !f.proxy.EndSession(p.Key) {
			t.Fatal("EndSession: got false, want true")
		}
	}
	if got := a.who(); got != "g2" {
		t.Fatalf("after EndSession, with the old affinity cookie: got %q, want %q", got, "g2")
	}
}

func TestAffinityCookieIsReissuedWhileInUse(t *testing.T) {
	now := time.Now()
	f := newFixture(t, Options{IdleTimeout: 4 * time.Minute, Now: func() time.Time { return now }})
	a := f.client(t)
	a.get("/login")
	first := a.cookies["GATEWAY_AFFINITY"]
	now = now.Add(30 * time.Second)
	a.get("/")
	if a.cookies["GATEWAY_AFFINITY"] != first {
		t.Fatal("affinity cookie reissued while still fresh")
	}
	now = now.Add(time.Minute)
	a.get("/")
	if a.cookies["GATEWAY_AFFINITY"] == first {
		t.Fatal("affinity cookie not reissued after a quarter of the idle timeout")
	}
}
