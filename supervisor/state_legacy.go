package supervisor

import (
	"encoding/json"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// The state files of earlier gateways: version 2 (generations) and
// version 1 (generations and pins). A gateway upgraded by its package
// restarts on the file its predecessor wrote, and must re-adopt what it
// names; the next save writes the current version.

type legacyState struct {
	App            string      `json:"app"`
	NextGeneration int         `json:"next_generation"`
	Generations    []legacyGen `json:"generations"`
	Pins           []legacyPin `json:"pins"` // version 1 only
}

type legacyGen struct {
	ID        int         `json:"id"`
	State     fleet.State `json:"state"`
	Revision  string      `json:"revision"`
	Directory string      `json:"directory"`
	Started   time.Time   `json:"started"`
	Detached  time.Time   `json:"detached"`
	Deadline  time.Time   `json:"drain_deadline"`
	Instances []struct {
		Index   int    `json:"index"`
		PID     int    `json:"pid"`
		Network string `json:"network"`
		Address string `json:"address"`
	} `json:"instances"`
}

type legacyPin struct {
	Session    string    `json:"session"` // the keyed hash, never the id
	Generation int       `json:"generation"`
	Instance   int       `json:"instance"`
	LastSeen   time.Time `json:"last_seen"`
}

func readLegacyState(data []byte) (*stateFile, error) {
	var old legacyState
	if err := json.Unmarshal(data, &old); err != nil {
		return nil, err
	}
	st := &stateFile{Version: stateVersion, App: old.App, NextGeneration: old.NextGeneration}
	for _, g := range old.Generations {
		fg := fleet.Generation{ID: g.ID, State: g.State, Revision: g.Revision, Directory: g.Directory,
			Started: g.Started, Detached: g.Detached, Deadline: g.Deadline}
		for _, in := range g.Instances {
			fg.Instances = append(fg.Instances, fleet.Instance{Index: in.Index, PID: in.PID, Network: in.Network, Address: in.Address})
		}
		st.Generations = append(st.Generations, fg)
	}
	for _, p := range old.Pins {
		// A pin the proxy could not have written is dropped, not refused.
		if k, err := fleet.ParseSessionKey(p.Session); err == nil {
			st.Pins = append(st.Pins, fleet.Pin{Key: k, Generation: p.Generation, Instance: p.Instance, LastSeen: p.LastSeen})
		}
	}
	return st, nil
}
