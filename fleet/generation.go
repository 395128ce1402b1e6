package fleet

import "time"

// State is where a generation is in its lifecycle (docs/design.md,
// "Generation lifecycle").
type State string

const (
	Starting State = "starting"
	Active   State = "active"
	Canary   State = "canary" // on trial beside the active one: a share of new sessions
	Detached State = "detached"
	Retiring State = "retiring"
	Retired  State = "retired"
	Failed   State = "failed"
	Lost     State = "lost"
)

// Listed are the states a generation is listed in; it leaves the list
// once retired, failed or lost.
var Listed = []State{Starting, Active, Canary, Detached, Retiring}

// MaxGeneration is the highest generation number: numbers travel as 32-bit
// unsigned integers (the affinity cookie, D-Bus) and as ints everywhere, so
// they stay within both.
const MaxGeneration = 1<<31 - 1

// Generation is one started revision of the app as admin tools see it.
type Generation struct {
	ID        int
	State     State
	Revision  string
	Directory string // the resolved release directory
	Unit      string // the runner's unit (a scope), "" without systemd
	PIDs      []int
	Usage
	Started   time.Time
	Detached  time.Time // zero: not detached
	Deadline  time.Time // zero: the drain has no limit
	Instances []Instance
	Trial     *Trial // the canary's trial; nil for every other generation
}

// Instance is one worker slot of a generation.
type Instance struct {
	Index   int    `json:"instance"`
	PID     int    `json:"pid"` // 0 while no worker runs in it
	Ready   bool   `json:"ready"`
	Network string `json:"network"` // "tcp" or "unix"
	Address string `json:"address"` // host:port, or a socket path
	Crashes int    `json:"crashes"`
}

// Usage is what keeps a generation alive.
type Usage struct {
	Sessions int `json:"sessions"`  // pinned
	InFlight int `json:"in_flight"` // requests being answered
	Upgraded int `json:"upgraded"`  // open upgraded (WebSocket) connections
}

// Idle reports whether nothing keeps the generation alive.
func (u Usage) Idle() bool { return u.Sessions == 0 && u.InFlight == 0 && u.Upgraded == 0 }
