// Package systemd_test runs gatewayd as a socket-activated service of a
// real, confined systemd user manager (tests/sdtest) with its generations
// as transient scopes, and checks what an operator sees through systemctl.
package systemd_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
	"github.com/gatewayd/gateway/tests/sdtest"
)

var bin *gwtest.Binaries

func TestMain(m *testing.M) { os.Exit(gwtest.Main(m, "../..", &bin)) }

// sdGateway is gateway.socket + gateway.service in a user manager.
type sdGateway struct {
	t      *testing.T
	m      *sdtest.Manager
	dir    string
	url    string
	port   string
	config string
	rel    *gwtest.Releases
}

type sdOptions struct {
	runner    string // gateway.runner; default "systemd"
	instances int
	extra     string // appended to the config
	drain     string // added to [drain]
	sessions  string // added to [sessions]
	service   string // appended to [Service]
	// sockets are more socket units (name → content), started with
	// gateway.socket: the [listeners] tables' under socket activation.
	sockets map[string]string
}

func startGateway(t *testing.T, o sdOptions) *sdGateway {
	t.Helper()
	m := sdtest.Start(t)
	dir, err := os.MkdirTemp("", "gwsd-") // short: unix socket paths live here
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	g := &sdGateway{t: t, m: m, dir: dir, rel: gwtest.NewReleases(t, dir, bin.Notes)}
	port := gwtest.FreePort(t)
	g.port = port
	g.url = "http://127.0.0.1:" + port
	g.config = filepath.Join(dir, "notes.toml")
	if o.instances == 0 {
		o.instances = 1
	}
	if o.runner == "" {
		o.runner = "systemd"
	}
	// The runtime and state directories come from the unit
	// (RuntimeDirectory=, StateDirectory=), as in the packaged service.
	cfg := fmt.Sprintf(`[gateway]
runner = %q

[app]
directory = %q
command = ["{dir}/notes", "-cookie", "SID"]
socket = "fd"
instances = %d
stop_timeout = "3s"
restart_backoff = "100ms"

[readiness]
path = "/healthz"
timeout = "5s"
interval = "20ms"

[sessions]
cookie = "SID"
%s

[drain]
close_window = "1s"
%s

[systemd]
manager = "user"
%s`, o.runner, g.rel.Current(), o.instances, o.sessions, o.drain, o.extra)
	if err := os.WriteFile(g.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	m.WriteUnit(t, "gateway.socket", fmt.Sprintf(`[Unit]
Description=gateway test socket

[Socket]
ListenStream=127.0.0.1:%s
FileDescriptorName=http
`, port))
	m.WriteUnit(t, "gateway.service", fmt.Sprintf(`[Unit]
Description=gateway test service
Requires=gateway.socket

[Service]
Type=notify
NotifyAccess=main
ExecStart=%s --config %s --log-level debug
ExecReload=%s --user upgrade
Restart=on-failure
RestartSec=100ms
TimeoutStopSec=30
RuntimeDirectory=gateway-notes
RuntimeDirectoryPreserve=restart
StateDirectory=gateway-notes
%s
`, bin.Gatewayd, g.config, bin.Gatewayctl, o.service))
	for name, unit := range o.sockets {
		m.WriteUnit(t, name, unit)
		m.MustSystemctl(t, "start", name)
	}
	m.MustSystemctl(t, "start", "gateway.socket")
	if !gwtest.Poll(20*time.Second, func() bool { return g.healthy() }) {
		t.Fatalf("the gateway did not answer through its socket within 20s; manager log:\n%s", m.Log())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log (services write here):\n%s", m.Log())
		}
	})
	return g
}

func (g *sdGateway) healthy() bool {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(g.url + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

func (g *sdGateway) browser() *gwtest.Browser { return gwtest.NewBrowser(g.t, g.url) }

func (g *sdGateway) log() string { return g.m.Log() }

// waitLog waits for at least n occurrences of pattern in the manager's log.
func (g *sdGateway) waitLog(pattern string, n int, limit time.Duration) {
	g.t.Helper()
	if !gwtest.Poll(limit, func() bool { return gwtest.Count(g.log(), pattern) >= n }) {
		g.t.Fatalf("waited %v for %d× %q in the log", limit, n, pattern)
	}
}

// upgrade sends SIGHUP to the service's main process and waits for the
// outcome; it returns the failure line, or "".
func (g *sdGateway) upgrade() string {
	g.t.Helper()
	done, failed := gwtest.Count(g.log(), `upgrade done event=upgraded`), gwtest.Count(g.log(), `upgrade failed;`)
	g.m.MustSystemctl(g.t, "kill", "--kill-whom=main", "-s", "HUP", "gateway.service")
	var line string
	ok := gwtest.Poll(20*time.Second, func() bool {
		l := g.log()
		if gwtest.Count(l, `upgrade done event=upgraded`) > done {
			return true
		}
		if gwtest.Count(l, `upgrade failed;`) > failed {
			line = gwtest.Last(l, `upgrade failed;`)
			return true
		}
		return false
	})
	if !ok {
		g.t.Fatal("no upgrade outcome in the log after 20s")
	}
	return line
}

// waitReadopted waits until a gatewayd other than old runs and has logged
// re-adopting the generations more than before times.
func (g *sdGateway) waitReadopted(old, before int) {
	g.t.Helper()
	if !gwtest.Poll(30*time.Second, func() bool {
		pid := g.mainPID()
		return pid != old && pid != 0 && gwtest.Count(g.log(), "re-adopted the generations") > before
	}) {
		g.t.Fatal("no new gatewayd re-adopted the generations within 30s")
	}
}

// show reads one property of a unit.
func (g *sdGateway) show(unit, prop string) string {
	out, _ := g.m.Systemctl("show", "-p", prop, "--value", unit)
	return strings.TrimSpace(out)
}

func (g *sdGateway) mainPID() int {
	pid, _ := strconv.Atoi(g.show("gateway.service", "MainPID"))
	return pid
}

// scopes lists the loaded gateway scopes with their active state.
func (g *sdGateway) scopes() map[string]string {
	out, _ := g.m.Systemctl("list-units", "--all", "--plain", "--no-legend", "gateway-gen*.scope")
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.HasSuffix(f[0], ".scope") {
			got[f[0]] = f[2]
		}
	}
	return got
}

// waitScopes waits until the active scopes are exactly want.
func (g *sdGateway) waitScopes(limit time.Duration, want ...string) {
	g.t.Helper()
	var got map[string]string
	ok := gwtest.Poll(limit, func() bool {
		got = g.scopes()
		active := 0
		for _, s := range got {
			if s == "active" {
				active++
			}
		}
		if active != len(want) {
			return false
		}
		for _, w := range want {
			if got[w] != "active" {
				return false
			}
		}
		return true
	})
	if !ok {
		g.t.Fatalf("scopes: got %v, want exactly %v active", got, want)
	}
}

// inScope reports whether pid runs in the named unit's cgroup.
func inScope(pid int, unit string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	return err == nil && strings.Contains(string(data), "/"+unit+"\n")
}
