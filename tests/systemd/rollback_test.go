package systemd_test

import (
	"strings"
	"testing"
	"time"
)

// Under systemd, `gatewayctl rollback` makes the previous generation's
// scope serve again: no scope is created or stopped, and the bad
// generation's scope goes when its last session ends.
func TestRollbackKeepsScopes(t *testing.T) {
	g := startGateway(t, sdOptions{})
	alice := g.browser()
	alice.Login("alice")
	g.rel.Point("rel2")
	g.m.MustSystemctl(t, "reload", "gateway.service")
	bob := g.browser()
	if w := bob.Login("bob"); w.Generation != "2" {
		t.Fatalf("bob on %+v, want generation 2", w)
	}
	g.waitScopes(10*time.Second, "gateway-gen1.scope", "gateway-gen2.scope")

	out, err := g.gatewayctl("rollback")
	if err != nil || !strings.Contains(out, "generation 1 is active again (revision rel1)") {
		t.Fatalf("gatewayctl rollback: %v\n%s", err, out)
	}
	if w := g.browser().Login("cy"); w.Generation != "1" {
		t.Errorf("a login after the rollback: %+v, want generation 1", w)
	}
	if st := g.status(t); st.ActiveGeneration != 1 {
		t.Errorf("status after the rollback: active %d, want 1", st.ActiveGeneration)
	}
	if got := g.scopes(); len(got) != 2 || got["gateway-gen1.scope"] != "active" || got["gateway-gen2.scope"] != "active" {
		t.Errorf("scopes after the rollback: %v, want gen1 and gen2 active and no other", got)
	}
	if w := bob.Who(); w.Generation != "2" {
		t.Errorf("bob after the rollback: %+v, want generation 2", w)
	}
	bob.Post("/logout", nil)
	g.waitScopes(20*time.Second, "gateway-gen1.scope")
}
