// Package tests holds the project-wide checks: import rules here, the
// end-to-end tests in e2e/.
package tests

import (
	"os/exec"
	"strings"
	"testing"
)

// The layering of docs/design.md ("Parts and import rules"), checked like tailscale's deps_test: the proxy
// knows nothing of systemd or D-Bus, the supervisor only through its
// systemd runner, and nothing imports cmd.
func TestImportRules(t *testing.T) {
	const mod = "github.com/gatewayd/gateway/"
	rules := []struct {
		pkg       string
		forbidden []string
		stdOnly   bool
	}{
		{pkg: "./proxy/...", stdOnly: true},
		{pkg: "./examples/...", stdOnly: true},
		{pkg: "./supervisor", forbidden: []string{"github.com/coreos/go-systemd", "github.com/godbus/dbus", mod + "proxy", mod + "dbusapi", mod + "cmd"}},
		{pkg: "./supervisor/config", forbidden: []string{"github.com/coreos/go-systemd", "github.com/godbus/dbus", mod + "proxy"}},
		{pkg: "./unitgen", forbidden: []string{"github.com/coreos/go-systemd", "github.com/godbus/dbus", mod + "proxy", mod + "supervisor/systemd"}},
		{pkg: "./supervisor/process", forbidden: []string{"github.com/coreos/go-systemd", "github.com/godbus/dbus", mod + "proxy"}},
		// The admin console is a front of dbusapi.Core, like the D-Bus API:
		// the standard library, dbusapi and bcrypt.
		{pkg: "./dbusapi/admin", forbidden: []string{"github.com/coreos/go-systemd", mod + "supervisor", mod + "proxy", mod + "cmd"}},
	}
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			for _, dep := range deps(t, r.pkg) {
				if r.stdOnly && !isStd(dep) && !strings.HasPrefix(dep, mod+strings.Trim(r.pkg, "./.")) {
					t.Errorf("%s depends on %s: only the standard library is allowed", r.pkg, dep)
				}
				for _, f := range r.forbidden {
					if strings.HasPrefix(dep, f) {
						t.Errorf("%s depends on %s, which it must not", r.pkg, dep)
					}
				}
			}
		})
	}
	t.Run("nothing imports cmd", func(t *testing.T) {
		out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}: {{join .Imports " "}}`, "../...").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			pkg, imports, _ := strings.Cut(line, ": ")
			if strings.Contains(" "+imports+" ", " "+mod+"cmd/") {
				t.Errorf("%s imports a cmd package", pkg)
			}
		}
	})
}

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func isStd(path string) bool { return !strings.Contains(strings.Split(path, "/")[0], ".") }
