package systemd_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// Many sessions on two generations, then a restart of the gateway: the
// next gatewayd loads every pin from its pin store, re-adopts both scopes,
// and routes each session by its pin alone (the requests carry no affinity
// cookie). GATEWAY_TEST_PINS sets how many (default 20,000).
func TestRestartKeepsManyPins(t *testing.T) {
	n := 20000
	if v := os.Getenv("GATEWAY_TEST_PINS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	g := startGateway(t, sdOptions{instances: 2})
	old := gwtest.Logins(t, g.url, "old", n/2)
	g.rel.Point("rel2")
	if msg := g.upgrade(); msg != "" {
		t.Fatalf("upgrade failed: %s", msg)
	}
	young := gwtest.Logins(t, g.url, "new", n-n/2)
	g.waitScopes(5*time.Second, "gateway-gen1.scope", "gateway-gen2.scope")
	pid := g.mainPID()
	start := time.Now()
	g.m.MustSystemctl(t, "restart", "gateway.service")
	if !gwtest.Poll(30*time.Second, func() bool {
		return g.mainPID() != pid && gwtest.Count(g.log(), "re-adopted the generations") >= 1
	}) {
		t.Fatal("no new gatewayd re-adopted the generations within 30s")
	}
	t.Logf("restart with %d pins: re-adopted after %v", n, time.Since(start))
	loaded := gwLast(g, "loaded the pins of the previous run")
	adopted := gwLast(g, "re-adopted the generations")
	if !strings.Contains(loaded, fmt.Sprintf("sessions=%d", n)) || !strings.Contains(adopted, fmt.Sprintf("sessions=%d", n)) {
		t.Fatalf("after the restart:\n%s\n%s\nwant %d sessions loaded and kept", loaded, adopted, n)
	}
	for i := 0; i < n/2; i += max(n/400, 1) {
		for _, s := range []gwtest.Session{old[i], young[i]} {
			if w := gwtest.WhoWithSIDOnly(t, g.url, s.SID); w.PID != s.Who.PID || w.User != s.Who.User {
				t.Fatalf("session of %s (worker %d, generation %s): answered by %+v", s.Who.User, s.Who.PID, s.Who.Generation, w)
			}
		}
	}
}
