package systemd_test

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"
)

const (
	busName = "org.gatewayd.Gateway1"
	objPath = "/org/gatewayd/Gateway1"
)

// busctl drives the API as an operator would, without gatewayctl.
func (g *sdGateway) busctl(args ...string) (string, error) {
	return g.m.Busctl(append([]string{"call", busName, objPath, busName}, args...)...)
}

func TestBusctlDrivesTheGateway(t *testing.T) {
	g := startGateway(t, sdOptions{})
	a := g.browser()
	a.Login("alice")

	// busctl monitor sees an upgrade as it happens.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mon := g.m.CommandContext(ctx, "busctl", "--user", "monitor", busName)
	out, err := mon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(300 * time.Millisecond) // let the monitor subscribe

	g.rel.Point("rel2")
	if got, err := g.busctl("Upgrade"); err != nil || strings.TrimSpace(got) != "u 2" {
		t.Fatalf("busctl call Upgrade: got %q (%v), want %q", got, err, "u 2")
	}
	if !sawSignal(lines, "GenerationChanged", 5*time.Second) {
		t.Fatal("busctl monitor did not show a GenerationChanged signal during the upgrade")
	}

	// Retire without force is refused while alice's session lives.
	got, err := g.busctl("Retire", "ub", "1", "false")
	if err == nil || !strings.Contains(got, "still has 1 sessions") {
		t.Fatalf("Retire 1 false: got %q (%v), want a refusal naming the session", got, err)
	}
	if got, err := g.busctl("Retire", "ub", "9", "true"); err == nil || !strings.Contains(got, "generation 9") {
		t.Fatalf("Retire 9: got %q (%v), want no such generation", got, err)
	}
	if got, err := g.busctl("Retire", "ub", "1", "true"); err != nil {
		t.Fatalf("Retire 1 true: %q (%v)", got, err)
	}
	g.waitScopes(10*time.Second, "gateway-gen2.scope")
	if w := a.Who(); w.Generation != "2" {
		t.Fatalf("alice after a forced retire: got %+v, want generation 2", w)
	}

	// Detach the active generation: a replacement starts.
	if got, err := g.busctl("Detach", "u", "2"); err != nil || strings.TrimSpace(got) != "u 3" {
		t.Fatalf("Detach 2: got %q (%v), want %q", got, err, "u 3")
	}
	gens, err := g.busctl("ListGenerations")
	if err != nil || !strings.Contains(gens, `"active" "rel2" "gateway-gen3.scope"`) {
		t.Fatalf("ListGenerations: got %q (%v), want generation 3 active in its scope", gens, err)
	}
	prop, err := g.m.Busctl("get-property", busName, objPath, busName, "ActiveGeneration")
	if err != nil || strings.TrimSpace(prop) != "u 3" {
		t.Fatalf("ActiveGeneration: got %q (%v), want %q", prop, err, "u 3")
	}
}

func sawSignal(lines <-chan string, member string, limit time.Duration) bool {
	deadline := time.After(limit)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return false
			}
			if strings.Contains(l, "Member="+member) {
				return true
			}
		case <-deadline:
			return false
		}
	}
}
