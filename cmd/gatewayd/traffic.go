package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gateway/proxy"
	"github.com/gatewayd/gateway/supervisor"
)

// traffic joins the proxy and the supervisor, which do not know each other:
// it is the proxy's Source and the supervisor's Traffic.
type traffic struct {
	p      *proxy.Proxy
	routes atomic.Pointer[proxy.Routes]
}

var (
	_ proxy.Source       = (*traffic)(nil)
	_ supervisor.Traffic = (*traffic)(nil)
)

func (t *traffic) Routes() *proxy.Routes { return t.routes.Load() }

func (t *traffic) Publish(r supervisor.Routing) {
	out := &proxy.Routes{Active: toProxy(r.Active)}
	for _, d := range r.Detached {
		out.Detached = append(out.Detached, toProxy(d))
	}
	t.routes.Store(out)
}

func toProxy(r *supervisor.Route) *proxy.Generation {
	if r == nil {
		return nil
	}
	g := &proxy.Generation{ID: r.Generation, Revision: r.Revision}
	for _, e := range r.Instances {
		g.Instances = append(g.Instances, proxy.Instance{Index: e.Instance, Network: e.Network, Address: e.Address})
	}
	return g
}

func (t *traffic) Usage(gen int) supervisor.Usage {
	u := t.p.Usage(gen)
	return supervisor.Usage{Sessions: u.Sessions, InFlight: u.InFlight, Upgraded: u.Upgraded}
}

func (t *traffic) DropGeneration(gen int) int     { return t.p.DropGeneration(gen) }
func (t *traffic) DropInstance(gen, inst int) int { return t.p.DropInstance(gen, inst) }
func (t *traffic) Forget(gen int)                 { t.p.Forget(gen) }

func (t *traffic) CloseHeld(ctx context.Context, gen int, window time.Duration) int {
	return t.p.CloseHeld(ctx, gen, window)
}

func (t *traffic) KeepPins(alive func(gen, inst int) bool) map[int]int { return t.p.KeepPins(alive) }

func (t *traffic) RestorePins(pins []supervisor.Pin) int {
	in := make([]proxy.Pin, 0, len(pins))
	for _, p := range pins {
		k, err := proxy.ParseSessionKey(p.Session)
		if err != nil {
			continue
		}
		in = append(in, proxy.Pin{Key: k, Generation: p.Generation, Instance: p.Instance, LastSeen: p.LastSeen})
	}
	return t.p.RestorePins(in)
}
