package unitgen

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/config"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from what Render returns")

// goldenCases are the configs of testdata/NAME.toml and the instance each
// is rendered for; testdata/golden/NAME holds the files Render returns
// (a symlink as a file named after it plus ".symlink", holding its target).
var goldenCases = []struct{ name, instance string }{
	{"listen-default", ""},
	{"listen-many", ""},
	{"template-notes", "notes"},
	{"long-timeouts", "reports"},
	{"listeners", ""},
	{"listeners-notes", "notes"},
}

// symlinkSuffix marks a symlink in testdata/golden.
const symlinkSuffix = ".symlink"

func TestRenderGolden(t *testing.T) {
	t.Run("every testdata/*.toml is a case", func(t *testing.T) {
		tomls, _ := filepath.Glob("testdata/*.toml")
		for _, f := range tomls {
			name := strings.TrimSuffix(filepath.Base(f), ".toml")
			if !slices.ContainsFunc(goldenCases, func(c struct{ name, instance string }) bool { return c.name == name }) {
				t.Errorf("%s has no entry in goldenCases", f)
			}
		}
	})
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			files := renderCase(t, c.name, c.instance)
			dir := filepath.Join("testdata", "golden", c.name)
			if *update {
				writeGolden(t, dir, files)
				return
			}
			got := goldenForm(files)
			want := readGolden(t, dir)
			for _, p := range sortedKeys(got) {
				if w, ok := want[p]; !ok {
					t.Errorf("%s: rendered, but not in %s (go test ./unitgen -update)", p, dir)
				} else if got[p] != w {
					t.Errorf("%s: got\n%s\nwant (%s)\n%s", p, got[p], filepath.Join(dir, p), w)
				}
			}
			for _, p := range sortedKeys(want) {
				if _, ok := got[p]; !ok {
					t.Errorf("%s: in %s, but not rendered", p, dir)
				}
			}
		})
	}
}

// renderCase renders testdata/NAME.toml as the config of instance, read
// from where that instance's config is on a real system.
func renderCase(t *testing.T, name, instance string) Files {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data, ConfigPath(instance))
	if err != nil {
		t.Fatalf("testdata/%s.toml: %v", name, err)
	}
	files, err := Render(cfg, instance)
	if err != nil {
		t.Fatalf("Render(testdata/%s.toml, %q): %v", name, instance, err)
	}
	return files
}

// goldenForm returns files as testdata/golden holds them: path → content.
func goldenForm(files Files) map[string]string {
	m := map[string]string{}
	for _, f := range files {
		if f.Link != "" {
			m[f.Path+symlinkSuffix] = f.Link + "\n"
		} else {
			m[f.Path] = string(f.Content)
		}
	}
	return m
}

func readGolden(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		m[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatalf("reading the golden files (go test ./unitgen -update writes them): %v", err)
	}
	return m
}

func writeGolden(t *testing.T, dir string, files Files) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for p, content := range goldenForm(files) {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestRenderOrderAndNames(t *testing.T) {
	files := renderCase(t, "template-notes", "notes")
	var got []string
	for _, f := range files {
		got = append(got, f.Path)
	}
	want := []string{
		"gateway@notes.socket.d/50-gateway-listen.conf",
		"gateway@notes.service.d/50-gateway-timeouts.conf",
		"sockets.target.wants/gateway@notes.socket",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if link := files[2].Link; link != "/usr/lib/systemd/system/gateway@.socket" || files[2].Content != nil {
		t.Errorf("symlink: got target %q and content %q, want /usr/lib/systemd/system/gateway@.socket and none", link, files[2].Content)
	}
	if n := len(renderCase(t, "listen-default", "")); n != 2 {
		t.Errorf("default instance: got %d files, want 2 (no symlink: the admin enables gateway.socket)", n)
	}
}

// TestRenderSourceIsFile checks that the header names the file the config
// was read from, and falls back to the instance's path.
func TestRenderSourceIsFile(t *testing.T) {
	cfg := config.Default()
	cfg.File = "/tmp/elsewhere/notes.toml"
	files, err := Render(cfg, "notes")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(files[0].Content), "from /tmp/elsewhere/notes.toml:") {
		t.Errorf("got\n%s\nwant the header to name /tmp/elsewhere/notes.toml", files[0].Content)
	}
	cfg.File = ""
	files, err = Render(cfg, "notes")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(files[0].Content), "from /etc/gateway/notes.toml:") {
		t.Errorf("got\n%s\nwant the header to name /etc/gateway/notes.toml", files[0].Content)
	}
}

