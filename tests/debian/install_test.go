package debian_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/nspawn"
)

func TestInstallUpgradePurgeOnDebian(t *testing.T) {
	dist := buildPackages(t, "0.1.0", "0.2.0")
	m := nspawn.Boot(t, nspawn.Options{Binds: []nspawn.Bind{
		{Host: dist, Container: "/pkg", ReadOnly: true},
		{Host: bin.Dir, Container: "/build", ReadOnly: true},
	}})
	s := newSteps(t, m)

	s.run("install", "DEBIAN_FRONTEND=noninteractive dpkg -i /pkg/gateway_0.1.0.deb", true)
	s.run("sample-app", `set -e
for r in rev1 rev2; do mkdir -p /opt/notes/releases/$r; cp /build/notes /opt/notes/releases/$r/notes; done
ln -sfn /opt/notes/releases/rev1 /opt/notes/current`, true)
	m.WriteFile(t, "/etc/gateway/gateway.toml", []byte(config), 0o644)
	s.run("check-config", "gatewayd --check-config /etc/gateway/gateway.toml", true)
	s.run("enable", "systemctl daemon-reload && systemctl enable --now gateway.socket", true)

	if w := s.post("alice", "/login", "-d user=alice"); w.Revision != "rev1" || w.Generation != "1" {
		t.Fatalf("alice through the socket: got %+v, want rev1 on generation 1", w)
	}
	s.run("scope-1", "systemctl is-active gateway-gen1.scope && systemctl show -p Slice --value gateway-gen1.scope | grep -x gateway.slice", true)

	s.run("switch-symlink", "ln -sfn /opt/notes/releases/rev2 /opt/notes/current.new && mv -T /opt/notes/current.new /opt/notes/current", true)
	s.run("reload", "systemctl reload gateway", true)
	if w := s.who("alice"); w.Revision != "rev1" || w.User != "alice" {
		t.Fatalf("alice after the reload: got %+v, want rev1", w)
	}
	if w := s.post("bob", "/login", "-d user=bob"); w.Revision != "rev2" {
		t.Fatalf("bob after the reload: got %+v, want rev2", w)
	}

	checkAPIAgrees(t, s)

	if out := s.run("journal-detached", "journalctl -u gateway GATEWAY_EVENT=detached -o cat --no-pager", true); !strings.Contains(out, "generation detached") {
		t.Fatalf("journalctl -u gateway GATEWAY_EVENT=detached: got %q", out)
	}
	if out := s.run("journal-scope", "journalctl -u gateway-gen1.scope -o cat --no-pager", true); !strings.Contains(out, "notes: revision rev1") {
		t.Fatalf("journalctl -u gateway-gen1.scope: got %q, want the notes app's own output", out)
	}
	s.run("status", "systemctl status --no-pager gateway | grep -F 'active gen 2 (rev rev2'", true)
	// The policy file refuses an unprivileged caller on the system bus.
	if out := s.run("unprivileged", "runuser -u nobody -- gatewayctl upgrade", false); !strings.Contains(out, "gateway-admin") {
		t.Fatalf("gatewayctl upgrade as nobody: got %q, want a refusal that says who may", out)
	}
	if out := s.run("unprivileged-read", "runuser -u nobody -- gatewayctl generations", true); !strings.Contains(out, "detached") {
		t.Fatalf("gatewayctl generations as nobody: got %q, want the generations", out)
	}

	s.post("alice", "/logout", "")
	s.until("gen1-gone", "! systemctl is-active --quiet gateway-gen1.scope", 10*time.Second)

	bob := s.who("bob")
	mainPID := s.run("main-pid", "systemctl show -p MainPID --value gateway", true)
	s.run("package-upgrade", "DEBIAN_FRONTEND=noninteractive dpkg -i /pkg/gateway_0.2.0.deb", true)
	s.run("version", "dpkg-query -W -f='${Version}' gateway | grep -x 0.2.0", true)
	if now := s.run("main-pid-after", "systemctl show -p MainPID --value gateway", true); now == mainPID {
		t.Fatalf("gatewayd was not restarted by the package upgrade (MainPID %s)", strings.TrimSpace(now))
	}
	if w := s.who("bob"); w.PID != bob.PID || w.User != "bob" {
		t.Fatalf("bob after the package upgrade: got %+v, want his worker %d", w, bob.PID)
	}

	s.run("purge", "DEBIAN_FRONTEND=noninteractive apt-get purge -y gateway", true)
	s.run("stopped", "! systemctl is-active --quiet gateway.service && ! systemctl is-active --quiet gateway.socket", true)
	s.run("scopes-gone", "! systemctl list-units --plain --no-legend 'gateway-gen*' | grep -q .", true)
	s.run("state-gone", "test ! -e /var/lib/gateway", true)
}

// busctl on the system bus and gatewayctl's JSON say the same.
func checkAPIAgrees(t *testing.T, s *steps) {
	t.Helper()
	var st struct {
		ActiveGeneration int `json:"active_generation"`
		Generations      []struct {
			ID    int    `json:"id"`
			State string `json:"state"`
		} `json:"generations"`
	}
	out := s.run("gatewayctl-status", "gatewayctl status --json", true)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("gatewayctl status --json: %v\n%s", err, out)
	}
	var bus struct {
		Data [][][]any `json:"data"`
	}
	out = s.run("busctl-list", "busctl --json=short call org.gatewayd.Gateway1 /org/gatewayd/Gateway1 org.gatewayd.Gateway1 ListGenerations", true)
	if err := json.Unmarshal([]byte(out), &bus); err != nil || len(bus.Data) != 1 {
		t.Fatalf("busctl ListGenerations: %v\n%s", err, out)
	}
	fromBus := map[int]string{}
	for _, g := range bus.Data[0] {
		fromBus[int(g[0].(float64))] = g[1].(string)
	}
	fromCtl := map[int]string{}
	for _, g := range st.Generations {
		fromCtl[g.ID] = g.State
	}
	if len(fromBus) != 2 || fromBus[1] != "detached" || fromBus[2] != "active" || st.ActiveGeneration != 2 {
		t.Fatalf("busctl: got %v, want 1 detached and 2 active", fromBus)
	}
	for id, state := range fromBus {
		if fromCtl[id] != state {
			t.Fatalf("gatewayctl says generation %d is %q, busctl %q", id, fromCtl[id], state)
		}
	}
}
