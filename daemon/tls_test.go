package daemon

import (
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/internal/certs"
	"github.com/gatewayd/gateway/tests/gwtest"
)

// A reload reads the console's certificate again with the listeners', and
// one broken file of either changes none of them.
func TestReloadCertificates(t *testing.T) {
	dir := t.TempDir()
	load := func(base string) (*certs.Set, *gwtest.Cert) {
		c := gwtest.NewCert(t, dir, base, base+".test")
		set, err := certs.New([]config.Certificate{{Cert: c.CertFile, Key: c.KeyFile}})
		if err != nil {
			t.Fatal(err)
		}
		return set, c
	}
	admin, adminCert := load("admin")
	site, _ := load("site")
	d := &Daemon{cfg: &config.Config{}, log: slog.New(slog.DiscardHandler), certs: map[string]*certs.Set{adminCerts: admin, "a1": site}} // "a1" is staged before "admin"
	notAfter := func(s *certs.Set) string { return s.Info()[0].NotAfter.String() + s.Info()[0].Names[0] }
	before := notAfter(admin)

	gwtest.NewCert(t, dir, "admin", "renewed.test")
	if err := d.reloadCertificates(); err != nil {
		t.Fatal(err)
	}
	renewed := notAfter(admin)
	if renewed == before || !strings.HasSuffix(renewed, "renewed.test") {
		t.Errorf("the console's certificate was not read again: %s", renewed)
	}

	gwtest.NewCert(t, dir, "site", "site2.test")
	os.WriteFile(adminCert.KeyFile, []byte("broken"), 0o600)
	err := d.reloadCertificates()
	if err == nil || !strings.HasPrefix(err.Error(), "admin.tls_certificate: ") {
		t.Errorf("a broken console key: error %v, want one naming admin.tls_certificate", err)
	}
	if got := site.Info()[0].Names[0]; got != "site.test" {
		t.Errorf("a broken console key let the listener's certificate change to %s", got)
	}
}
