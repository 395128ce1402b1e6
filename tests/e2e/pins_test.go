package e2e

import (
	"log/slog"
	"path/filepath"
	"time"

	"github.com/gatewayd/gateway/proxy"
	"github.com/gatewayd/gateway/proxy/pinstore"
	"github.com/gatewayd/gateway/tests/gwtest"
)

type noRoutes struct{}

func (noRoutes) Routes() *proxy.Routes { return nil }

// pins reads the gateway's pin store as the next start would.
func (g *gateway) pins() []proxy.Pin {
	g.t.Helper()
	h, _ := proxy.NewHasher(make([]byte, 32))
	p, err := proxy.New(proxy.Options{Source: noRoutes{}, Hasher: h, IdleTimeout: 24 * time.Hour, Logger: slog.New(slog.DiscardHandler)})
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
func (g *gateway) waitPins(n int) []proxy.Pin {
	g.t.Helper()
	var got []proxy.Pin
	if !gwtest.Poll(5*time.Second, func() bool { got = g.pins(); return len(got) == n }) {
		g.t.Fatalf("the pin store holds %d pins, want %d", len(got), n)
	}
	return got
}
