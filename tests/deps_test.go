// Package tests holds the project-wide checks: import rules here, the
// end-to-end tests in e2e/.
package tests

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The layering of docs/design.md ("Layers"), checked like tailscale's
// deps_test: fleet is a leaf; the proxy knows nothing but fleet (and the
// PROXY protocol reader, itself standard library only); the
// supervisor knows systemd only through its systemd runner; the fronts
// (dbusapi, console) know the gateway only through fleet.Core; only cmd
// imports daemon, and nothing imports cmd.
func TestImportRules(t *testing.T) {
	const mod = "github.com/gatewayd/gateway/"
	rules := []struct {
		pkg       string
		forbidden []string
		only      []string // with the standard library and the package's own subpackages; nil: any
	}{
		{pkg: "./fleet", only: []string{}},
		{pkg: "./proxy/...", only: []string{mod + "fleet", mod + "internal/proxyproto"}},
		{pkg: "./internal/proxyproto", only: []string{}},
		{pkg: "./examples/...", only: []string{}},
		{pkg: "./supervisor", forbidden: []string{"github.com/coreos/go-systemd", "github.com/godbus/dbus", mod + "proxy", mod + "dbusapi", mod + "console", mod + "daemon", mod + "cmd"}},
		{pkg: "./config", forbidden: []string{"github.com/coreos/go-systemd", "github.com/godbus/dbus", mod + "proxy", mod + "supervisor", mod + "daemon"}},
		{pkg: "./unitgen", forbidden: []string{"github.com/coreos/go-systemd", "github.com/godbus/dbus", mod + "proxy", mod + "supervisor", mod + "daemon"}},
		{pkg: "./supervisor/process", forbidden: []string{"github.com/coreos/go-systemd", "github.com/godbus/dbus", mod + "proxy"}},
		// The fronts: the D-Bus API and the admin console, on fleet.Core.
		{pkg: "./dbusapi", forbidden: []string{mod + "supervisor", mod + "proxy", mod + "console", mod + "daemon", mod + "cmd"}},
		{pkg: "./console", forbidden: []string{"github.com/coreos/go-systemd", "github.com/godbus/dbus", mod + "dbusapi", mod + "supervisor", mod + "proxy", mod + "daemon", mod + "cmd"}},
		{pkg: "./internal/journald", only: []string{"github.com/coreos/go-systemd/v22/journal"}},
	}
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			own := mod + strings.TrimSuffix(strings.TrimPrefix(r.pkg, "./"), "/...")
			for _, dep := range deps(t, r.pkg) {
				if r.only != nil && !isStd(dep) && !strings.HasPrefix(dep, own) && !slices.ContainsFunc(r.only, func(o string) bool { return strings.HasPrefix(dep, o) }) {
					t.Errorf("%s depends on %s: only the standard library and %q are allowed", r.pkg, dep, r.only)
				}
				for _, f := range r.forbidden {
					if strings.HasPrefix(dep, f) {
						t.Errorf("%s depends on %s, which it must not", r.pkg, dep)
					}
				}
			}
		})
	}
	t.Run("only cmd imports daemon, nothing imports cmd", func(t *testing.T) {
		out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}: {{join .Imports " "}}`, "../...").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			pkg, imports, _ := strings.Cut(line, ": ")
			if strings.Contains(" "+imports+" ", " "+mod+"cmd/") {
				t.Errorf("%s imports a cmd package", pkg)
			}
			if strings.Contains(" "+imports+" ", " "+mod+"daemon ") && !strings.HasPrefix(pkg, mod+"cmd/") {
				t.Errorf("%s imports daemon", pkg)
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
