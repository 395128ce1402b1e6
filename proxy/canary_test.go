package proxy

import (
	"io"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/gatewayd/gateway/fleet"
)

// withCanary publishes g1 active and a new generation 2 as the canary.
func (f *fixture) withCanary(t *testing.T, share float64) {
	f.proxy.Publish(&fleet.Routes{Active: f.g1, Canary: gen(2, app(t, "g2")), CanaryShare: share})
}

// The canary gets its share of new sessions, drawn for each one: over
// 2,000 logins with a share of 0.1 the count is binomial (mean 200,
// σ ≈ 13.4), and 4.5σ either side fails by chance once in 150,000 runs.
// Sessions pinned before the canary came stay where they are, and those
// that landed on it stay there.
func TestCanaryShare(t *testing.T) {
	f := newFixture(t, Options{})
	old := f.client(t)
	old.get("/login")
	f.withCanary(t, 0.1)
	const n, share = 2000, 0.1
	var onCanary *client
	got := 0
	for range n {
		c := f.client(t)
		if _, body := c.get("/login"); strings.HasPrefix(body, "g2 ") {
			got, onCanary = got+1, c
		}
	}
	mean, sigma := n*share, math.Sqrt(n*share*(1-share))
	if math.Abs(float64(got)-mean) > 4.5*sigma {
		t.Errorf("%d of %d new sessions on the canary, want %.0f ± %.0f", got, n, mean, 4.5*sigma)
	}
	if onCanary == nil {
		t.Fatal("no session on the canary")
	}
	for range 50 {
		if w := old.who(); w != "g1" {
			t.Fatalf("a session pinned before the canary moved to %s", w)
		}
		if w := onCanary.who(); w != "g2" {
			t.Fatalf("a session on the canary moved to %s", w)
		}
	}
}

// Without a share, new sessions stay off the canary; one that has no ready
// worker sends its share to the active generation rather than failing.
func TestCanaryShareBounds(t *testing.T) {
	f := newFixture(t, Options{})
	f.withCanary(t, 0)
	for range 100 {
		if w := f.client(t).who(); w != "g1" {
			t.Fatalf("share 0: a new session went to %s", w)
		}
	}
	f.proxy.Publish(&fleet.Routes{Active: f.g1, Canary: gen(2), CanaryShare: 1})
	if w := f.client(t).who(); w != "g1" {
		t.Fatalf("a canary without workers: a new session went to %s, want the active generation", w)
	}
	f.withCanary(t, 1)
	if w := f.client(t).who(); w != "g2" {
		t.Fatalf("share 1: a new session went to %s", w)
	}
}

// Testers reach the canary with X-Gateway-Canary: 1 whatever the share,
// and stay there once logged in; from an untrusted peer the header is
// ignored.
func TestCanaryOptIn(t *testing.T) {
	for _, c := range []struct {
		trusted string
		want    string
	}{{"127.0.0.1/32", "g2"}, {"10.0.0.0/8", "g1"}} {
		t.Run(c.trusted, func(t *testing.T) {
			f := newFixture(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix(c.trusted)}})
			f.withCanary(t, 0)
			a := f.client(t)
			req, _ := http.NewRequest("GET", f.front.URL+"/login", nil)
			req.Header.Set("X-Gateway-Canary", "1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if w := strings.Fields(string(body))[0]; w != c.want {
				t.Fatalf("login asking for the canary went to %s, want %s", w, c.want)
			}
			for _, ck := range resp.Cookies() {
				a.cookies[ck.Name] = ck.Value
			}
			if w := a.who(); w != c.want {
				t.Fatalf("after the login, without the header: %s, want %s", w, c.want)
			}
		})
	}
}

// Over HTTP/2 as over HTTP/1.1, a trusted tester's header reaches the
// canary, and without it a share of 0 sends no one there.
func TestCanaryOptInBothProtocols(t *testing.T) {
	f := newFixture(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	f.withCanary(t, 0)
	url, cert := serveTLS(t, f.proxy)
	for _, pr := range protocols {
		hc := cert.Client(pr.h2)
		for _, c := range []struct{ header, want string }{{"1", "g2"}, {"", "g1"}} {
			req, _ := http.NewRequest("GET", url+"/", nil)
			req.Header.Set("X-Gateway-Canary", c.header)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Proto != pr.proto || !strings.HasPrefix(string(body), c.want+" ") {
				t.Errorf("%s, X-Gateway-Canary %q: %s answered %q, want %s from %s", pr.name, c.header, resp.Proto, body, pr.proto, c.want)
			}
		}
	}
}
