package fleet

import (
	"encoding/json"
	"time"
)

// Status is the status document: what `gatewayctl status --json` prints
// and the admin console serves at /api/status. Names are snake_case, times
// RFC 3339 in UTC or null when not set.
type Status struct {
	App              string       `json:"app"`
	Version          string       `json:"version"`
	ActiveGeneration int          `json:"active_generation"` // 0: none active yet
	Revision         string       `json:"revision"`          // of the active generation
	Sessions         int          `json:"sessions"`          // pinned, in all generations
	Generations      []Generation `json:"generations"`       // oldest first, never null
	PinStore         *PinStore    `json:"pin_store"`         // null: not reported
	Listeners        []Listener   `json:"listeners"`         // null: not reported
}

// NewStatus is the status document from one snapshot of the generations:
// the active generation, its revision and the session count are taken from
// gens, so that they never disagree with the generations listed. The
// document holds what the D-Bus API carries, so that both fronts print the
// same: a generation's directory and instances are left out.
func NewStatus(app, version string, gens []Generation, ps PinStore) Status {
	st := Status{App: app, Version: version, Generations: make([]Generation, 0, len(gens))}
	for _, g := range gens {
		st.Sessions += g.Sessions
		if g.State == Active {
			st.ActiveGeneration, st.Revision = g.ID, g.Revision
		}
		g.Directory, g.Instances = "", nil
		st.Generations = append(st.Generations, g)
	}
	if ps.Path != "" {
		st.PinStore = &ps
	}
	return st
}

// PinStore is the health of the pin store (proxy/pinstore).
type PinStore struct {
	Path          string
	Bytes         int64
	LastWrite     time.Time // zero: nothing written yet
	Error         string    // "" unless the last write failed
	WriteFailures int64
}

// generationJSON is Generation in the status document (and the state
// file, which adds directory and instances).
type generationJSON struct {
	ID        int        `json:"id"`
	State     State      `json:"state"`
	Revision  string     `json:"revision"`
	Directory string     `json:"directory,omitempty"`
	Unit      string     `json:"unit"` // "" without systemd
	PIDs      []int      `json:"pids"` // never null
	Usage                // sessions, in_flight, upgraded
	Started   *time.Time `json:"started"`
	Detached  *time.Time `json:"detached"` // null: not detached
	Deadline  *time.Time `json:"deadline"` // null: the drain has no limit
	Instances []Instance `json:"instances,omitempty"`
	Trial     *Trial     `json:"trial,omitempty"` // the canary's
}

func (g Generation) MarshalJSON() ([]byte, error) {
	pids := g.PIDs
	if pids == nil {
		pids = []int{}
	}
	return json.Marshal(generationJSON{ID: g.ID, State: g.State, Revision: g.Revision, Directory: g.Directory,
		Unit: g.Unit, PIDs: pids, Usage: g.Usage, Started: orNull(g.Started), Detached: orNull(g.Detached),
		Deadline: orNull(g.Deadline), Instances: g.Instances, Trial: g.Trial})
}

func (g *Generation) UnmarshalJSON(b []byte) error {
	var j generationJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*g = Generation{ID: j.ID, State: j.State, Revision: j.Revision, Directory: j.Directory, Unit: j.Unit,
		PIDs: j.PIDs, Usage: j.Usage, Started: orZero(j.Started), Detached: orZero(j.Detached),
		Deadline: orZero(j.Deadline), Instances: j.Instances, Trial: j.Trial}
	return nil
}

func (p PinStore) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Path          string     `json:"path"`
		Bytes         int64      `json:"bytes"`
		LastWrite     *time.Time `json:"last_write"` // null: nothing written yet
		Error         string     `json:"error"`
		WriteFailures int64      `json:"write_failures"`
	}{p.Path, p.Bytes, orNull(p.LastWrite), p.Error, p.WriteFailures})
}

// MarshalJSON is one session of `gatewayctl sessions --json`; idle_seconds
// is taken when written.
func (p Pin) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Hash        SessionKey `json:"hash"`
		Generation  int        `json:"generation"`
		Instance    int        `json:"instance"`
		IdleSeconds int64      `json:"idle_seconds"`
	}{p.Key, p.Generation, p.Instance, int64(p.Idle(time.Now()) / time.Second)})
}

func orNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
