package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const chromium = "/usr/bin/chromium"

// need skips the test when a tool the browser test runs is missing, or
// fails it when GATEWAY_REQUIRE_SYSTEMD=1 (tests/run.sh, CI): those runs
// must not skip it.
func need(t *testing.T, missing bool, what string) {
	t.Helper()
	if !missing {
		return
	}
	if os.Getenv("GATEWAY_REQUIRE_SYSTEMD") == "1" {
		t.Fatalf("%s (GATEWAY_REQUIRE_SYSTEMD=1: this test must run)", what)
	}
	t.Skip(what)
}

// browserTools is node, for the scripts in tests/browser, once chromium
// and playwright-core are there too (see need).
func browserTools(t *testing.T) string {
	t.Helper()
	_, err := os.Stat(chromium)
	need(t, err != nil, chromium+" is missing: install Debian's chromium package (apt-get install chromium)")
	node, err := exec.LookPath("node")
	need(t, err != nil, "node is missing: install Node.js 20 or later with npm")
	_, err = os.Stat("../browser/node_modules/playwright-core/package.json")
	need(t, err != nil, "tests/browser/node_modules is missing: run npm install --prefix tests/browser (tests/run.sh runs npm ci)")
	return node
}

// The admin console in headless Chromium against a running gateway with the
// notes app: sign in through the login form (a wrong password first), Upgrade, see generation 2 appear and generation 1 detach, end
// generation 1's sessions with their buttons, see it retired, sign out.
// Prometheus' way in, basic auth on /metrics, is checked after.
// tests/browser/admin.mjs drives the browser; with
// GATEWAY_UPDATE_SCREENSHOT=1, its screenshot replaces docs/admin-console.png.
func TestAdminConsoleInChromium(t *testing.T) {
	node := browserTools(t)
	const password = "correct horse battery"
	g := startGateway(t, options{admin: true, adminPass: password})
	g.waitLog(`msg="admin console serving" component=admin url=`+g.admin, 1, 5*time.Second)
	for _, user := range []string{"alice", "bob"} {
		if w := g.browser().Login(user); w.Generation != "1" {
			t.Fatalf("%s: got generation %s, want 1", user, w.Generation)
		}
	}

	g.point("rel2") // what Upgrade starts

	shot := filepath.Join(t.TempDir(), "admin-console.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "../browser/admin.mjs", g.admin, shot, g.url)
	cmd.Env = append(os.Environ(), "ADMIN_PASSWORD="+password)
	out, err := cmd.CombinedOutput()
	t.Logf("admin.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the browser test failed: %v", err)
	}
	g.waitLog(`msg="generation retired" component=supervisor generation=1`, 1, 5*time.Second)
	for _, want := range []string{`msg="upgrade requested" event=upgrade by="admin console"`, `msg="session ended by an admin"`,
		`msg="admin console: login failed" component=admin source=127.0.0.1 user=admin`, `msg="admin console: signed in" component=admin source=127.0.0.1 user=admin`} {
		if !strings.Contains(g.log.String(), want) {
			t.Errorf("no %q in the gateway's log", want)
		}
	}
	if got := g.generations(); len(got) != 1 || got[2] != "active" {
		t.Errorf("generations at the end: got %v, want only 2 active", got)
	}

	for _, tt := range []struct {
		user, pass string
		want       int
	}{{"admin", password, 200}, {"admin", "guess", 401}, {"", "", 401}} {
		req, _ := http.NewRequest("GET", g.admin+"metrics", nil)
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET /metrics as %q/%q: status %d, want %d", tt.user, tt.pass, resp.StatusCode, tt.want)
		}
	}
	if strings.Contains(g.log.String(), password) {
		t.Error("the password is in the gateway's log")
	}

	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s: not a PNG (%v)", shot, err)
	}
	if os.Getenv("GATEWAY_UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile("../../docs/admin-console.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("docs/admin-console.png updated")
	}
}
