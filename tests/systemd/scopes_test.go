package systemd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// The design card's shape, end to end: socket activation starts the
// gateway, each generation is a scope, an upgrade detaches the first, and
// the first scope goes away with its last session.
func TestGenerationsAreScopes(t *testing.T) {
	g := startGateway(t, sdOptions{})
	a := g.browser()
	wa := a.Login("alice")
	if wa.Generation != "1" {
		t.Fatalf("alice: got %+v, want generation 1", wa)
	}
	g.waitScopes(5*time.Second, "gateway-gen1.scope")
	if !inScope(wa.PID, "gateway-gen1.scope") {
		t.Fatalf("worker pid %d is not in gateway-gen1.scope", wa.PID)
	}
	if cg := g.show("gateway-gen1.scope", "ControlGroup"); !strings.HasSuffix(cg, "/app.slice/gateway-gen1.scope") {
		t.Fatalf("scope control group: got %q, want it in app.slice", cg)
	}
	if d := g.show("gateway-gen1.scope", "Description"); !strings.Contains(d, "notes generation 1 (revision rel1)") {
		t.Fatalf("scope description: got %q, want the app and revision named", d)
	}
	if got := g.show("gateway.service", "StatusText"); !strings.HasPrefix(got, "active gen 1 (rev rel1") {
		t.Fatalf("StatusText: got %q, want the active generation", got)
	}

	g.rel.Point("rel2")
	if msg := g.upgrade(); msg != "" {
		t.Fatalf("upgrade failed: %s", msg)
	}
	b := g.browser()
	if w := b.Login("bob"); w.Generation != "2" || !inScope(w.PID, "gateway-gen2.scope") {
		t.Fatalf("bob: got %+v, want generation 2 in gateway-gen2.scope", w)
	}
	g.waitScopes(5*time.Second, "gateway-gen1.scope", "gateway-gen2.scope")
	// STATUS= follows session counts within the state-save interval (1s).
	want := "active gen 2 (rev rel2, 1 session) · detached: gen 1 (1 session)"
	var got string
	if !gwtest.Poll(3*time.Second, func() bool { got = g.show("gateway.service", "StatusText"); return got == want }) {
		t.Fatalf("StatusText: got %q, want %q", got, want)
	}
	if w := a.Who(); w.PID != wa.PID {
		t.Fatalf("alice after the upgrade: got %+v, want pid %d", w, wa.PID)
	}

	a.Post("/logout", nil)
	g.waitScopes(5*time.Second, "gateway-gen2.scope")
}

// systemctl stop of a detached generation's scope retires it in order;
// of the active one, starts a replacement first so that new sessions are
// still served.
func TestScopeStoppedFromOutside(t *testing.T) {
	g := startGateway(t, sdOptions{})
	a := g.browser()
	a.Login("alice")
	g.rel.Point("rel2")
	g.upgrade()
	g.waitScopes(5*time.Second, "gateway-gen1.scope", "gateway-gen2.scope")

	g.m.MustSystemctl(t, "stop", "gateway-gen1.scope")
	g.waitLog(`generation retired component=supervisor generation=1`, 1, 10*time.Second)
	if !strings.Contains(gwLast(g, `retiring generation component=supervisor generation=1`), `reason="its unit was stopped from outside"`) {
		t.Fatal("generation 1 was not retired as stopped from outside")
	}
	if w := a.Who(); w.Generation != "2" {
		t.Fatalf("alice after her generation's scope was stopped: got %+v, want generation 2", w)
	}
	g.waitScopes(5*time.Second, "gateway-gen2.scope")

	g.m.MustSystemctl(t, "stop", "gateway-gen2.scope")
	g.waitScopes(10*time.Second, "gateway-gen3.scope")
	if w := g.browser().Login("carol"); w.Generation != "3" {
		t.Fatalf("a new session after the active scope was stopped: got %+v, want generation 3", w)
	}
}

// A worker that cannot start (its command is missing) fails the upgrade;
// the old generation keeps serving and no scope is left behind.
func TestFailedScopeStartKeepsOldGeneration(t *testing.T) {
	g := startGateway(t, sdOptions{})
	a := g.browser()
	a.Login("alice")
	g.rel.Release("rel2", "")
	g.rel.Point("rel2")
	if err := removeBinary(g, "rel2"); err != nil {
		t.Fatal(err)
	}
	msg := g.upgrade()
	if !strings.Contains(msg, "generation 2 failed to start") {
		t.Fatalf("upgrade outcome: got %q, want generation 2 to fail", msg)
	}
	if w := a.Who(); w.Generation != "1" {
		t.Fatalf("alice: got %+v, want generation 1", w)
	}
	if w := g.browser().Login("bob"); w.Generation != "1" {
		t.Fatalf("a new session: got %+v, want generation 1", w)
	}
	g.waitScopes(5*time.Second, "gateway-gen1.scope")
	if got := g.show("gateway.service", "ActiveState"); got != "active" {
		t.Fatalf("gateway.service: got %q, want active", got)
	}
}

func gwLast(g *sdGateway, pattern string) string {
	lines := strings.Split(g.log(), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], pattern) {
			return lines[i]
		}
	}
	return ""
}

// Per-generation limits from [systemd] end up on the scope.
func TestScopeLimits(t *testing.T) {
	g := startGateway(t, sdOptions{extra: "memory_max = \"512M\"\ncpu_quota = \"150%\"\ntasks_max = 64\n"})
	g.browser().Login("alice")
	g.waitScopes(5*time.Second, "gateway-gen1.scope")
	for prop, want := range map[string]string{
		"MemoryMax":          "536870912",
		"CPUQuotaPerSecUSec": "1.500000s",
		"TasksMax":           "64",
		"CollectMode":        "inactive-or-failed",
		"Delegate":           "yes",
	} {
		if got := g.show("gateway-gen1.scope", prop); got != want {
			t.Errorf("%s: got %q, want %q", prop, got, want)
		}
	}
}
