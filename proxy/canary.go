package proxy

import (
	"math"
	"math/rand/v2"

	"github.com/gatewayd/gateway/proxy/internal/h1"
)

// canary is a generation on trial (fleet.Routes.Canary) as routing uses
// it. The share is kept as a threshold for one random draw, so that the
// choice costs a request no float arithmetic and no allocation.
type canary struct {
	gen *compiledGen // nil: no canary
	cut uint64       // a draw below it goes to the canary
	all bool         // share 1: every new session does
}

func newCanary(g *compiledGen, share float64) canary {
	c := canary{gen: g}
	switch {
	case share >= 1:
		c.all = true
	case share > 0: // below 1, share·2⁶⁴ is exact and fits
		c.cut = uint64(math.Ldexp(share, 64))
	}
	return c
}

// draw decides, independently for each new session, whether it goes to
// the canary: the count that does is then binomial around the share.
func (c *canary) draw() bool { return c.all || rand.Uint64() < c.cut }

// pickNew is where a request that belongs to no session yet goes. A canary
// without a ready worker sends its share to the active generation rather
// than answering 503: a trial must not cost users their login.
func (t *table) pickNew(optIn bool) *backend {
	if c := &t.canary; c.gen != nil && (optIn || c.draw()) {
		if b := c.gen.pick(); b != nil {
			return b
		}
	}
	if t.active == nil {
		return nil
	}
	return t.active.pick()
}

// canaryAsked reports whether the request asks for the canary
// (X-Gateway-Canary: 1), which testers use to reach it whatever the share.
// Callers believe it from a trusted peer only: from anyone else it would
// let every user choose an untried release.
func canaryAsked(fields []h1.Field) bool {
	return string(field(fields, h1.KindGatewayCanary)) == "1"
}
