package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// gateway.trusted_proxies reaches the proxy: behind a trusted proxy that
// says the client used TLS, the affinity cookie is Secure; from a client
// that is not trusted, the same claim changes nothing.
func TestTrustedProxiesConfig(t *testing.T) {
	for _, c := range []struct {
		name, trusted string
		secure        bool
	}{
		{"trusted", `trusted_proxies = ["127.0.0.1"]`, true},
		{"not trusted", `trusted_proxies = ["10.0.0.0/8"]`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := startGateway(t, options{gateway: c.trusted})
			req, _ := http.NewRequest("POST", g.url+"/login", strings.NewReader(url.Values{"user": {"ada"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-Proto", "https")
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			affinity := gwtest.SetCookie(resp, "GATEWAY_AFFINITY")
			if affinity == "" {
				t.Fatalf("no affinity cookie: status %d, Set-Cookie %q", resp.StatusCode, resp.Header.Values("Set-Cookie"))
			}
			if got := strings.Contains(affinity, "; Secure"); got != c.secure {
				t.Errorf("affinity cookie %q: Secure %t, want %t", affinity, got, c.secure)
			}
		})
	}
}
