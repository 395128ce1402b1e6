package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/tests/sdverify"
	"github.com/gatewayd/gateway/unitgen"
)

// generator is the gateway-generator binary, built by TestMain.
var generator string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gateway-generator-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	generator = filepath.Join(dir, "gateway-generator")
	if out, err := exec.Command("go", "build", "-o", generator, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building gateway-generator: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const app = `
[app]
directory = "/srv/app/current"
command = ["{dir}/bin/app", "--port", "{port}"]
`

// configs is a config directory as an admin may leave it: the default
// app, a template instance, a broken config (line 4), one gatewayd takes
// but systemd cannot listen on, a badly named one, and files that are not
// configs.
var configs = map[string]string{
	"gateway.toml":         "[gateway]\nlisten = [\"127.0.0.1:8080\", \"[::1]:8080\"]\n" + app,
	"notes.toml":           "[gateway]\nlisten = [\"127.0.0.1:8090\"]\n[readiness]\ntimeout = \"2m\"\n" + app,
	"broken.toml":          "[app]\ndirectory = \"/srv/broken/current\"\ncommand = [\"{dir}/bin/app\"]\ninstances = \"many\"\n",
	"hostname.toml":        "[gateway]\nlisten = [\"localhost:8091\"]\n" + app,
	"my app.toml":          app,
	"notes.toml.dpkg-old":  "not a config",
	".#notes.toml":         "an editor's lock file",
	"README":               "not a config",
	"subdir.toml/ignored":  "a directory is not a config",
	"gateway.toml.rpmsave": "not a config",
}

// wantFiles are the files generated from configs, by type: file or symlink.
var wantFiles = []string{
	"gateway.service.d/50-gateway-timeouts.conf",
	"gateway.socket.d/50-gateway-listen.conf",
	"gateway@notes.service.d/50-gateway-timeouts.conf",
	"gateway@notes.socket.d/50-gateway-listen.conf",
	"sockets.target.wants/gateway@notes.socket -> /usr/lib/systemd/system/gateway@.socket",
}

func writeConfigs(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runGenerator runs the binary as systemd would, with GATEWAY_CONFIG_DIR
// set to configDir, and returns its stderr and exit status.
func runGenerator(t *testing.T, configDir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(generator, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", configDirEnv + "=" + configDir}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if stdout.Len() > 0 {
		t.Errorf("the generator wrote to stdout: %q", stdout.String())
	}
	return stderr.String(), code
}

// tree lists the files under dir: "path" for a file, "path -> target" for
// a symlink.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			rel += " -> " + target
		}
		got = append(got, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

func TestGenerator(t *testing.T) {
	configDir := writeConfigs(t, configs)
	out := t.TempDir()
	stderr, code := runGenerator(t, configDir, out, t.TempDir(), t.TempDir())
	if code != 0 {
		t.Errorf("exit status %d, want 0 (a broken config must not fail the generator)", code)
	}

	if got := tree(t, out); !slices.Equal(got, wantFiles) {
		t.Errorf("generated\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(wantFiles, "\n  "))
	}

	// What is written is what unitgen renders.
	for name, instance := range map[string]string{"gateway.toml": "", "notes.toml": "notes"} {
		cfg, err := config.Load(filepath.Join(configDir, name))
		if err != nil {
			t.Fatal(err)
		}
		files, err := unitgen.Render(cfg, instance)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if f.Link != "" {
				continue // compared by tree
			}
			got, err := os.ReadFile(filepath.Join(out, f.Path))
			if err != nil {
				t.Errorf("%s: %v", f.Path, err)
			} else if string(got) != string(f.Content) {
				t.Errorf("%s: got\n%s\nwant\n%s", f.Path, got, f.Content)
			}
		}
	}

	// Every problem names its file (and line, where there is one), and
	// says that nothing was generated for it.
	for _, want := range []string{
		"gateway-generator: " + filepath.Join(configDir, "broken.toml") + ":4: app.instances: ",
		"gateway-generator: " + filepath.Join(configDir, "broken.toml") + ": nothing generated for gateway@broken.socket and gateway@broken.service",
		"gateway-generator: " + filepath.Join(configDir, "hostname.toml") + `: gateway.listen[0]: "localhost:8091": systemd's ListenStream= takes an IP address`,
		"gateway-generator: " + filepath.Join(configDir, "hostname.toml") + ": nothing generated for gateway@hostname.socket",
		"gateway-generator: " + filepath.Join(configDir, "my app.toml") + `: instance name "my app" is not a systemd instance name as it is`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr:\n%s\nwant it to hold %q", stderr, want)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(line, "gateway-generator: ") {
			t.Errorf("stderr line %q: want the prefix \"gateway-generator: \"", line)
		}
		if strings.Contains(line, "notes.toml") || strings.Contains(line, "gateway.toml") || strings.Contains(line, "README") ||
			strings.Contains(line, "subdir") {
			t.Errorf("stderr line %q: about a file that is fine or not a config", line)
		}
	}

	// systemd takes the result: the generated files next to the units of
	// units/, as systemd-analyze verify reads them.
	t.Run("systemd-analyze verify", func(t *testing.T) {
		root := sdverify.New(t, "../../units")
		root.AddGenerated(out)
		if err := root.Verify("gateway.socket", "gateway.service", "gateway@notes.socket", "gateway@notes.service", "sockets.target"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestGeneratorOneArgument(t *testing.T) {
	configDir := writeConfigs(t, map[string]string{"notes.toml": app})
	out := t.TempDir()
	if stderr, code := runGenerator(t, configDir, out); code != 0 || stderr != "" {
		t.Fatalf("exit status %d, stderr %q; want 0 and nothing", code, stderr)
	}
	want := []string{
		"gateway@notes.service.d/50-gateway-timeouts.conf",
		"gateway@notes.socket.d/50-gateway-listen.conf",
		"sockets.target.wants/gateway@notes.socket -> /usr/lib/systemd/system/gateway@.socket",
	}
	if got := tree(t, out); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestGeneratorNothingToDo(t *testing.T) {
	for name, configDir := range map[string]string{
		"no config dir": filepath.Join(t.TempDir(), "missing"),
		"empty":         t.TempDir(),
		"only broken":   writeConfigs(t, map[string]string{"gateway.toml": "[gateway]\nlisten = 5 5\n"}),
	} {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			stderr, code := runGenerator(t, configDir, out, out, out)
			if code != 0 {
				t.Errorf("exit status %d, want 0", code)
			}
			if got := tree(t, out); len(got) != 0 {
				t.Errorf("generated %q, want nothing", got)
			}
			if broken := name == "only broken"; broken != strings.Contains(stderr, "gateway.toml:2: syntax error") {
				t.Errorf("stderr %q: want a syntax error on line 2 only for the broken config", stderr)
			}
		})
	}
}

func TestGeneratorUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"a", "b"}} {
		stderr, code := runGenerator(t, t.TempDir(), args...)
		if code != 2 || !strings.Contains(stderr, "usage: gateway-generator normal-dir [early-dir late-dir]") {
			t.Errorf("args %q: got exit status %d and %q, want 2 and the usage", args, code, stderr)
		}
	}
}

// TestInstallAllOrNothing: when one file of an instance cannot be put in
// place, none of them stays, and no staging directory is left behind.
func TestInstallAllOrNothing(t *testing.T) {
	out := t.TempDir()
	// A non-empty directory where the symlink must go: rename(2) fails.
	blocker := filepath.Join(out, "sockets.target.wants/gateway@notes.socket")
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	files, err := unitgen.Render(cfg, "notes")
	if err != nil {
		t.Fatal(err)
	}
	if err := install(out, files); err == nil {
		t.Fatal("install succeeded, want an error")
	}
	want := []string{"sockets.target.wants/gateway@notes.socket/x"}
	var got []string
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if p != out && (!d.IsDir() || isEmptyDir(p)) {
			rel, _ := filepath.Rel(out, p)
			got = append(got, rel)
		}
		return err
	})
	if !slices.Equal(got, want) {
		t.Errorf("left in the output: %q, want only the blocker %q", got, want)
	}

	// And once the way is clear, everything is installed.
	os.RemoveAll(filepath.Join(out, "sockets.target.wants"))
	if err := install(out, files); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, out); len(got) != len(files) {
		t.Errorf("installed %q, want %d files", got, len(files))
	}
}

func isEmptyDir(p string) bool {
	entries, err := os.ReadDir(p)
	return err == nil && len(entries) == 0
}

func TestLoggerKmsg(t *testing.T) {
	var stderr, kmsg bytes.Buffer
	l := &logger{stderr: &stderr, kmsg: &kmsg, pid: 42}
	l.errorf("/etc/gateway/a.toml:1: x: bad\n/etc/gateway/a.toml:2: y: bad")
	wantStderr := "gateway-generator: /etc/gateway/a.toml:1: x: bad\ngateway-generator: /etc/gateway/a.toml:2: y: bad\n"
	wantKmsg := "<27>gateway-generator[42]: /etc/gateway/a.toml:1: x: bad\n<27>gateway-generator[42]: /etc/gateway/a.toml:2: y: bad\n"
	if stderr.String() != wantStderr {
		t.Errorf("stderr: got %q, want %q", stderr.String(), wantStderr)
	}
	if kmsg.String() != wantKmsg {
		t.Errorf("kmsg: got %q, want %q", kmsg.String(), wantKmsg)
	}
}
