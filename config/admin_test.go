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
