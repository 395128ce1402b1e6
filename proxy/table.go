package proxy

import (
	"sync/atomic"

	"github.com/gatewayd/gateway/fleet"
)

// backend is one worker instance with its pool of kept-alive connections.
// Backends are reused across route changes, so that a detach does not drop
// the connections of the generations that stay.
type backend struct {
	gen, inst int
	network   string
	address   string
	stats     *genStats
	pool      workerPool
}

type compiledGen struct {
	id       int
	revision string
	backends []*backend
	stats    *genStats
	next     atomic.Uint32 // tie-breaker for pick
}

// instance returns the backend of a ready instance, or nil.
func (g *compiledGen) instance(inst int) *backend {
	for _, b := range g.backends {
		if b.inst == inst {
			return b
		}
	}
	return nil
}

// pick returns the instance with the fewest pinned sessions; ties rotate so
// that anonymous traffic spreads too.
func (g *compiledGen) pick() *backend {
	n := len(g.backends)
	switch n {
	case 0:
		return nil
	case 1:
		return g.backends[0]
	}
	start := int(g.next.Add(1))
	var best *backend
	bestPins := 0
	for i := range n {
		b := g.backends[(start+i)%n]
		if p := g.stats.instancePins(b.inst); best == nil || p < bestPins {
			best, bestPins = b, p
		}
	}
	return best
}

// table is the compiled form of one Routes value.
type table struct {
	src    *fleet.Routes
	active *compiledGen
	canary canary
	gens   map[int]*compiledGen
}

func (t *table) backend(gen, inst int) *backend {
	if g := t.gens[gen]; g != nil {
		return g.instance(inst)
	}
	return nil
}

type backendKey struct {
	gen, inst        int
	network, address string
}

// compile builds the table for src, reusing backends from the previous one
// and closing the idle connections of the backends that are gone.
func (p *Proxy) compile(src *fleet.Routes, prev *table) *table {
	old := map[backendKey]*backend{}
	if prev != nil {
		for _, g := range prev.gens {
			for _, b := range g.backends {
				old[backendKey{b.gen, b.inst, b.network, b.address}] = b
			}
		}
	}
	t := &table{src: src, gens: map[int]*compiledGen{}}
	add := func(g *fleet.Route) *compiledGen {
		cg := &compiledGen{id: g.Generation, revision: g.Revision, stats: p.stats.get(g.Generation)}
		for _, in := range g.Instances {
			k := backendKey{g.Generation, in.Instance, in.Network, in.Address}
			b := old[k]
			if b == nil {
				b = p.newBackend(g.Generation, in, cg.stats)
			}
			delete(old, k)
			cg.backends = append(cg.backends, b)
		}
		t.gens[g.Generation] = cg
		return cg
	}
	if src != nil {
		if src.Active != nil {
			t.active = add(src.Active)
		}
		for _, g := range src.Detached {
			add(g)
		}
		if src.Canary != nil {
			t.canary = newCanary(add(src.Canary), src.CanaryShare)
		}
	}
	for _, b := range old {
		b.pool.close()
	}
	return t
}

func (p *Proxy) newBackend(gen int, in fleet.Endpoint, stats *genStats) *backend {
	b := &backend{gen: gen, inst: in.Instance, network: in.Network, address: in.Address, stats: stats}
	b.pool.network, b.pool.address = in.Network, in.Address
	return b
}
