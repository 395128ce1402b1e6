package supervisor

import (
	"os"
	"time"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/fleet"
)

// generation is owned by the supervisor's loop; the goroutine that starts
// it owns it until it reports back.
type generation struct {
	id        int
	revision  string
	dir       string // the resolved app directory
	cfg       *config.Config
	state     fleet.State
	started   time.Time
	detached  time.Time
	deadline  time.Time // zero: no drain limit
	instances []*instance
	reason    string // why it retired, failed or was lost
	// stopAsked is set when the generation's unit was stopped from outside
	// while it was active: it retires once its replacement is active.
	stopAsked bool
	// forced is set when it retires by force; lossCause is then why its
	// sessions were lost.
	forced    bool
	lossCause LossCause
	// hold keeps a re-adopted detached generation until then even without
	// known sessions: see holdRecent.
	hold time.Time
	// trial: started by UpgradeCanary, it becomes the canary once ready.
	trial bool
}

// serving reports whether the generation is routed and its workers are
// watched: a worker that exits then is a crash, not one the supervisor
// stopped.
func (g *generation) serving() bool {
	return g.state == fleet.Active || g.state == fleet.Canary || g.state == fleet.Detached
}

// instance is one worker slot of a generation; its worker is replaced when
// it crashes in the active generation.
type instance struct {
	index    int
	network  string
	address  string
	socket   string // unix socket path to remove when the worker is gone
	worker   Worker
	ready    bool
	crashes  int
	lastDown time.Time
}

func (g *generation) instance(index int) *instance {
	for _, in := range g.instances {
		if in.index == index {
			return in
		}
	}
	return nil
}

// live reports whether any instance still has a running worker.
func (g *generation) live() bool {
	for _, in := range g.instances {
		if in.worker != nil {
			return true
		}
	}
	return false
}

func (g *generation) route() *fleet.Route {
	r := &fleet.Route{Generation: g.id, Revision: g.revision}
	for _, in := range g.instances {
		if in.ready && in.worker != nil {
			r.Instances = append(r.Instances, fleet.Endpoint{Instance: in.index, Network: in.network, Address: in.address})
		}
	}
	return r
}

func (in *instance) removeSocket() {
	if in.socket != "" {
		os.Remove(in.socket)
	}
}

// info is the generation as admin tools see it; unit names its unit, if
// the runner has units.
func (g *generation) info(u fleet.Usage, unit string) fleet.Generation {
	gi := fleet.Generation{ID: g.id, State: g.state, Revision: g.revision, Directory: g.dir, Unit: unit,
		Started: g.started, Detached: g.detached, Deadline: g.deadline, Usage: u}
	for _, in := range g.instances {
		ii := fleet.Instance{Index: in.index, Ready: in.ready, Network: in.network, Address: in.address, Crashes: in.crashes}
		if in.worker != nil {
			ii.PID = in.worker.PID()
			gi.PIDs = append(gi.PIDs, ii.PID)
		}
		gi.Instances = append(gi.Instances, ii)
	}
	return gi
}
