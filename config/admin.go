package config

import (
	"net"
	"strings"
)

// Admin is the [admin] table: the admin console and Prometheus metrics,
// served on a listener of their own.
type Admin struct {
	// Listen (listen) is where the console is served: "host:port" or
	// "unix:/absolute/path". "" (the default) turns it off, unless systemd
	// passes a socket named "admin" (FileDescriptorName=admin). An address
	// that is neither loopback nor a unix socket needs a password.
	Listen string `toml:"listen"`

	// User (user) is the login name when a password is set. Default "admin".
	User string `toml:"user"`

	// PasswordHash (password_hash) is a bcrypt hash of the console's
	// password (e.g. from `htpasswd -nbB admin SECRET`, the part after the
	// colon). Required when Listen is not loopback or a unix socket; with
	// it set, the console asks for a login on its form and keeps a session
	// (/metrics takes basic auth too). Default "".
	PasswordHash string `toml:"password_hash"`

	// TLSCertificate and TLSKey (tls_certificate, tls_key) are PEM files
	// of the console's own certificate (its chain) and private key; with
	// them the console speaks HTTPS only, TLS 1.2 at least. Both or
	// neither. Default "": plain HTTP.
	TLSCertificate string `toml:"tls_certificate"`
	TLSKey         string `toml:"tls_key"`

	// PlainHTTPOK (plain_http_ok) says that plain HTTP on an address other
	// machines can reach is deliberate, as behind a proxy that terminates
	// TLS: the gateway then does not warn at start. Default false.
	PlainHTTPOK bool `toml:"plain_http_ok"`
}

func (a *Admin) check(ck *checker) {
	if a.Listen != "" {
		if p, ok := strings.CutPrefix(a.Listen, "unix:"); ok {
			ck.absPath("admin.listen", p, "unix:/run/gateway/admin.sock")
		} else if _, _, err := net.SplitHostPort(a.Listen); err != nil {
			ck.add("admin.listen", `%q is not "host:port" or "unix:/path"`, a.Listen)
		} else if !a.Local() && a.PasswordHash == "" {
			ck.add("admin.password_hash", "required: admin.listen %q is reachable from other machines; set a bcrypt hash, or listen on loopback or a unix socket", a.Listen)
		}
	}
	if a.PasswordHash != "" && !bcryptHash(a.PasswordHash) {
		ck.add("admin.password_hash", "not a bcrypt hash (want $2a$, $2b$ or $2y$ followed by the cost and 53 characters)")
	}
	a.checkTLS(ck)
	if a.User == "" {
		ck.add("admin.user", `empty, want a login name (default "admin")`)
	}
}

func (a *Admin) checkTLS(ck *checker) {
	switch {
	case a.TLSCertificate != "" && a.TLSKey == "":
		ck.addRel("admin.tls_key", "admin.tls_certificate", "required with admin.tls_certificate: the PEM file of its private key")
	case a.TLSKey != "" && a.TLSCertificate == "":
		ck.addRel("admin.tls_certificate", "admin.tls_key", "required with admin.tls_key: the PEM file of the certificate")
	}
	if a.TLSCertificate != "" && !isAbs(a.TLSCertificate) {
		ck.add("admin.tls_certificate", "%q is not an absolute path", a.TLSCertificate)
	}
	if a.TLSKey != "" && !isAbs(a.TLSKey) {
		ck.add("admin.tls_key", "%q is not an absolute path", a.TLSKey)
	}
	if a.PlainHTTPOK && a.TLS() {
		ck.addRel("admin.plain_http_ok", "admin.tls_certificate", "true, but admin.tls_certificate is set: the console speaks only HTTPS; remove one of them")
	}
}

// TLS reports whether the console has a certificate of its own.
func (a Admin) TLS() bool { return a.TLSCertificate != "" }

// Local reports whether Listen can be reached only from this machine: a
// unix socket or a loopback address.
func (a Admin) Local() bool {
	if strings.HasPrefix(a.Listen, "unix:") {
		return true
	}
	host, _, err := net.SplitHostPort(a.Listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func bcryptHash(h string) bool {
	return len(h) == 60 && (strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")) && h[6] == '$'
}
