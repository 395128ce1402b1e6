package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/tests/gwtest"
)

// selfSigned is gwtest's certificate for 127.0.0.1, as the console's tests
// use it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	c := gwtest.NewCert(t, dir, "admin", "127.0.0.1")
	return c.CertFile, c.KeyFile, c.Pool
}

// With a certificate the console speaks HTTPS only, TLS 1.2 at least.
func TestAdminServesTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a, err := testAdmin(config.Admin{User: "admin", TLSCertificate: certFile, TLSKey: keyFile}, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://" + l.Addr().String() + "/"; a.where() != want {
		t.Errorf("where: got %q, want %q", a.where(), want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := a.start(ctx)
	defer func() { cancel(); <-done }()

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(a.where() + "api/status")
	if err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET over TLS: status %d, want 200", resp.StatusCode)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get(a.where()); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.1: got %v, want a protocol version refusal", err)
	}
	if resp, err := http.Get("http://" + l.Addr().String() + "/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS console: status %d, want 400 (the standard library's answer)", resp.StatusCode)
		}
	}
}

func TestAdminBadCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, _, _ := selfSigned(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = testAdmin(config.Admin{User: "admin", TLSCertificate: certFile, TLSKey: filepath.Join(dir, "missing.key")}, l, nil)
	if err == nil || !strings.Contains(err.Error(), "admin.tls_key "+filepath.Join(dir, "missing.key")) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("got %v, want an error naming admin.tls_key and its file", err)
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Error("the listener is still open after the refusal")
	}
}

// Off loopback without TLS the console warns at start, unless
// admin.plain_http_ok says it is deliberate.
func TestAdminWarnsOfPlainHTTP(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	certFile, keyFile, _ := selfSigned(t, t.TempDir())
	const warning = "the admin console is served over plain HTTP to other machines"
	for _, tt := range []struct {
		name  string
		admin config.Admin
		addr  net.Addr
		warn  bool
	}{
		{"public, plain", config.Admin{}, &net.TCPAddr{IP: net.IPv4zero, Port: 9090}, true},
		{"public, plain deliberately", config.Admin{PlainHTTPOK: true}, &net.TCPAddr{IP: net.IPv4zero, Port: 9090}, false},
		{"public, TLS", config.Admin{TLSCertificate: certFile, TLSKey: keyFile}, &net.TCPAddr{IP: net.IPv4zero, Port: 9090}, false},
		{"loopback, plain", config.Admin{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9090}, false},
		{"unix socket", config.Admin{}, &net.UnixAddr{Name: "/run/gateway/admin.sock", Net: "unix"}, false},
	} {
		tt.admin.User, tt.admin.PasswordHash = "admin", string(hash)
		var log gwtest.Buffer
		_, err := newAdmin(testConfig(tt.admin), idleCore{}, nil, &passed{addr: tt.addr}, "dev", slog.New(slog.NewTextHandler(&log, nil)))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := strings.Contains(log.String(), "level=WARN msg=\""+warning); got != tt.warn {
			t.Errorf("%s: warned %t, want %t; log:\n%s", tt.name, got, tt.warn, log.String())
		}
	}
}
