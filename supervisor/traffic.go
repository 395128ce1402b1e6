package supervisor

import (
	"context"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// Traffic is what the supervisor needs of the proxy: where to send requests,
// and what still keeps a generation alive.
type Traffic interface {
	// Publish replaces the generations that may receive requests.
	Publish(*fleet.Routes)
	Usage(gen int) fleet.Usage
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
	RestorePins([]fleet.Pin) int
	// KeepPins ends the pins of workers alive says are gone and returns how
	// many it ended per generation.
	KeepPins(alive func(gen, inst int) bool) map[int]int
	// SessionsChanged signals that sessions started or ended: a detached
	// generation may have lost its last one, and the counts OnChange
	// announces changed (announced at most once a second).
	SessionsChanged() <-chan struct{}
	// RequestsDone signals that a request to a generation other than the
	// active one ended: it may have been the last thing keeping it.
	RequestsDone() <-chan struct{}
}
