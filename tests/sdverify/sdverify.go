// Package sdverify runs `systemd-analyze verify` on the gateway's units,
// for the tests of unitgen and cmd/gateway-generator (only tests import
// it). It works offline, without systemd running as PID 1: in a temporary
// root that holds this machine's vendor
// units (the targets, slices and services every unit depends on), the
// hand-written units of units/, stand-ins for /usr/bin/gatewayd and
// /usr/bin/gatewayctl, and what a test adds under /etc/systemd/system.
//
// The invocation is
//
//	systemd-analyze verify --root=ROOT --man=no --recursive-errors=yes UNIT...
//
// --root makes systemd-analyze read units, and look for the commands of
// Exec*= lines, under ROOT only; --man=no skips the Documentation= man
// pages; --recursive-errors=yes makes it fail on the warnings of the units
// and their dependencies, such as an unknown key or a value it cannot
// parse, which it otherwise prints and ignores. As it may still print a
// warning and exit 0, any output counts as a failure too.
//
// Generated files go to ROOT/etc/systemd/system, not /run/systemd/generator
// where the generator puts them on a real system: systemd-analyze (252)
// reads generator output only from temporary directories of its own. For
// the drop-ins and .wants/ symlinks the generator writes, only the
// precedence differs, and nothing else in ROOT has files of their names.
package sdverify

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RequireEnv, set to 1, turns a missing systemd-analyze into a test
// failure instead of a skip. CI sets it (tests/run.sh).
const RequireEnv = "GATEWAY_REQUIRE_SYSTEMD"

// vendorDirs are where this machine's systemd units are (the same
// directory on a merged-/usr system).
var vendorDirs = []string{"/usr/lib/systemd/system", "/lib/systemd/system"}

// A Root is a directory laid out like a system's root for
// `systemd-analyze verify --root`.
type Root struct {
	Dir string
	t   testing.TB
}

// New returns a Root with this machine's vendor units, then the units of
// unitsDir (all files of it, as the package installs them), in
// /usr/lib/systemd/system, and copies of /bin/true as /usr/bin/gatewayd and
// /usr/bin/gatewayctl. Units of this machine whose names start with
// "gateway" are left out, so that an installed package cannot stand in for
// the units under test. It skips the test if systemd-analyze is missing,
// unless GATEWAY_REQUIRE_SYSTEMD=1.
func New(t testing.TB, unitsDir string) *Root {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("systemd-analyze is needed (apt-get install systemd): %v", err)
		}
		t.Skipf("systemd-analyze not found (apt-get install systemd; %s=1 makes this a failure): %v", RequireEnv, err)
	}
	r := &Root{Dir: t.TempDir(), t: t}
	seen := map[string]bool{}
	for _, d := range vendorDirs {
		real, err := filepath.EvalSymlinks(d)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		r.copyTree(d, real)
	}
	if target, err := os.Readlink("/lib"); err == nil {
		// Merged /usr: absolute symlinks to /lib/systemd/... resolve in ROOT.
		os.Symlink(target, filepath.Join(r.Dir, "lib"))
	}
	units := filepath.Join(r.Dir, "usr/lib/systemd/system")
	matches, _ := filepath.Glob(filepath.Join(units, "gateway*"))
	for _, m := range matches {
		if err := os.RemoveAll(m); err != nil {
			t.Fatal(err)
		}
	}
	r.copyTree(unitsDir, "/usr/lib/systemd/system")
	for _, name := range []string{"gatewayd", "gatewayctl"} {
		r.copyFile("/bin/true", filepath.Join(r.Dir, "usr/bin", name), 0o755)
	}
	return r
}

// copyTree copies the contents of the directory src into ROOT/dst, with
// symlinks as they are.
func (r *Root) copyTree(src, dst string) {
	r.t.Helper()
	to := filepath.Join(r.Dir, dst)
	if err := os.MkdirAll(to, 0o755); err != nil {
		r.t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", src+"/.", to).CombinedOutput(); err != nil {
		r.t.Fatalf("copying %s into the verify root: %v\n%s", src, err, out)
	}
}

func (r *Root) copyFile(src, dst string, mode os.FileMode) {
	r.t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		r.t.Fatal(err)
	}
	r.WriteFile(dst, data, mode)
}

// WriteFile writes a file at the absolute path dst, which must be inside
// ROOT, creating its directory.
func (r *Root) WriteFile(dst string, data []byte, mode os.FileMode) {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		r.t.Fatal(err)
	}
}

// Generated is where generated files go: ROOT/etc/systemd/system.
func (r *Root) Generated() string { return filepath.Join(r.Dir, "etc/systemd/system") }

// AddGenerated copies a generator's output directory into [Root.Generated].
func (r *Root) AddGenerated(dir string) {
	r.t.Helper()
	r.copyTree(dir, "/etc/systemd/system")
}

// Verify runs systemd-analyze verify on units in ROOT. It returns an error
// holding systemd-analyze's output if it fails or prints anything.
func (r *Root) Verify(units ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append([]string{"verify", "--root=" + r.Dir, "--man=no", "--recursive-errors=yes"}, units...)
	cmd := exec.CommandContext(ctx, "systemd-analyze", args...)
	cmd.Dir = r.Dir
	cmd.Env = environ()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := strings.TrimSpace(out.String())
	switch {
	case err != nil:
		return fmt.Errorf("systemd-analyze %s: %v\n%s", strings.Join(args, " "), err, text)
	case text != "":
		return fmt.Errorf("systemd-analyze %s: exit status 0, but it warns:\n%s", strings.Join(args, " "), text)
	}
	return nil
}

// environ is the test's environment without what would make
// systemd-analyze read other units or write colours.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SYSTEMD_") {
			env = append(env, kv)
		}
	}
	return append(env, "SYSTEMD_COLORS=0")
}
