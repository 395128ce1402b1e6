package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Every way a session ends makes its affinity cookie worthless: replayed
// with the old session cookie after the end, it brings nobody back to the
// detached generation, and a login made with those cookies lands on the
// active one.
func TestEndedSessionsStayEnded(t *testing.T) {
	for _, c := range []struct {
		name string
		end  func(f *fixture, a *client)
	}{
		{"app deletes its cookie", func(f *fixture, a *client) { a.get("/logout") }},
		{"app expires its cookie", func(f *fixture, a *client) { a.get("/expire") }},
		{"end header", func(f *fixture, a *client) { a.get("/end") }},
		{"logout path", func(f *fixture, a *client) { a.get("/signout") }},
		{"admin", func(f *fixture, a *client) { f.proxy.EndSession(f.proxy.o.Hasher.Key(a.cookies["SID"])) }},
		{"idle expiry", func(f *fixture, a *client) { f.proxy.ExpireIdle(time.Now().Add(f.proxy.o.IdleTimeout + time.Second)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			f.proxy.started = time.Now().Unix() - 10 // the gateway has been up a while
			a := f.client(t)
			a.get("/login")
			old := map[string]string{"SID": a.cookies["SID"], "GATEWAY_AFFINITY": a.cookies["GATEWAY_AFFINITY"]}
			f.upgrade(t)
			c.end(f, a)
			if _, ok := a.cookies["GATEWAY_AFFINITY"]; ok && c.name != "admin" && c.name != "idle expiry" {
				t.Errorf("the answer that ended the session left the affinity cookie")
			}
			a.cookies = old // replayed
			if _, body := a.get("/"); !strings.HasPrefix(body, "g2") {
				t.Fatalf("replayed cookies of an ended session: answered by %q, want the active generation g2", body)
			}
			a.cookies = map[string]string{"SID": old["SID"], "GATEWAY_AFFINITY": old["GATEWAY_AFFINITY"]}
			if _, body := a.get("/login"); !strings.HasPrefix(body, "g2") {
				t.Fatalf("a login with the old cookies: answered by %q, want g2", body)
			}
			if n := f.proxy.Usage(1).Sessions; n != 0 {
				t.Fatalf("generation 1 holds %d sessions, want none", n)
			}
		})
	}
}

func TestAppPath(t *testing.T) {
	for in, want := range map[string]string{
		"/app/logout.jsp":                "/app/logout.jsp",
		"/app//logout.jsp":               "/app/logout.jsp",
		"//app///logout.jsp":             "/app/logout.jsp",
		"/app/logout.jsp;jsessionid=AB1": "/app/logout.jsp",
		"/app;v=2/logout.jsp":            "/app/logout.jsp",
		"/app/./logout.jsp":              "/app/logout.jsp",
		"/app/x/../logout.jsp":           "/app/logout.jsp",
		"/app/%2e%2e/logout":             "/logout",
		"/%61pp/%6Cogout.jsp":            "/app/logout.jsp",
		"/../../logout":                  "/logout",
		"/":                              "/",
		"/app/":                          "/app/",
		"/app//":                         "/app/",
		"/a%2Fb":                         "/a/b",
		"/.well-known/x":                 "/.well-known/x",
		"/bad%zz":                        "/bad%zz",
	} {
		if got := appPath([]byte(in)); got != want {
			t.Errorf("appPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// A logout path matches the path as the app sees it, only for an answer
// below 400, for the methods configured (any but HEAD and OPTIONS if none);
// the expiry of the session cookie carries the Path and Domain the app set
// it with.
func TestLogoutPaths(t *testing.T) {
	logouts := []LogoutPath{{Path: "/app/logout.jsp"}, {Path: "/app/gone"}, {Path: "/signout", Methods: []string{"POST"}}}
	for _, c := range []struct {
		method, path string
		ends         bool
	}{
		{"GET", "/app/logout.jsp", true},
		{"POST", "/app//logout.jsp", true},
		{"GET", "/app/logout.jsp;jsessionid=X1", true},
		{"GET", "/app/./x/../logout.jsp", true},
		{"GET", "/app/%6Cogout.jsp", true},
		{"HEAD", "/app/logout.jsp", false},
		{"OPTIONS", "/app/logout.jsp", false},
		{"GET", "/app/gone", false}, // the app answered 404
		{"GET", "/signout", false},  // POST only
		{"POST", "/signout", true},
		{"GET", "/app/logout.jspx", false},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			f := newFixture(t, Options{LogoutPaths: logouts})
			a := f.client(t)
			a.get("/app/login.jsp")
			resp, _ := a.do(c.method, c.path, noFollow)
			pinned := f.proxy.Usage(1).Sessions == 1
			if pinned == c.ends {
				t.Fatalf("after %s %s (answered %d): pinned %v, want the session ended %v", c.method, c.path, resp.StatusCode, pinned, c.ends)
			}
			var expiry string
			for _, l := range resp.Header.Values("Set-Cookie") {
				if strings.HasPrefix(l, "SID=;") {
					expiry = l
				}
			}
			switch {
			case !c.ends && expiry != "":
				t.Errorf("the session cookie was expired although the session goes on: %q", expiry)
			case c.ends && (!strings.Contains(expiry, "Path=/app") || !strings.Contains(expiry, "Domain=example.test") || !strings.Contains(expiry, "Max-Age=0")):
				t.Errorf("expiry of the session cookie: %q, want it with Path=/app and Domain=example.test", expiry)
			}
		})
	}
}

// A cookie set without a Path lives under the directory of the request that
// set it (RFC 6265 5.1.4), and is expired there.
func TestDefaultCookiePath(t *testing.T) {
	for in, want := range map[string]string{"/app/login.jsp": "/app", "/login": "/", "/": "/", "/a/b/": "/a/b"} {
		if got := defaultCookiePath([]byte(in)); got != want {
			t.Errorf("defaultCookiePath(%q) = %q, want %q", in, got, want)
		}
	}
	p := &Proxy{o: Options{SessionCookie: "SID"}}
	p.learnScope(&http.Cookie{Name: "SID", Value: "x"}, []byte("/shop/login"))
	if c := p.expiredSession(false); c.Path != "/shop" {
		t.Errorf("expiry path %q, want /shop", c.Path)
	}
}
