package proxy

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// From a trusted proxy, the worker gets the chain of X-Forwarded-For with
// the proxy appended, and the proxy's X-Forwarded-Proto, -Host and
// Forwarded; from anyone else, the gateway's own (TestRequestFieldsAsTheWorkerGetsThem).
func TestTrustedProxyFields(t *testing.T) {
	const sent = "X-Forwarded-For: 203.0.113.9\r\nx-forwarded-for: 10.1.1.1\r\nX-Forwarded-Host: www.example\r\n" +
		"X-Forwarded-Proto: https\r\nForwarded: for=203.0.113.9;proto=https\r\n"
	cases := []struct {
		name    string
		trusted []netip.Prefix
		want    map[string][]string
	}{
		{"trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, map[string][]string{
			"X-Forwarded-For": {"203.0.113.9, 10.1.1.1, 127.0.0.1"}, "X-Forwarded-Host": {"www.example"},
			"X-Forwarded-Proto": {"https"}, "Forwarded": {"for=203.0.113.9;proto=https"}}},
		{"not trusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, map[string][]string{
			"X-Forwarded-For": {"127.0.0.1"}, "X-Forwarded-Host": {"front.example"},
			"X-Forwarded-Proto": {"http"}, "Forwarded": nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngineWith(t, ServerOptions{}, Options{TrustedProxies: c.trusted})
			tp := newTap(t, replying(okReply))
			e.use(tp.addr)
			w := dial(t, e.addr)
			w.send("GET / HTTP/1.1\r\nHost: front.example\r\n" + sent + "\r\n")
			if resp, _ := w.answer("GET"); resp.StatusCode != 200 {
				t.Fatalf("status: got %d, want 200", resp.StatusCode)
			}
			req := received(t, tp)
			for name, want := range c.want {
				if got := req.Header[name]; !slices.Equal(got, want) {
					t.Errorf("worker's %s: got %q, want %q", name, got, want)
				}
			}
		})
	}
}

// A trusted proxy that did not send them leaves the gateway's own
// X-Forwarded-Host and -Proto, and its address alone in X-Forwarded-For.
func TestTrustedProxyWithoutFields(t *testing.T) {
	e := newEngineWith(t, ServerOptions{}, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	tp := newTap(t, replying(okReply))
	e.use(tp.addr)
	w := dial(t, e.addr)
	w.send("GET / HTTP/1.1\r\nHost: front.example\r\n\r\n")
	w.answer("GET")
	req := received(t, tp)
	for name, want := range map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "front.example", "X-Forwarded-Proto": "http"} {
		if got := req.Header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("worker's %s: got %q, want %q", name, got, want)
		}
	}
}

// The affinity cookie is Secure when a trusted proxy says the client's
// connection was TLS, and only then.
func TestSecureCookieBehindTrustedProxy(t *testing.T) {
	for _, c := range []struct {
		name    string
		trusted string
		proto   string
		secure  bool
	}{
		{"trusted, https", "127.0.0.1/32", "https", true},
		{"trusted, HTTPS list", "127.0.0.1/32", "HTTPS, http", true},
		{"trusted, http", "127.0.0.1/32", "http", false},
		{"not trusted, https", "10.0.0.0/8", "https", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix(c.trusted)}})
			req, _ := http.NewRequest("GET", f.front.URL+"/login", nil)
			req.Header.Set("X-Forwarded-Proto", c.proto)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			affinity := gwtest.SetCookie(resp, "GATEWAY_AFFINITY")
			if affinity == "" {
				t.Fatalf("no affinity cookie in %q", resp.Header.Values("Set-Cookie"))
			}
			if got := strings.Contains(affinity, "; Secure"); got != c.secure {
				t.Errorf("affinity cookie %q: Secure %t, want %t", affinity, got, c.secure)
			}
		})
	}
}

// The client named in logs is the first address of the chain, from the
// right, that is not a trusted proxy.
func TestClientThroughTrustedChain(t *testing.T) {
	p := &Proxy{o: Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}}}
	for _, c := range []struct {
		trusted bool
		xff     string
		want    string
	}{
		{false, "", "127.0.0.1"},
		{true, "203.0.113.9, 10.1.1.1, 127.0.0.1", "203.0.113.9"},
		{true, "198.51.100.1, 203.0.113.9, 10.1.1.1, 127.0.0.1", "203.0.113.9"},
		{true, "10.2.2.2, 127.0.0.1", "10.2.2.2"},
		{true, "garbage, 127.0.0.1", "garbage"},
	} {
		pr := &peer{addr: netip.MustParseAddr("127.0.0.1"), trusted: c.trusted, xff: []byte(c.xff)}
		if got := pr.client(p); got != c.want {
			t.Errorf("trusted %t, chain %q: got %q, want %q", c.trusted, c.xff, got, c.want)
		}
	}
}
