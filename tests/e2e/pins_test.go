package e2e

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/proxy"
	"github.com/gatewayd/gateway/proxy/pinstore"
	"github.com/gatewayd/gateway/tests/gwtest"
)

// pins reads the gateway's pin store as the next start would.
func (g *gateway) pins() []fleet.Pin {
	g.t.Helper()
	h, _ := proxy.NewHasher(make([]byte, 32))
	p, err := proxy.New(proxy.Options{Hasher: h, IdleTimeout: 24 * time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		g.t.Fatal(err)
	}
	if _, err := pinstore.Open(pinstore.Options{Path: filepath.Join(g.dir, "run", "notes.pins"), App: "notes", Table: p,
		Logger: slog.New(slog.DiscardHandler)}); err != nil {
		g.t.Fatalf("reading the pin store: %v", err)
	}
	return p.Pins()
}

// waitPins waits until the pin store holds n pins (it is written every
// 250ms) and returns them.
func (g *gateway) waitPins(n int) []fleet.Pin {
	g.t.Helper()
	var got []fleet.Pin
	if !gwtest.Poll(5*time.Second, func() bool { got = g.pins(); return len(got) == n }) {
		g.t.Fatalf("the pin store holds %d pins, want %d", len(got), n)
	}
	return got
}

// With the process runner the workers end with the gateway. A restart loads
// every pin from the pin store, finds its generation gone, reports the
// sessions lost, and serves new ones.
func TestRestartReportsEveryPinLost(t *testing.T) {
	g := startGateway(t, options{})
	const n = 3000
	gwtest.Logins(t, g.url, "user", n)
	g.stop()
	if got := len(g.pins()); got != n {
		t.Fatalf("the pin store holds %d pins after a clean stop, want %d", got, n)
	}
	g.start()
	for _, re := range []string{
		fmt.Sprintf(`msg="loaded the pins of the previous run".* sessions=%d\b`, n),
		fmt.Sprintf(`its sessions are lost".* generation=1 .*sessions_lost=%d\b`, n),
	} {
		if !g.log.matches(re) {
			t.Fatalf("no %q in the log:\n%s", re, g.log)
		}
	}
	if w := g.browser().Login("after"); w.Generation != "2" {
		t.Fatalf("a login after the restart: got %+v, want generation 2", w)
	}
	g.waitPins(1)
}

// With runner = "process" chosen, no bus is no surprise: said once, at
// info level.
func TestNoBusIsInfoWithTheProcessRunner(t *testing.T) {
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/gateway-test-bus") // whatever the machine has
	g := startGateway(t, options{})
	if !g.log.matches(`level=INFO msg="no D-Bus API`) || g.log.count("no D-Bus API") != 1 || g.log.matches(`level=WARN msg="no D-Bus API`) {
		t.Fatalf("want one info line about the missing D-Bus API, got:\n%s", g.log)
	}
}
