package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatewayd/gateway/fleet"
)

const switchPath = "/.gateway/switch"

// switchTo visits the switch path and checks that the gateway answered it
// with a 303 itself; it returns the answer.
func (c *client) switchTo(ret string) *http.Response {
	c.t.Helper()
	path := switchPath
	if ret != "" {
		path += "?" + url.Values{"return": {ret}}.Encode()
	}
	resp, body := c.do("GET", path, noFollow)
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("GET %s: status %d (%q), want 303", path, resp.StatusCode, body)
	}
	if strings.HasPrefix(body, "g1") || strings.HasPrefix(body, "g2") {
		c.t.Fatalf("GET %s: answered by the app (%q), want the gateway", path, body)
	}
	return resp
}

// affinitySetCookie returns the Set-Cookie line of the affinity cookie.
func affinitySetCookie(resp *http.Response) string {
	for _, l := range resp.Header["Set-Cookie"] {
		if strings.HasPrefix(l, "GATEWAY_AFFINITY=") {
			return l
		}
	}
	return ""
}

func TestSwitchMovesSessionToActive(t *testing.T) {
	f := newFixture(t, Options{SwitchPath: switchPath})
	a := f.client(t)
	a.get("/login")
	sid := a.cookies["SID"]
	f.upgrade(t)
	if got := a.who(); got != "g1" {
		t.Fatalf("before the switch: got %q, want %q", got, "g1")
	}

	resp := a.switchTo("/notes?tab=2")
	if got := resp.Header.Get("Location"); got != "/notes?tab=2" {
		t.Errorf("Location: got %q, want %q", got, "/notes?tab=2")
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", got)
	}
	line := affinitySetCookie(resp)
	for _, want := range []string{"GATEWAY_AFFINITY=;", "Max-Age=0", "Path=/", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(line, want) {
			t.Errorf("affinity Set-Cookie %q lacks %q", line, want)
		}
	}
	if strings.Contains(strings.Join(resp.Header["Set-Cookie"], "\n"), "SID=") {
		t.Errorf("Set-Cookie: got %q, want the app's session cookie left alone", resp.Header["Set-Cookie"])
	}
	if a.cookies["SID"] != sid {
		t.Fatalf("session cookie after the switch: got %q, want it kept", a.cookies["SID"])
	}
	if _, ok := a.cookies["GATEWAY_AFFINITY"]; ok {
		t.Fatal("the client still has its affinity cookie")
	}
	if got := f.proxy.Usage(1).Sessions; got != 0 {
		t.Fatalf("gen 1 sessions after the switch: got %d, want 0", got)
	}
	for range 3 {
		if got := a.who(); got != "g2" {
			t.Fatalf("after the switch: got %q, want %q", got, "g2")
		}
	}
	// The active generation's app does not know the old id and does not
	// set a cookie: nothing may pin the session anywhere.
	if pins := f.proxy.Pins(); len(pins) != 0 {
		t.Fatalf("pins after the switch: got %+v, want none", pins)
	}
	if got := f.proxy.Switched(); got != 1 {
		t.Errorf("Switched: got %d, want 1", got)
	}
	// Logging in on the active generation pins the new session there.
	a.get("/login")
	if got := f.proxy.Usage(2).Sessions; got != 1 {
		t.Fatalf("gen 2 sessions after logging in again: got %d, want 1", got)
	}
}

// The affinity cookie a client held before the switch (a browser that did
// not drop it, or a replay) must not pin the session to the old generation.
func TestSwitchedSessionAffinityCookieDoesNotRepin(t *testing.T) {
	f := newFixture(t, Options{SwitchPath: switchPath})
	a := f.client(t)
	a.get("/login")
	old := a.cookies["GATEWAY_AFFINITY"]
	f.upgrade(t)
	a.switchTo("")
	a.cookies["GATEWAY_AFFINITY"] = old
	rejected := f.proxy.RejectedAffinity()
	if got := a.who(); got != "g2" {
		t.Fatalf("with the old affinity cookie: got %q, want %q", got, "g2")
	}
	if got := f.proxy.Usage(1).Sessions; got != 0 {
		t.Fatalf("gen 1 sessions: got %d, want 0", got)
	}
	if got := f.proxy.RejectedAffinity(); got != rejected+1 {
		t.Errorf("RejectedAffinity: got %d, want %d", got, rejected+1)
	}
}

