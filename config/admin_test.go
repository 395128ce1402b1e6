package config

import (
	"strings"
	"testing"
)

func TestAdminAndSwitchPath(t *testing.T) {
	const base = "[app]\ndirectory = \"/srv/a\"\ncommand = [\"{dir}/a\"]\n"
	hash := "$2a$10$" + strings.Repeat("x", 53)
	cases := []struct {
		name, toml, want string // want: "" valid, else a substring of the error
	}{
		{"off by default", "", ""},
		{"loopback needs no password", "[admin]\nlisten = \"127.0.0.1:9090\"\n", ""},
		{"ipv6 loopback", "[admin]\nlisten = \"[::1]:9090\"\n", ""},
		{"unix socket", "[admin]\nlisten = \"unix:/run/gateway/admin.sock\"\n", ""},
		{"relative unix socket", "[admin]\nlisten = \"unix:admin.sock\"\n", "admin.listen"},
		{"public needs a password", "[admin]\nlisten = \"0.0.0.0:9090\"\n", "admin.password_hash: required"},
		{"public with a hash", "[admin]\nlisten = \"0.0.0.0:9090\"\npassword_hash = \"" + hash + "\"\n", ""},
		{"not a bcrypt hash", "[admin]\nlisten = \"127.0.0.1:9090\"\npassword_hash = \"secret\"\n", "not a bcrypt hash"},
		{"bad address", "[admin]\nlisten = \"9090\"\n", `admin.listen: "9090" is not`},
		{"tls", "[admin]\nlisten = \"0.0.0.0:9443\"\npassword_hash = \"" + hash + "\"\ntls_certificate = \"/etc/gateway/admin.crt\"\ntls_key = \"/etc/gateway/admin.key\"\n", ""},
		{"certificate without key", "[admin]\ntls_certificate = \"/etc/gateway/admin.crt\"\n", "t.toml:5: admin.tls_key: required with admin.tls_certificate"},
		{"key without certificate", "[admin]\ntls_key = \"/etc/gateway/admin.key\"\n", "t.toml:5: admin.tls_certificate: required with admin.tls_key"},
		{"relative certificate", "[admin]\ntls_certificate = \"admin.crt\"\ntls_key = \"/k\"\n", `admin.tls_certificate: "admin.crt" is not an absolute path`},
		{"relative key", "[admin]\ntls_certificate = \"/c\"\ntls_key = \"admin.key\"\n", `admin.tls_key: "admin.key" is not an absolute path`},
		{"plain http deliberately", "[admin]\nlisten = \"0.0.0.0:9090\"\npassword_hash = \"" + hash + "\"\nplain_http_ok = true\n", ""},
		{"plain http ok and tls", "[admin]\ntls_certificate = \"/c\"\ntls_key = \"/k\"\nplain_http_ok = true\n", "t.toml:7: admin.plain_http_ok: true, but admin.tls_certificate is set"},
		{"plain_http_ok not a boolean", "[admin]\nplain_http_ok = \"yes\"\n", `t.toml:5: admin.plain_http_ok: got a string, want true or false`},
		{"switch path", "[sessions]\nswitch_path = \"/.gateway/switch\"\n", ""},
		{"switch path not a path", "[sessions]\nswitch_path = \"switch\"\n", "sessions.switch_path"},
		{"switch path is a logout path", "[sessions]\nlogout_paths = [\"/x\"]\nswitch_path = \"/x\"\n", "also a logout path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(base+c.toml), "t.toml")
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}
