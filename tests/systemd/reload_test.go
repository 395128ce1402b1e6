package systemd_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// gatewayctl runs the CLI against the manager's session bus.
func (g *sdGateway) gatewayctl(args ...string) (string, error) {
	out, err := g.m.Command(bin.Gatewayctl, append([]string{"--user"}, args...)...).CombinedOutput()
	return string(out), err
}

type statusJSON struct {
	ActiveGeneration int    `json:"active_generation"`
	Revision         string `json:"revision"`
	Sessions         int    `json:"sessions"`
	Generations      []struct {
		ID       int    `json:"id"`
		State    string `json:"state"`
		Unit     string `json:"unit"`
		Sessions int    `json:"sessions"`
		PIDs     []int  `json:"pids"`
	} `json:"generations"`
}

func (g *sdGateway) status(t *testing.T) statusJSON {
	t.Helper()
	out, err := g.gatewayctl("status", "--json")
	if err != nil {
		t.Fatalf("gatewayctl status --json: %v\n%s", err, out)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("gatewayctl status --json: %v\n%s", err, out)
	}
	return st
}

// systemctl reload runs ExecReload=gatewayctl upgrade: it returns only once
// the new generation is active, and fails, the old one still serving, when
// the new revision cannot start.
func TestSystemctlReloadTellsTheTruth(t *testing.T) {
	g := startGateway(t, sdOptions{})
	a := g.browser()
	a.Login("alice")
	g.rel.Point("rel2")
	g.m.MustSystemctl(t, "reload", "gateway.service")
	// No waiting: the reload returned, so generation 2 is active now.
	st := g.status(t)
	if st.ActiveGeneration != 2 || st.Revision != "rel2" {
		t.Fatalf("right after systemctl reload: got active %d (%s), want 2 (rel2)", st.ActiveGeneration, st.Revision)
	}
	byID := map[int]string{}
	for _, gen := range st.Generations {
		byID[gen.ID] = gen.State + " " + gen.Unit
	}
	if byID[1] != "detached gateway-gen1.scope" || byID[2] != "active gateway-gen2.scope" {
		t.Fatalf("generations: got %v", byID)
	}

	g.rel.Release("rel3", "echo 'config file /etc/notes.conf is missing' >&2; exit 2")
	g.rel.Point("rel3")
	out, err := g.m.Systemctl("reload", "gateway.service")
	if err == nil {
		t.Fatalf("systemctl reload of a revision that cannot start succeeded:\n%s", out)
	}
	// The journal's lines arrive on their own schedule, not with the reply.
	if !gwtest.Poll(10*time.Second, func() bool {
		l := g.log()
		return strings.Contains(l, "generation 3 failed to start") && strings.Contains(l, "config file /etc/notes.conf is missing")
	}) {
		t.Fatal("the journal does not say why the reload failed")
	}
	if st := g.status(t); st.ActiveGeneration != 2 {
		t.Fatalf("after the failed reload: got active %d, want 2", st.ActiveGeneration)
	}
	if got := g.show("gateway.service", "ActiveState"); got != "active" {
		t.Fatalf("gateway.service after a failed reload: got %q, want active", got)
	}
	if w := g.browser().Login("bob"); w.Generation != "2" {
		t.Fatalf("a new session after the failed reload: got %+v, want generation 2", w)
	}
	if w := a.Who(); w.Generation != "1" {
		t.Fatalf("alice: got %+v, want generation 1", w)
	}
}

// gatewayctl's JSON and the D-Bus API agree with what the sessions see.
func TestGatewayctlJSON(t *testing.T) {
	g := startGateway(t, sdOptions{instances: 2})
	wa := g.browser().Login("alice")
	g.browser().Login("bob")
	st := g.status(t)
	if st.ActiveGeneration != 1 || len(st.Generations) != 1 || st.Sessions != 2 {
		t.Fatalf("status: got %+v, want generation 1 with 2 sessions", st)
	}
	found := false
	for _, pid := range st.Generations[0].PIDs {
		found = found || pid == wa.PID
	}
	if !found || len(st.Generations[0].PIDs) != 2 {
		t.Fatalf("pids: got %v, want 2 including alice's %d", st.Generations[0].PIDs, wa.PID)
	}
	out, err := g.gatewayctl("sessions", "--json")
	var sessions []struct {
		Hash       string `json:"hash"`
		Generation int    `json:"generation"`
	}
	if err != nil || json.Unmarshal([]byte(out), &sessions) != nil || len(sessions) != 2 {
		t.Fatalf("gatewayctl sessions --json: got %q (%v), want 2 sessions", out, err)
	}
	if out, err := g.gatewayctl("end-session", sessions[0].Hash); err != nil {
		t.Fatalf("gatewayctl end-session: %v\n%s", err, out)
	}
	if out, _ := g.gatewayctl("sessions", "--json"); strings.Count(out, `"hash"`) != 1 {
		t.Fatalf("sessions after end-session: got %s, want 1", out)
	}
	if out, err := g.gatewayctl("retire", "7"); err == nil || !strings.Contains(out, "generation 7") {
		t.Fatalf("gatewayctl retire 7: got %q (%v), want a failure naming generation 7", out, err)
	}
}
