package systemd_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// Under socket activation a [listeners.https] table is the socket systemd
// passes as "https" (a socket unit of its own, as gateway-generator writes
// it); `systemctl reload` reads its certificate again, and fails, changing
// nothing, when the new one is broken.
func TestTLSListenerUnderSystemd(t *testing.T) {
	certDir := t.TempDir()
	cert := gwtest.NewCert(t, certDir, "site", "127.0.0.1")
	port := gwtest.FreePort(t)
	g := startGateway(t, sdOptions{
		extra:   fmt.Sprintf("\n[listeners.https]\ncertificates = [{cert = %q, key = %q}]\n", cert.CertFile, cert.KeyFile),
		service: "Sockets=gateway.socket gateway-listener-https.socket\n",
		sockets: map[string]string{"gateway-listener-https.socket": fmt.Sprintf(
			"[Socket]\nListenStream=127.0.0.1:%s\nFileDescriptorName=https\nService=gateway.service\n", port)},
	})
	base := "https://127.0.0.1:" + port
	b := gwtest.NewBrowser(t, base)
	b.HTTP.Transport = cert.Client(true).Transport
	if who := b.Login("ada"); who.User != "ada" {
		t.Fatalf("logged in over the activated TLS socket as %+v, want ada", who)
	}
	first := cert.Served(t, base)

	next := gwtest.NewCert(t, certDir, "site", "127.0.0.1")
	g.m.MustSystemctl(t, "reload", "gateway.service")
	if got := next.Served(t, base); got.Equal(first) {
		t.Error("after systemctl reload a new connection still got the old certificate")
	}
	if who := b.Who(); who.User != "ada" {
		t.Errorf("after the reload the session is %+v, want ada", who)
	}

	os.WriteFile(next.KeyFile, []byte("broken"), 0o600)
	out, err := g.m.Systemctl("reload", "gateway.service")
	if err == nil {
		t.Errorf("systemctl reload with a broken key succeeded: %s", out)
	}
	if !strings.Contains(g.log(), "listeners.https: certificate "+next.CertFile) {
		t.Errorf("the journal does not name the broken certificate:\n%s", g.log())
	}
	if st := g.status(t); st.ActiveGeneration != 2 {
		t.Errorf("after the failed reload generation %d is active, want 2 (no new generation)", st.ActiveGeneration)
	}
	if got := next.Served(t, base); got.Equal(first) {
		t.Error("the failed reload went back to the first certificate")
	}
	out, _ = g.gatewayctl("status")
	if !strings.Contains(out, "https 127.0.0.1:"+port+": TLS, HTTP/2 and HTTP/1.1") || !strings.Contains(out, "certificate "+next.CertFile) {
		t.Errorf("gatewayctl status does not show the TLS listener:\n%s", out)
	}
}
