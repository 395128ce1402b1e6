// Package debian_test installs the gateway's .deb on a booted Debian 12
// (systemd-nspawn, tests/nspawn) and walks through what an operator does:
// install, enable the socket, log in, upgrade with systemctl reload, watch
// the old generation drain in the journal, upgrade the package under a
// running session, purge. Each step's command and output are kept in an
// artifacts directory, printed when the test fails.
package debian_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
	"github.com/gatewayd/gateway/tests/nspawn"
)

var bin *gwtest.Binaries

func TestMain(m *testing.M) { os.Exit(gwtest.Main(m, "../..", &bin)) }

// buildPackages builds the .deb of each version into one directory.
func buildPackages(t *testing.T, versions ...string) string {
	dist := t.TempDir()
	for _, v := range versions {
		cmd := exec.Command("sh", "packaging/build.sh")
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "VERSION="+v, "DIST="+filepath.Join(dist, v))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("packaging/build.sh (VERSION=%s): %v\n%s", v, err, out)
		}
		debs, _ := filepath.Glob(filepath.Join(dist, v, "*.deb"))
		if len(debs) != 1 {
			t.Fatalf("VERSION=%s built %v, want one .deb", v, debs)
		}
		os.Rename(debs[0], filepath.Join(dist, "gateway_"+v+".deb"))
	}
	return dist
}

// steps runs commands in the machine and keeps what each printed.
type steps struct {
	t   *testing.T
	m   *nspawn.Machine
	dir string
	n   int
}

func newSteps(t *testing.T, m *nspawn.Machine) *steps {
	dir := filepath.Join(os.TempDir(), "gateway-artifacts", fmt.Sprintf("%s-%d", t.Name(), time.Now().Unix()))
	os.MkdirAll(dir, 0o755)
	s := &steps{t: t, m: m, dir: dir}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("artifacts of every step: %s", dir)
			s.dump()
		} else {
			os.RemoveAll(dir)
		}
	})
	return s
}

// run runs a shell script inside and records it; ok says whether it must
// succeed.
func (s *steps) run(name, script string, ok bool) string {
	s.t.Helper()
	s.n++
	out, err := s.m.Exec("bash", "-c", script)
	rec := fmt.Sprintf("$ %s\n%s\n(exit: %v)\n", script, out, err)
	file := strings.NewReplacer("/", "_", " ", "_").Replace(name)
	os.WriteFile(filepath.Join(s.dir, fmt.Sprintf("%02d-%s.txt", s.n, file)), []byte(rec), 0o644)
	if ok && err != nil {
		s.t.Fatalf("step %q failed: %v\n%s", name, err, out)
	}
	if !ok && err == nil {
		s.t.Fatalf("step %q succeeded; want it to fail\n%s", name, out)
	}
	return out
}

func (s *steps) dump() {
	files, _ := filepath.Glob(filepath.Join(s.dir, "*.txt"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		s.t.Logf("--- %s\n%s", filepath.Base(f), data)
	}
}

// who is the notes app's whoami through the gateway, for a cookie jar.
func (s *steps) who(jar string) gwtest.Whoami {
	s.t.Helper()
	out := s.run("whoami-"+jar, "curl -sS --fail-with-body -b /root/"+jar+" -c /root/"+jar+" http://127.0.0.1:8080/whoami", true)
	return decodeWho(s.t, out)
}

func (s *steps) post(jar, path, form string) gwtest.Whoami {
	s.t.Helper()
	out := s.run(jar+path, fmt.Sprintf("curl -sS --fail-with-body -b /root/%s -c /root/%s -H 'Accept: application/json' -X POST %s http://127.0.0.1:8080%s",
		jar, jar, form, path), true)
	return decodeWho(s.t, out)
}

func decodeWho(t *testing.T, out string) gwtest.Whoami {
	t.Helper()
	var w gwtest.Whoami
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &w); err != nil {
		t.Fatalf("whoami: %v in %q", err, out)
	}
	return w
}

// until polls a script inside until it succeeds.
func (s *steps) until(name, script string, limit time.Duration) {
	s.t.Helper()
	if !gwtest.Poll(limit, func() bool { _, err := s.m.Exec("bash", "-c", script); return err == nil }) {
		s.run(name+"-timeout", script, true)
	}
}

const config = `# /etc/gateway/gateway.toml of the end-to-end test: the notes sample app.
[gateway]
listen = ["127.0.0.1:8080"]

[app]
directory = "/opt/notes/current"
command = ["{dir}/notes", "-cookie", "SID"]
socket = "fd"
user = "gateway"
instances = 2

[readiness]
path = "/healthz"
timeout = "20s"

[sessions]
cookie = "SID"
`
