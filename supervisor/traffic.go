package supervisor

import (
	"context"
	"time"
)

// Traffic is what the supervisor needs of the proxy: where to send requests,
// and what still keeps a generation alive.
type Traffic interface {
	// Publish replaces the generations that may receive requests.
	Publish(Routing)
	Usage(gen int) Usage
	// DropGeneration and DropInstance end the pins of workers that are gone
	// and return how many sessions were lost.
	DropGeneration(gen int) int
	DropInstance(gen, inst int) int
	// Forget releases what the proxy keeps about a retired generation.
	Forget(gen int)
	// CloseHeld closes the generation's upgraded connections spread over
	// window and returns how many it closed.
	CloseHeld(ctx context.Context, gen int, window time.Duration) int
	// RestorePins adds the pins a version 1 state file held.
	RestorePins([]Pin) int
	// KeepPins ends the pins of workers alive says are gone and returns how
	// many it ended per generation.
	KeepPins(alive func(gen, inst int) bool) map[int]int
}

// Usage is what keeps a generation alive.
type Usage struct {
	Sessions, InFlight, Upgraded int
}

// Idle reports whether nothing keeps the generation alive.
func (u Usage) Idle() bool { return u.Sessions == 0 && u.InFlight == 0 && u.Upgraded == 0 }

// Routing lists the generations that may receive requests.
type Routing struct {
	Active   *Route // nil while none is ready
	Detached []*Route
}

// Route is one generation's ready instances.
type Route struct {
	Generation int
	Revision   string
	Instances  []Endpoint
}

// Endpoint is where one worker instance listens.
type Endpoint struct {
	Instance int
	Network  string // "tcp" or "unix"
	Address  string
}

// Pin is a session pinned to a generation, as version 1 state files held it.
type Pin struct {
	Session    string    `json:"session"` // the keyed hash, never the id
	Generation int       `json:"generation"`
	Instance   int       `json:"instance"`
	LastSeen   time.Time `json:"last_seen"`
}
