package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, toml string
		code       int
		want       []string
	}{
		{name: "valid", code: 0, want: []string{"ok"},
			toml: "[app]\ndirectory = \"/opt/x\"\ncommand = [\"{dir}/x\"]\n"},
		{name: "unknown key and bad duration", code: 1,
			toml: "[app]\ndirectory = \"/opt/x\"\ncommand = [\"{dir}/x\"]\n\n[sessions]\nidle_timout = \"5m\"\n[drain]\nmax_time = \"5 minutes\"\n",
			want: []string{"bad.toml:6: sessions.idle_timout: unknown key", "did you mean sessions.idle_timeout",
				"bad.toml:8: drain.max_time", "not a duration"}},
		{name: "missing command", code: 1, toml: "[app]\ndirectory = \"/opt/x\"\n",
			want: []string{"app.command: required"}},
		{name: "syntax error", code: 1, toml: "[app\n", want: []string{"bad.toml:2: syntax error"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad.toml")
			os.WriteFile(path, []byte(tc.toml), 0o644)
			out, err := exec.Command(bin.Gatewayd, "--check-config", path).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != tc.code {
				t.Fatalf("exit code: got %d, want %d\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestPIDFileForScripts(t *testing.T) {
	g := startGateway(t, options{})
	data, err := os.ReadFile(filepath.Join(g.dir, "run", "notes.pid"))
	if err != nil || strings.TrimSpace(string(data)) != strconv.Itoa(g.cmd.Process.Pid) {
		t.Fatalf("pid file: got %q (%v), want %d", data, err, g.cmd.Process.Pid)
	}
}
