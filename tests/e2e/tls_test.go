package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// A [listeners] TLS listener serves the app over HTTP/2 and HTTP/1.1;
// SIGHUP reads its certificate again without dropping a connection, and a
// broken certificate fails the reload and keeps the old one. A plain
// listener with redirect_https sends clients there.
func TestTLSListener(t *testing.T) {
	certDir := t.TempDir()
	cert := gwtest.NewCert(t, certDir, "site", "127.0.0.1")
	tlsPort, plainPort := gwtest.FreePort(t), gwtest.FreePort(t)
	g := startGateway(t, options{extra: fmt.Sprintf(`
[listeners.https]
address = "127.0.0.1:%s"
certificates = [{cert = %q, key = %q}]

[listeners.plain]
address = "127.0.0.1:%s"
redirect_https = %s
`, tlsPort, cert.CertFile, cert.KeyFile, plainPort, tlsPort)})
	base := "https://127.0.0.1:" + tlsPort
	browsers := map[string]*gwtest.Browser{}
	for _, proto := range []string{"HTTP/2.0", "HTTP/1.1"} {
		b := gwtest.NewBrowser(t, base)
		b.HTTP.Transport = cert.Client(proto == "HTTP/2.0").Transport
		if who := b.Login("ada"); who.User != "ada" || who.Generation != "1" {
			t.Fatalf("%s: logged in as %+v, want ada on generation 1", proto, who)
		}
		resp := get(t, b.HTTP, base+"/whoami")
		if resp.Proto != proto {
			t.Errorf("spoke %s, want %s", resp.Proto, proto)
		}
		browsers[proto] = b
	}
	h2 := browsers["HTTP/2.0"]
	first := get(t, h2.HTTP, base+"/whoami").TLS.PeerCertificates[0]

	next := gwtest.NewCert(t, certDir, "site", "127.0.0.1") // renewed in place
	if failed := g.upgrade(); failed != "" {
		t.Fatalf("reload with a renewed certificate failed: %s", failed)
	}
	if who := h2.Who(); who.User != "ada" || who.Generation != "1" {
		t.Errorf("after the reload the HTTP/2 session is %+v, want ada on generation 1", who)
	}
	if got := get(t, h2.HTTP, base+"/whoami").TLS.PeerCertificates[0]; !got.Equal(first) {
		t.Error("the HTTP/2 connection opened before the reload was not kept (a new handshake saw the new certificate)")
	}
	renewed := next.Served(t, base)
	if renewed.Equal(first) {
		t.Fatal("a new connection after the reload got the old certificate")
	}

	os.WriteFile(cert.KeyFile, []byte("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n"), 0o600)
	failed := g.upgrade()
	if !strings.Contains(failed, "listeners.https") || !strings.Contains(failed, cert.KeyFile) {
		t.Errorf("reload with a broken key: %q, want a failure naming listeners.https and %s", failed, cert.KeyFile)
	}
	if got := next.Served(t, base); !got.Equal(renewed) {
		t.Error("a failed reload changed the certificate in use")
	}
	if n := len(g.generations()); n != 2 {
		t.Errorf("%d generations after one good and one failed reload, want 2", n)
	}

	resp := get(t, noRedirects, "http://127.0.0.1:"+plainPort+"/notes?x=1")
	if want := base + "/notes?x=1"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Errorf("plain listener: %d to %q, want 308 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, c *http.Client, url string) *http.Response {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// curl, a client other than Go's, logs in and is answered over HTTP/2.
func TestCurlHTTP2(t *testing.T) {
	curl := tool(t, "", "curl")
	cert, port := startTLSGateway(t)
	jar := filepath.Join(t.TempDir(), "cookies")
	run := func(args ...string) string {
		args = append([]string{"--http2", "-sS", "--cacert", cert.CertFile, "-b", jar, "-c", jar, "-w", "\n%{http_version} %{http_code}"}, args...)
		out, err := exec.Command(curl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	base := "https://127.0.0.1:" + port
	if out := run("-H", "Accept: application/json", "-d", "user=ada", base+"/login"); !strings.HasSuffix(out, "\n2 303") && !strings.HasSuffix(out, "\n2 200") {
		t.Fatalf("login: %q, want an answer over HTTP/2", out)
	}
	out := run(base + "/whoami")
	if !strings.Contains(out, `"user":"ada"`) || !strings.HasSuffix(out, "\n2 200") {
		t.Errorf("whoami after the login: %q, want ada over HTTP/2", out)
	}
}

// startTLSGateway starts gatewayd with a TLS listener on a free port.
func startTLSGateway(t *testing.T) (*gwtest.Cert, string) {
	t.Helper()
	cert := gwtest.NewCert(t, t.TempDir(), "site", "127.0.0.1")
	port := gwtest.FreePort(t)
	startGateway(t, options{extra: fmt.Sprintf("\n[listeners.https]\naddress = \"127.0.0.1:%s\"\ncertificates = [{cert = %q, key = %q}]\n",
		port, cert.CertFile, cert.KeyFile)})
	return cert, port
}

// tool is the path of a program the test runs: $env if set, else name on
// PATH. tests/run.sh installs them and sets GATEWAY_REQUIRE_H2SPEC, under
// which a missing one fails the test instead of skipping it.
func tool(t *testing.T, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); env != "" && p != "" {
		return p
	}
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("GATEWAY_REQUIRE_H2SPEC") != "" {
			t.Fatalf("%s is required (tests/run.sh installs it): %v", name, err)
		}
		t.Skipf("%s is not installed (tests/run.sh installs it)", name)
	}
	return p
}
