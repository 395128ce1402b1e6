package daemon

import (
	"fmt"
	"maps"
	"slices"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/internal/certs"
	"github.com/gatewayd/gateway/proxy"
)

// adminCerts is the admin console's key in Daemon.certs.
const adminCerts = "admin"

// certsKey names a certificate set in errors and logs by its config key.
func certsKey(name string) string {
	if name == adminCerts {
		return "admin.tls_certificate"
	}
	return "listeners." + name
}

// reloadCertificates reads every TLS listener's certificate files again,
// and the console's, all before any is put in use: one broken file fails
// the reload with the error naming it, and every listener keeps what it
// had. Open connections are not touched.
func (d *Daemon) reloadCertificates() error {
	staged := make([]certs.Staged, 0, len(d.certs))
	for _, name := range slices.Sorted(maps.Keys(d.certs)) {
		st, err := d.certs[name].Stage()
		if err != nil {
			return fmt.Errorf("%s: %w", certsKey(name), err)
		}
		staged = append(staged, st)
	}
	for _, st := range staged {
		st.Commit()
	}
	d.logCertificates()
	return nil
}

// logCertificates says which certificates the TLS listeners use, and
// until when.
func (d *Daemon) logCertificates() {
	for _, name := range slices.Sorted(maps.Keys(d.certs)) {
		for _, c := range d.certs[name].Info() {
			d.log.Info("TLS certificate loaded", "for", certsKey(name), "cert", c.Cert, "names", c.Names, "not_after", c.NotAfter)
		}
	}
}

// listenerStatus describes the proxy's listeners for the fronts.
func (d *Daemon) listenerStatus() []fleet.Listener {
	out := make([]fleet.Listener, 0, len(d.listeners))
	for _, l := range d.listeners {
		fl := fleet.Listener{Address: l.Addr().String(), Certificates: []fleet.Certificate{}}
		if pl, ok := l.(*proxy.Listener); ok {
			fl.Name, fl.ProxyProtocol, fl.RedirectHTTPS = pl.Name, pl.ProxyProtocol, pl.RedirectHTTPS
			fl.TLS = pl.TLS != nil
			fl.HTTP2 = fl.TLS && slices.Contains(pl.TLS.NextProtos, "h2")
		}
		if set := d.certs[fl.Name]; fl.TLS && set != nil {
			for _, c := range set.Info() {
				fl.Certificates = append(fl.Certificates, fleet.Certificate{File: c.Cert, Names: c.Names, NotAfter: c.NotAfter})
			}
		}
		out = append(out, fl)
	}
	return out
}
