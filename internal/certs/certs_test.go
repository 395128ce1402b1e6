package certs

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/tests/gwtest"
)

// serve answers TLS handshakes on loopback with s's configuration.
func serve(t *testing.T, s *Set) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", s.Config(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				c.(*tls.Conn).Handshake()
				c.Read(make([]byte, 1))
				c.Close()
			}()
		}
	}()
	return l.Addr().String()
}

// served is the certificate the server at addr shows for name.
func served(t *testing.T, addr, name string) (*x509.Certificate, *tls.Conn) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.ConnectionState().PeerCertificates[0], c
}

func TestSNI(t *testing.T) {
	dir := t.TempDir()
	a, b := gwtest.NewCert(t, dir, "a", "a.test"), gwtest.NewCert(t, dir, "b", "b.test", "www.b.test")
	s, err := New([]config.Certificate{{Cert: a.CertFile, Key: a.KeyFile}, {Cert: b.CertFile, Key: b.KeyFile}})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	for name, want := range map[string]string{"a.test": "a.test", "www.b.test": "b.test", "other.test": "a.test", "": "a.test"} {
		if got, _ := served(t, addr, name); got.Subject.CommonName != want {
			t.Errorf("server name %q: got the certificate of %s, want %s", name, got.Subject.CommonName, want)
		}
	}
	info := s.Info()
	if len(info) != 2 || strings.Join(info[1].Names, ",") != "b.test,www.b.test" || info[0].Cert != a.CertFile {
		t.Errorf("info %+v", info)
	}
}

// A reload reads the files again for the handshakes that follow; the
// connections already open go on. A broken file fails the reload and
// changes nothing.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	old := gwtest.NewCert(t, dir, "site", "site.test")
	s, err := New([]config.Certificate{{Cert: old.CertFile, Key: old.KeyFile}})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	first, open := served(t, addr, "site.test")

	gwtest.NewCert(t, dir, "site", "site.test") // the files are replaced
	st, err := s.Stage()
	if err != nil {
		t.Fatal(err)
	}
	st.Commit()
	second, _ := served(t, addr, "site.test")
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("a handshake after the reload got the old certificate")
	}
	if _, err := open.Write([]byte("x")); err != nil {
		t.Errorf("a connection opened before the reload broke: %v", err)
	}

	os.WriteFile(old.KeyFile, []byte("not a key"), 0o600)
	if _, err := s.Stage(); err == nil || !strings.Contains(err.Error(), old.KeyFile) {
		t.Errorf("broken key: error %v, want one naming %s", err, old.KeyFile)
	}
	if third, _ := served(t, addr, "site.test"); third.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Error("a failed reload changed the certificate")
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	c := gwtest.NewCert(t, dir, "a", "a.test")
	other := gwtest.NewCert(t, dir, "b", "b.test")
	for _, files := range [][]config.Certificate{
		{{Cert: dir + "/missing.pem", Key: c.KeyFile}},
		{{Cert: c.CertFile, Key: other.KeyFile}},
	} {
		if _, err := New(files); err == nil || !strings.Contains(err.Error(), files[0].Cert) {
			t.Errorf("%+v: error %v, want one naming the certificate", files, err)
		}
	}
}
