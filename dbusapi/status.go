package dbusapi

import "time"

// The status document: what `gatewayctl status --json` prints and the admin
// console serves at /api/status. It is an interface: scripts parse it, so
// fields are only ever added. Names are the API's in snake_case, times
// RFC 3339 in UTC or null when not set, durations in seconds.

// Status is `gatewayctl status --json` and the admin console's /api/status.
type Status struct {
	App              string             `json:"app"`
	Version          string             `json:"version"`
	ActiveGeneration uint32             `json:"active_generation"` // 0: none active yet
	Revision         string             `json:"revision"`          // of the active generation
	Sessions         uint32             `json:"sessions"`          // pinned, in all generations
	Generations      []GenerationStatus `json:"generations"`       // oldest first, never null
	PinStore         *PinStoreStatus    `json:"pin_store"`         // null: not reported
}

// PinStoreStatus is the PinStore as the status document shows it.
type PinStoreStatus struct {
	Path          string     `json:"path"`
	Bytes         uint64     `json:"bytes"`
	LastWrite     *time.Time `json:"last_write"` // null: nothing written yet
	Error         string     `json:"error"`      // "" unless the last write failed
	WriteFailures uint64     `json:"write_failures"`
}

// NewPinStoreStatus converts p; a store without a path is not reported (nil).
func NewPinStoreStatus(p PinStore) *PinStoreStatus {
	if p.Path == "" {
		return nil
	}
	return &PinStoreStatus{Path: p.Path, Bytes: p.Bytes, LastWrite: USecTime(p.LastWriteUSec), Error: p.Error, WriteFailures: p.WriteFailures}
}

// GenerationStatus is one Generation as the status document shows it;
// `gatewayctl generations --json` prints an array of them.
type GenerationStatus struct {
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

// SessionStatus is one Session; `gatewayctl sessions --json` prints an
// array of them.
type SessionStatus struct {
	Hash        string `json:"hash"`
	Generation  uint32 `json:"generation"`
	Instance    uint32 `json:"instance"`
	IdleSeconds uint32 `json:"idle_seconds"`
}

// NewStatus is the status document of the gateway info names, from one
// snapshot of its generations: the active generation, its revision and the
// session count are taken from gens (never from properties, which follow
// session counts only every second or so and must not disagree with the
// generations listed).
func NewStatus(info Info, gens []Generation) Status {
	st := Status{App: info.App, Version: info.Version, Generations: GenerationStatuses(gens)}
	for _, g := range gens {
		st.Sessions += g.Sessions
		if g.State == "active" {
			st.ActiveGeneration, st.Revision = g.ID, g.Revision
		}
	}
	return st
}

// GenerationStatuses converts gens, keeping their order; the result is
// never nil.
func GenerationStatuses(gens []Generation) []GenerationStatus {
	out := make([]GenerationStatus, 0, len(gens))
	for _, g := range gens {
		pids := g.PIDs
		if pids == nil {
			pids = []uint32{}
		}
		out = append(out, GenerationStatus{
			ID:       g.ID,
			State:    g.State,
			Revision: g.Revision,
			Unit:     g.Unit,
			PIDs:     pids,
			Sessions: g.Sessions,
			InFlight: g.InFlight,
			Upgraded: g.Upgraded,
			Started:  USecTime(g.StartedUSec),
			Detached: USecTime(g.DetachedUSec),
			Deadline: USecTime(g.DeadlineUSec),
		})
	}
	return out
}

// SessionStatuses converts ss, keeping their order; the result is never nil.
func SessionStatuses(ss []Session) []SessionStatus {
	out := make([]SessionStatus, 0, len(ss))
	for _, s := range ss {
		out = append(out, SessionStatus{Hash: s.Hash, Generation: s.Generation, Instance: s.Instance, IdleSeconds: s.IdleSeconds})
	}
	return out
}

// USecTime reads the API's Unix microseconds as a time in UTC; 0 means
// not set (nil).
func USecTime(usec uint64) *time.Time {
	if usec == 0 {
		return nil
	}
	t := time.UnixMicro(int64(usec)).UTC()
	return &t
}
