package unitgen

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatewayd/gateway/tests/sdverify"
)

// unitsDir holds the hand-written units.
const unitsDir = "../units"

// install writes files into root's generated-units directory.
func install(t *testing.T, root *sdverify.Root, files Files) {
	t.Helper()
	for _, f := range files {
		dst := filepath.Join(root.Generated(), filepath.FromSlash(f.Path))
		if f.Link == "" {
			root.WriteFile(dst, f.Content, 0o644)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(f.Link, dst); err != nil {
			t.Fatal(err)
		}
	}
}

// TestVerifyRendered runs systemd-analyze verify on the units of every
// golden case, with the rendered drop-ins in place. For a template
// instance it verifies sockets.target too, which loads the .wants/ symlink
// (systemd warns if its name and target do not match).
func TestVerifyRendered(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			root := sdverify.New(t, unitsDir)
			files := renderCase(t, c.name, c.instance)
			install(t, root, files)
			units := []string{Unit(c.instance, "socket"), Unit(c.instance, "service")}
			for _, f := range files {
				if !strings.Contains(f.Path, "/") && strings.HasSuffix(f.Path, ".socket") {
					units = append(units, f.Path) // a [listeners] table's socket
				}
			}
			if c.instance != "" || len(units) > 2 {
				units = append(units, "sockets.target")
			}
			if err := root.Verify(units...); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("together", func(t *testing.T) {
		root := sdverify.New(t, unitsDir)
		install(t, root, renderCase(t, "listen-default", ""))
		install(t, root, renderCase(t, "template-notes", "notes"))
		if err := root.Verify("gateway.socket", "gateway.service", "gateway@notes.socket", "gateway@notes.service"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestVerifyCatchesBrokenDropIns proves that the verification reads the
// generated drop-ins and fails on a bad one (TestVerifyRendered passes the
// same drop-ins unbroken): a misspelt key, a value systemd cannot parse,
// an address it does not take, an unknown specifier, no address at all.
func TestVerifyCatchesBrokenDropIns(t *testing.T) {
	const socket, service = 0, 1 // in Files
	tests := []struct {
		name         string
		file         int
		old, new     string
		wantInOutput string
	}{
		{"misspelt key", socket, "FileDescriptorName=http", "FileDescriptorNam=http", "Unknown key"},
		{"bad time span", service, "TimeoutStartSec=33s", "TimeoutStartSec=33 parsecs", "TimeoutStartSec"},
		{"host name", socket, "ListenStream=127.0.0.1:8090", "ListenStream=localhost:8090", "localhost:8090"},
		{"unescaped specifier", socket, "ListenStream=/run/gateway-notes.sock", "ListenStream=/run/gateway%z.sock", "%z"},
		{"no address", socket, "ListenStream=127.0.0.1:8090\nListenStream=/run/gateway-notes.sock\n", "", "no Listen setting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := renderCase(t, "template-notes", "notes")
			text := string(files[tt.file].Content)
			if !strings.Contains(text, tt.old) {
				t.Fatalf("the rendered drop-in has no %q:\n%s", tt.old, text)
			}
			files[tt.file].Content = []byte(strings.Replace(text, tt.old, tt.new, 1))
			root := sdverify.New(t, unitsDir)
			install(t, root, files)
			err := root.Verify("gateway@notes.socket", "gateway@notes.service")
			if err == nil {
				t.Fatalf("verify passed, want it to fail on\n%s", files[tt.file].Content)
			}
			if !strings.Contains(err.Error(), tt.wantInOutput) {
				t.Errorf("got %v, want the output to mention %q", err, tt.wantInOutput)
			}
		})
	}
}

// TestVerifyCatchesBadSymlink: the symlink that starts a template
// instance's socket must name the template; verifying sockets.target reads
// it and warns otherwise.
func TestVerifyCatchesBadSymlink(t *testing.T) {
	files := renderCase(t, "template-notes", "notes")
	files[2].Link = "/usr/lib/systemd/system/gateway.socket"
	root := sdverify.New(t, unitsDir)
	install(t, root, files)
	err := root.Verify("sockets.target")
	if err == nil || !strings.Contains(err.Error(), "has different name") {
		t.Fatalf("got %v, want verify to fail on the symlink's target", err)
	}
}

// TestVerifyHandWrittenUnits verifies the units of units/ as the package
// installs them; the template instances get the smallest drop-in that
// gives gateway@.socket an address.
func TestVerifyHandWrittenUnits(t *testing.T) {
	root := sdverify.New(t, unitsDir)
	root.WriteFile(filepath.Join(root.Generated(), "gateway@test.socket.d/50-listen.conf"),
		[]byte("[Socket]\nListenStream=127.0.0.1:9999\n"), 0o644)
	units := []string{"gateway.socket", "gateway.service", "gateway.slice", "gateway@test.socket", "gateway@test.service"}
	if err := root.Verify(units...); err != nil {
		t.Fatal(err)
	}
	t.Run("every unit file is verified", func(t *testing.T) {
		entries, err := os.ReadDir(unitsDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if !strings.HasPrefix(name, "gateway") {
				continue // the D-Bus policy
			}
			unit := strings.Replace(name, "@.", "@test.", 1)
			if !slices.Contains(units, unit) {
				t.Errorf("%s/%s is not verified: add %s to the list", unitsDir, name, unit)
			}
		}
	})
}

// TestVerifyCatchesTypos proves TestVerifyHandWrittenUnits cannot pass
// with a typo in a unit file: each file of units/ in turn gets a misspelt
// key in its first section, and the verification must fail naming it.
func TestVerifyCatchesTypos(t *testing.T) {
	entries, err := os.ReadDir(unitsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "gateway") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			root := sdverify.New(t, unitsDir)
			root.WriteFile(filepath.Join(root.Generated(), "gateway@test.socket.d/50-listen.conf"),
				[]byte("[Socket]\nListenStream=127.0.0.1:9999\n"), 0o644)
			path := filepath.Join(root.Dir, "usr/lib/systemd/system", name)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			typo := strings.Replace(string(data), "\nDescription=", "\nDescripton=", 1)
			if typo == string(data) {
				t.Fatalf("%s has no Description= to misspell", name)
			}
			root.WriteFile(path, []byte(typo), 0o644)
			err = root.Verify(strings.Replace(name, "@.", "@test.", 1))
			if err == nil || !strings.Contains(err.Error(), "Descripton") {
				t.Fatalf("got %v, want verify to fail on the misspelt key", err)
			}
		})
	}
}