// A gateway that lost its pins (a restart without state) still knows the
// session's generation from its affinity cookie: the switch moves it too.
func TestSwitchWithAffinityCookieOnly(t *testing.T) {
	f := newFixture(t, Options{SwitchPath: switchPath})
	a := f.client(t)
	a.get("/login")
	f.upgrade(t)
	f.proxy.pins.removeWhere(func(int, int, int64) bool { return true })
	old := a.cookies["GATEWAY_AFFINITY"]
	if line := affinitySetCookie(a.switchTo("")); !strings.Contains(line, "Max-Age=0") {
		t.Fatalf("affinity Set-Cookie: got %q, want it expired", line)
	}
	a.cookies["GATEWAY_AFFINITY"] = old
	if got := a.who(); got != "g2" {
		t.Fatalf("after the switch: got %q, want %q", got, "g2")
	}
}

func TestSwitchWithoutSessionJustRedirects(t *testing.T) {
	f := newFixture(t, Options{SwitchPath: switchPath})
	f.upgrade(t)
	resp := f.client(t).switchTo("/back")
	if got := resp.Header.Get("Location"); got != "/back" {
		t.Errorf("Location: got %q, want %q", got, "/back")
	}
	if got := resp.Header["Set-Cookie"]; len(got) != 0 {
		t.Errorf("Set-Cookie: got %q, want none", got)
	}
}

// A session already on the active generation stays pinned: its state is on
// one instance, and without the pin it could land on another.
func TestSwitchOnActiveGenerationKeepsPin(t *testing.T) {
	f := newFixture(t, Options{SwitchPath: switchPath})
	f.proxy.Publish(&fleet.Routes{Active: gen(1, app(t, "i1"), app(t, "i2"))})
	a := f.client(t)
	a.get("/login")
	home := a.who()
	resp := a.switchTo("")
	if got := resp.Header["Set-Cookie"]; len(got) != 0 {
		t.Errorf("Set-Cookie: got %q, want none", got)
	}
	if got := f.proxy.Usage(1).Sessions; got != 1 {
		t.Fatalf("gen 1 sessions: got %d, want 1", got)
	}
	for range 4 {
		if got := a.who(); got != home {
			t.Fatalf("after the switch: got %q, want its instance %q", got, home)
		}
	}
	if got := f.proxy.Switched(); got != 0 {
		t.Errorf("Switched: got %d, want 0", got)
	}
}

func TestSwitchMethods(t *testing.T) {
	f := newFixture(t, Options{SwitchPath: switchPath})
	a := f.client(t)
	a.get("/login")
	f.upgrade(t)
	resp, _ := a.do("PUT", switchPath, noFollow)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" {
		t.Fatalf("PUT: got %d Allow=%q, want 405 with Allow: GET, POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if got := f.proxy.Usage(1).Sessions; got != 1 {
		t.Fatalf("gen 1 sessions after a refused PUT: got %d, want 1", got)
	}
	resp, _ = a.do("POST", switchPath+"?return=/x", noFollow)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/x" {
		t.Fatalf("POST: got %d Location=%q, want 303 to /x", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := a.who(); got != "g2" {
		t.Fatalf("after POST: got %q, want %q", got, "g2")
	}
}

// Without Options.SwitchPath the path is the app's like any other.
func TestSwitchPathOffByDefault(t *testing.T) {
	f := newFixture(t, Options{})
	if code, body := f.client(t).get(switchPath); code != 200 || !strings.HasPrefix(body, "g1") {
		t.Fatalf("GET %s: got %d %q, want the app's answer", switchPath, code, body)
	}
}

func TestSwitchReturnPath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/notes", "/notes"},
		{"/notes?tab=2&x=%2F", "/notes?tab=2&x=%2F"},
		{"/a b", "/a%20b"},
		{"/ä", "/%C3%A4"},
		{"//evil.com", "/"},
		{"//evil.com/path", "/"},
		{"https://evil.com", "/"},
		{"http:evil.com", "/"},
		{"/\\evil.com", "/"},
		{"/\t/evil.com", "/"},
		{"/\r\nSet-Cookie: x=y", "/"},
		{"evil.com", "/"},
		{"notes", "/"},
		{"javascript:alert(1)", "/"},
		{"/%2F/evil.com", "/%2F/evil.com"}, // a path on this site: browsers do not decode %2F into "//"
	} {
		t.Run(c.in, func(t *testing.T) {
			if got := returnPath(c.in); got != c.want {
				t.Errorf("returnPath(%q): got %q, want %q", c.in, got, c.want)
			}
		})
	}
	// And through the handler, with the parameter encoded as a browser would.
	f := newFixture(t, Options{SwitchPath: switchPath})
	for in, want := range map[string]string{"//evil.com": "/", "https://evil.com": "/", "/back?x=1": "/back?x=1"} {
		if got := f.client(t).switchTo(in).Header.Get("Location"); got != want {
			t.Errorf("?return=%s: Location %q, want %q", in, got, want)
		}
	}
}
