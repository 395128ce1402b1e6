package main

import (
	"encoding/json"
	"io"
	"time"

	"github.com/gatewayd/gateway/dbusapi"
)

// The JSON that --json prints. It is an interface: scripts parse it, and
// the admin console will serve statusDoc at /api/status, so fields are
// only ever added. Names are the API's in snake_case, times RFC 3339 in
// UTC or null when not set, durations in seconds. Nothing here depends on
// the CLI: statusJSON and its types can move into dbusapi as they are.

// statusDoc is `gatewayctl status --json`.
type statusDoc struct {
	App              string          `json:"app"`
	Version          string          `json:"version"`
	ActiveGeneration uint32          `json:"active_generation"` // 0: none active yet
	Revision         string          `json:"revision"`          // of the active generation
	Sessions         uint32          `json:"sessions"`          // pinned, in all generations
	Generations      []generationDoc `json:"generations"`       // oldest first, never null
}

// generationDoc is one dbusapi.Generation; `gatewayctl generations --json`
// prints an array of them.
type generationDoc struct {
	ID       uint32     `json:"id"`
	State    string     `json:"state"`
	Revision string     `json:"revision"`
	Unit     string     `json:"unit"` // "" without systemd
	PIDs     []uint32   `json:"pids"` // never null
	Sessions uint32     `json:"sessions"`
	InFlight uint32     `json:"in_flight"`
	Upgraded uint32     `json:"upgraded"` // open upgraded (WebSocket) connections
	Started  *time.Time `json:"started"`
	Detached *time.Time `json:"detached"` // null: not detached
	Deadline *time.Time `json:"deadline"` // null: the drain has no limit
}

// sessionDoc is one dbusapi.Session; `gatewayctl sessions --json` prints
// an array of them.
type sessionDoc struct {
	Hash        string `json:"hash"`
	Generation  uint32 `json:"generation"`
	Instance    uint32 `json:"instance"`
	IdleSeconds uint32 `json:"idle_seconds"`
}

// statusJSON is the status document from what the API reports: its
// identity from the properties, everything else from the one snapshot of
// ListGenerations (the properties follow session counts only every second
// or so, and must not disagree with the generations listed).
func statusJSON(props dbusapi.Properties, gens []dbusapi.Generation) statusDoc {
	sum := summarize(gens)
	return statusDoc{
		App:              props.App,
		Version:          props.Version,
		ActiveGeneration: sum.active,
		Revision:         sum.revision,
		Sessions:         sum.sessions,
		Generations:      generationsJSON(gens),
	}
}

type summary struct {
	active   uint32
	revision string
	sessions uint32
}

func summarize(gens []dbusapi.Generation) summary {
	var s summary
	for _, g := range gens {
		s.sessions += g.Sessions
		if g.State == "active" {
			s.active, s.revision = g.ID, g.Revision
		}
	}
	return s
}

func generationsJSON(gens []dbusapi.Generation) []generationDoc {
	docs := make([]generationDoc, 0, len(gens))
	for _, g := range gens {
		pids := g.PIDs
		if pids == nil {
			pids = []uint32{}
		}
		docs = append(docs, generationDoc{
			ID:       g.ID,
			State:    g.State,
			Revision: g.Revision,
			Unit:     g.Unit,
			PIDs:     pids,
			Sessions: g.Sessions,
			InFlight: g.InFlight,
			Upgraded: g.Upgraded,
			Started:  usecTime(g.StartedUSec),
			Detached: usecTime(g.DetachedUSec),
			Deadline: usecTime(g.DeadlineUSec),
		})
	}
	return docs
}

func sessionsJSON(ss []dbusapi.Session) []sessionDoc {
	docs := make([]sessionDoc, 0, len(ss))
	for _, s := range ss {
		docs = append(docs, sessionDoc{Hash: s.Hash, Generation: s.Generation, Instance: s.Instance, IdleSeconds: s.IdleSeconds})
	}
	return docs
}

// usecTime reads the API's Unix microseconds; 0 means not set (nil).
func usecTime(usec uint64) *time.Time {
	if usec == 0 {
		return nil
	}
	t := time.UnixMicro(int64(usec)).UTC()
	return &t
}

// writeJSON prints v indented, for people reading it as much as for jq.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