func TestCheckInstance(t *testing.T) {
	for _, name := range []string{"notes", "my-app", "my_app", "a.b", "a:b", "App2", "1", strings.Repeat("a", 239)} {
		if err := CheckInstance(name); err != nil {
			t.Errorf("CheckInstance(%q): %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", "my app", "a/b", "x@y", "café", ".hidden", `back\x2dslash`, "tab\t", strings.Repeat("a", 240)} {
		if err := CheckInstance(name); !errors.Is(err, ErrInstance) {
			t.Errorf("CheckInstance(%q): got %v, want ErrInstance", name, err)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	long := "unix:/run/" + strings.Repeat("s", 103) // 108 bytes of path
	tests := []struct {
		name     string
		instance string
		listen   []string
		want     []string // in the error's text
	}{
		{"instance with a space", "my app", nil,
			[]string{`/etc/gateway/my app.toml: instance name "my app" is not a systemd instance name as it is`, "rename the file"}},
		{"instance with @", "a@b", nil, []string{"/etc/gateway/a@b.toml: ", `"a@b"`}},
		{"instance escaped", `my\x2dapp`, nil, []string{`/etc/gateway/my\x2dapp.toml: `}},
		{"host name", "", []string{"127.0.0.1:8080", "localhost:8080"},
			[]string{`/etc/gateway/gateway.toml: gateway.listen[1]: "localhost:8080": systemd's ListenStream= takes an IP address, not a host name`}},
		{"socket path too long", "notes", []string{long},
			[]string{"/etc/gateway/notes.toml: gateway.listen[0]: ", "2 to 107 bytes"}},
		{"socket in the RuntimeDirectory", "", []string{"unix:/run/gateway/http.sock"},
			[]string{"gateway.listen[0]: ", "/run/gateway, the service's RuntimeDirectory="}},
		{"socket in the instance's RuntimeDirectory", "notes", []string{"unix:/run/gateway-notes/http.sock"},
			[]string{"gateway.listen[0]: ", "/run/gateway-notes, the service's RuntimeDirectory="}},
		{"socket path ending in a backslash", "", []string{`unix:/run/x\`}, []string{"gateway.listen[0]: ", "ends with"}},
		{"listeners", "", []string{"127.0.0.1:8080"}, []string{"listeners.https: no address", `listeners.lb.address: "localhost:9000"`}},
		{"every problem", "", []string{"localhost:1", "unix:/run/gateway/x", "example.com:2"},
			[]string{"gateway.listen[0]", "gateway.listen[1]", "gateway.listen[2]"}},
		{"no plain listener", "", []string{}, []string{"gateway.listen: empty: under systemd gateway.socket needs an address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.File = ConfigPath(tt.instance)
			if tt.listen != nil {
				cfg.Gateway.Listen = tt.listen
			}
			cfg.Listeners = map[string]config.Listener{"lb": {Address: "localhost:9000"}, "https": {}}
			files, err := Render(cfg, tt.instance)
			if err == nil {
				t.Fatalf("got no error and %d files, want an error", len(files))
			}
			if files != nil {
				t.Errorf("got %d files with the error, want none", len(files))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to hold %q", err, w)
				}
			}
		})
	}
	t.Run("socket next to the RuntimeDirectory", func(t *testing.T) {
		cfg := config.Default()
		cfg.Gateway.Listen = []string{"unix:/run/gateway.sock", "unix:/run/gateway-notes/x.sock", "unix:/run/gatewayx/y.sock"}
		if _, err := Render(cfg, ""); err != nil {
			t.Errorf("got %v, want no error", err)
		}
	})
	t.Run("no config", func(t *testing.T) {
		if _, err := Render(nil, ""); err == nil {
			t.Error("got no error, want one")
		}
	})
}

func TestTimespan(t *testing.T) {
	const s, m, h = time.Second, time.Minute, time.Hour
	tests := []struct {
		in   []time.Duration
		want string
	}{
		{[]time.Duration{m, 30 * s}, "1min 30s"},
		{[]time.Duration{2500 * time.Millisecond, 30 * s}, "33s"},
		{[]time.Duration{30 * s, 10 * s, 30 * s}, "1min 10s"},
		{[]time.Duration{0, 10 * s, 30 * s}, "40s"},
		{[]time.Duration{2 * h, 30 * s}, "2h 30s"},
		{[]time.Duration{90 * m, 10 * m, 30 * s}, "1h 40min 30s"},
		{[]time.Duration{1}, "1s"},
		{[]time.Duration{0}, "0"},
		{[]time.Duration{1 << 62, 1 << 62}, "infinity"},
	}
	for _, tt := range tests {
		if got := timespan(tt.in...); got != tt.want {
			t.Errorf("timespan(%v): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
