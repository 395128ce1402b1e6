package systemd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	sd "github.com/coreos/go-systemd/v22/dbus"

	"github.com/gatewayd/gateway/supervisor"
)

// Adopt returns the workers among pids that still run in gen's scope.
func (r *Runner) Adopt(ctx context.Context, gen int, pids []int) ([]supervisor.Worker, error) {
	name := r.scopeName(gen)
	var props map[string]any
	err := r.bus.call(ctx, func(c *sd.Conn) (err error) {
		props, err = c.GetUnitPropertiesContext(ctx, name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if props["LoadState"] != "loaded" || props["ActiveState"] != "active" {
		r.log.Debug("not adopting: the scope is not running", "unit", name,
			"load_state", props["LoadState"], "active_state", props["ActiveState"])
		return nil, nil
	}
	cg, err := r.controlGroup(ctx, name)
	if err != nil {
		return nil, err
	}
	inScope, err := cgroupPIDs(cg)
	if err != nil {
		return nil, fmt.Errorf("listing the processes of %s: %w", name, err)
	}
	r.log.Debug("adopting", "unit", name, "control_group", cg, "in_scope", inScope, "saved", pids)
	s := r.scope(gen)
	s.mu.Lock()
	s.created = true
	s.mu.Unlock()
	var out []supervisor.Worker
	for _, pid := range pids {
		if !slices.Contains(inScope, pid) {
			continue
		}
		w, err := adoptPID(pid, name, r.o.User)
		if err != nil {
			continue // exited in between
		}
		r.track(gen, w)
		out = append(out, w)
	}
	return out, nil
}

// controlGroup reads a scope's control group (a property of the Scope
// interface, not of Unit).
func (r *Runner) controlGroup(ctx context.Context, name string) (string, error) {
	var p *sd.Property
	err := r.bus.call(ctx, func(c *sd.Conn) (err error) {
		p, err = c.GetUnitTypePropertyContext(ctx, name, "Scope", "ControlGroup")
		return err
	})
	if err != nil {
		return "", fmt.Errorf("reading the control group of %s: %w", name, err)
	}
	cg, _ := p.Value.Value().(string)
	if cg == "" || cg == "/" {
		return "", fmt.Errorf("%s has no control group of its own (%q)", name, cg)
	}
	return cg, nil
}

// cgroupPIDs reads the processes of a unit's control group, in whichever
// hierarchy holds systemd's tree (cgroup v2, or the hybrid layout's
// name=systemd and unified trees).
func cgroupPIDs(cg string) ([]int, error) {
	var lastErr error
	for _, root := range []string{"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		f, err := os.Open(filepath.Join(root, cg, "cgroup.procs"))
		if err != nil {
			lastErr = err
			continue
		}
		defer f.Close()
		var pids []int
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if pid, err := strconv.Atoi(sc.Text()); err == nil {
				pids = append(pids, pid)
			}
		}
		return pids, sc.Err()
	}
	return nil, lastErr
}

// Strays lists running scopes of this gateway that belong to none of gens.
func (r *Runner) Strays(ctx context.Context, gens []int) ([]string, error) {
	var units []sd.UnitStatus
	err := r.bus.call(ctx, func(c *sd.Conn) (err error) {
		units, err = c.ListUnitsByPatternsContext(ctx, []string{"active", "activating", "deactivating"},
			[]string{r.o.UnitPrefix + "-gen*.scope"})
		return err
	})
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, g := range gens {
		known[r.scopeName(g)] = true
	}
	var out []string
	for _, u := range units {
		if !known[u.Name] {
			out = append(out, u.Name)
		}
	}
	return out, nil
}
