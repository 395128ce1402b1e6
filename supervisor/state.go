package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// stateFile is what survives a restart of the gateway, in the runtime
// directory: the generations, so that a runner that can re-adopt workers
// (the systemd one) finds them. It is written when generations change, never
// because sessions did: the pins have a store of their own
// (proxy/pinstore). Versions 1 and 2 are read too (state_legacy.go).
type stateFile struct {
	Version        int                `json:"version"`
	App            string             `json:"app"`
	Saved          time.Time          `json:"saved"`
	NextGeneration int                `json:"next_generation"`
	Generations    []fleet.Generation `json:"generations"` // each instance with a running worker
	Pins           []fleet.Pin        `json:"-"`           // from a version 1 file
}

const stateVersion = 3

// maxInstance is the highest instance index a state file may name (the
// affinity cookie carries 16 bits of it).
const maxInstance = 1<<16 - 1

// statePath is in the runtime directory the gateway started with, and named
// after the app as it started: an upgrade changes neither.
func (s *Supervisor) statePath() string {
	c := s.o.Config
	return filepath.Join(c.Gateway.RuntimeDirectory, c.App.Name+".state.json")
}

// save writes the state atomically: a reader (or the next gateway) sees the
// old file or the new one, never half of one.
func (s *Supervisor) save() {
	s.changed()
	st := stateFile{Version: stateVersion, App: s.cfg.App.Name, Saved: time.Now(), NextGeneration: s.nextID}
	for _, g := range s.sorted() {
		if !g.serving() && g.state != fleet.Starting {
			continue // a starting one is saved so that its unit is stopped after a crash
		}
		sg := g.info(fleet.Usage{}, "")
		sg.Instances = slices.DeleteFunc(sg.Instances, func(in fleet.Instance) bool { return in.PID == 0 })
		st.Generations = append(st.Generations, sg)
	}
	if err := writeJSON(s.statePath(), st); err != nil {
		s.log.Error("saving the state failed; a restart would not find the generations", "path", s.statePath(), "error", err)
		return
	}
	s.dirty, s.lastSave = false, time.Now()
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// restore reads the previous run's state. Generation numbers continue from
// it. The plain-process runner cannot re-adopt workers (they end with the
// previous gateway; any still running are stopped), so their generations
// and sessions are reported lost; so are pins (loaded by the pin store
// before Run) of workers not re-adopted.
func (s *Supervisor) restore() {
	if err := os.MkdirAll(s.cfg.Gateway.RuntimeDirectory, 0o755); err != nil {
		s.log.Error("creating the runtime directory failed", "path", s.cfg.Gateway.RuntimeDirectory, "error", err)
	}
	st, err := readState(s.statePath(), s.cfg.App.Name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		st = &stateFile{}
	case err != nil:
		aside, aerr := SetAside(s.statePath())
		s.log.Error("refusing the state file; starting without the previous run's generations", "event", "state-refused",
			"path", s.statePath(), "error", err, "moved_to", aside, "move_error", aerr)
		st = &stateFile{}
	}
	s.nextID = max(s.nextID, st.NextGeneration)
	for _, g := range st.Generations {
		s.nextID = max(s.nextID, g.ID+1)
	}
	adopted := s.adopt(st)
	s.stopLeftovers(st, adopted)
	s.removeStaleSockets(adopted)
	if len(st.Pins) > 0 {
		s.o.Traffic.RestorePins(st.Pins)
	}
	lost := s.o.Traffic.KeepPins(func(gen, inst int) bool {
		g := adopted[gen]
		if g == nil {
			return false
		}
		in := g.instance(inst)
		return in != nil && in.worker != nil
	})
	s.holdRecent(adopted)
	const gone = "a generation of the previous gateway process is gone; its sessions are lost"
	for _, g := range st.Generations {
		if adopted[g.ID] == nil {
			s.log.Warn(gone, "event", "session-lost", "generation", g.ID, "revision", g.Revision, "sessions_lost", lost[g.ID])
		}
	}
	for gen, n := range lost {
		if !slices.ContainsFunc(st.Generations, func(g fleet.Generation) bool { return g.ID == gen }) {
			// Stopped with the previous gateway (the process runner's
			// workers do), yet its pins were kept: say so all the same.
			s.log.Warn(gone, "event", "session-lost", "generation", gen, "sessions_lost", n)
		}
		s.sessionsLost(gen, LostRestart, n)
	}
	if len(adopted) > 0 {
		sessions := 0
		for id := range adopted {
			sessions += s.o.Traffic.Usage(id).Sessions
		}
		s.log.Info("re-adopted the generations of the previous gateway process", "event", "adopted",
			"generations", len(adopted), "sessions", sessions)
		s.publish()
		s.dirty = true
	}
}

// SetAside renames a file the gateway refuses to use to path.refused, so
// that it is neither read nor overwritten, and returns the new name.
func SetAside(path string) (string, error) {
	aside := path + ".refused"
	return aside, os.Rename(path, aside)
}

// adopt takes over the generations of a previous gateway process whose
// workers still run (only runners that outlive the gateway can have any).
// An active generation with a dead worker gets that worker replaced.
func (s *Supervisor) adopt(st *stateFile) map[int]*generation {
	adopted := map[int]*generation{}
	a := s.o.Runner.Manager()
	if a == nil {
		return adopted
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	for _, sg := range st.Generations {
		g := s.adoptOne(ctx, a, sg)
		if g == nil {
			continue
		}
		adopted[g.id] = g
		s.gens[g.id] = g
		if g.state == fleet.Active && (s.active == nil || g.id > s.active.id) {
			s.active = g
		}
	}
	for _, g := range adopted {
		if g.state == fleet.Active && g != s.active {
			s.detach(g) // two active in a broken state file: the newest wins
		}
		for _, in := range g.instances {
			switch {
			case in.worker != nil:
				s.watch(g, in)
			case g == s.active:
				s.replace(g, in, 0)
			}
		}
	}
	// Generations of the state file that were not adopted are accounted
	// for too: stopLeftovers stops what is left of them.
	ids := make([]int, 0, len(st.Generations))
	for _, sg := range st.Generations {
		ids = append(ids, sg.ID)
	}
	strays, err := a.Strays(ctx, ids)
	if err != nil {
		s.log.Warn("listing the app's units failed", "error", err)
	}
	for _, u := range strays {
		s.log.Warn("found a unit of this app that the state file does not account for; leaving it alone", "event", "stray", "unit", u)
	}
	return adopted
}

func (s *Supervisor) adoptOne(ctx context.Context, a Manager, sg fleet.Generation) *generation {
	pids := make([]int, len(sg.Instances))
	for i, w := range sg.Instances {
		pids[i] = w.PID
	}
	workers, err := a.Adopt(ctx, sg.ID, pids)
	if err != nil {
		s.log.Error("re-adopting a generation failed", "generation", sg.ID, "error", err)
		return nil
	}
	if len(workers) == 0 || (sg.State != fleet.Active && sg.State != fleet.Canary && sg.State != fleet.Detached) {
		return nil
	}
	byPID := map[int]Worker{}
	for _, w := range workers {
		byPID[w.PID()] = w
	}
	g := &generation{id: sg.ID, revision: sg.Revision, dir: sg.Directory, cfg: s.cfg, state: sg.State,
		started: sg.Started, detached: sg.Detached, deadline: sg.Deadline}
	if g.state == fleet.Canary {
		// Its share was the previous process's and is not saved: the trial
		// ends, and the canary drains with the sessions it has.
		g.state, g.detached = fleet.Detached, time.Now()
	}
	for _, w := range sg.Instances {
		in := &instance{index: w.Index, network: w.Network, address: w.Address, worker: byPID[w.PID]}
		in.ready = in.worker != nil
		if in.network == "unix" {
			in.socket = in.address
		}
		g.instances = append(g.instances, in)
	}
	s.genLog(g).Info("re-adopted generation", "event", "adopted", "state", g.state, "workers", len(workers))
	return g
}

// readState reads and checks a state file. A file of another app, of an
// unknown version, or naming numbers out of range is refused: merging it
// would route sessions to workers that are not this app's.
func readState(path, app string) (*stateFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	var st *stateFile
	switch head.Version {
	case stateVersion:
		st = &stateFile{}
		err = json.Unmarshal(data, st)
	case 1, 2:
		st, err = readLegacyState(data)
	default:
		return nil, fmt.Errorf("%s: state version %d, this gateway reads versions 1 to %d", path, head.Version, stateVersion)
	}
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	if st.App != app {
		return nil, fmt.Errorf("%s: the state of app %q, and this gateway runs app %q", path, st.App, app)
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

func (st *stateFile) check() error {
	if st.NextGeneration < 0 || st.NextGeneration > fleet.MaxGeneration+1 {
		return fmt.Errorf("next_generation %d is out of range (0 to %d)", st.NextGeneration, fleet.MaxGeneration+1)
	}
	for _, g := range st.Generations {
		if g.ID < 1 || g.ID > fleet.MaxGeneration {
			return fmt.Errorf("generation %d is out of range (1 to %d)", g.ID, fleet.MaxGeneration)
		}
		for _, w := range g.Instances {
			if w.Index < 1 || w.Index > maxInstance || w.PID < 1 {
				return fmt.Errorf("generation %d: instance %d (pid %d) is out of range", g.ID, w.Index, w.PID)
			}
		}
	}
	for _, p := range st.Pins {
		if p.Generation < 1 || p.Generation > fleet.MaxGeneration || p.Instance < 1 || p.Instance > maxInstance {
			return fmt.Errorf("a pin names generation %d instance %d, out of range", p.Generation, p.Instance)
		}
	}
	return nil
}

// holdRecent keeps a re-adopted generation that came back detached with no
// known session, and was detached after the pins were last written (or
// while the state said active), for sessions.idle_timeout: the pin store
// writes every 250 ms, so a gateway killed moments after an upgrade loses
// the pins of the sessions made in its last moments on the generation it
// had just detached, and would retire it at once as empty. Their affinity
// cookies bring them back to it; a session not back within the idle
// timeout has expired anyway. (A generation that came back with known
// sessions retires when they end, like any other.)
func (s *Supervisor) holdRecent(adopted map[int]*generation) {
	for _, g := range adopted {
		if g.state != fleet.Detached || !s.o.Traffic.Usage(g.id).Idle() || g.detached.Before(s.o.PinsWritten.Add(-time.Second)) {
			continue
		}
		g.hold = time.Now().Add(s.cfg.Sessions.IdleTimeout.Duration)
		s.genLog(g).Info("keeping the re-adopted generation for the sessions idle timeout: it was active after the pins were last written, and sessions made then come back by their affinity cookies",
			"event", "held", "until", g.hold)
	}
}
