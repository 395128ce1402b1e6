package systemd

import (
	"context"
	"fmt"
	"sync"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/gatewayd/gateway/supervisor"
)

// scope is what the runner knows of one generation's unit.
type scope struct {
	mu       sync.Mutex // serialises creating and attaching
	name     string
	created  bool
	stopping bool
	workers  []supervisor.Worker
}

// UnitName is the scope of generation gen.
func (r *Runner) UnitName(gen int) string { return r.scopeName(gen) }

func (r *Runner) scopeName(gen int) string {
	return fmt.Sprintf("%s-gen%d.scope", r.o.UnitPrefix, gen)
}

func unitPath(name string) dbus.ObjectPath {
	return dbus.ObjectPath("/org/freedesktop/systemd1/unit/" + sd.PathBusEscape(name))
}

// scope returns the runner's record of gen's unit, creating it.
func (r *Runner) scope(gen int) *scope {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.gens[gen]
	if s == nil {
		s = &scope{name: r.scopeName(gen)}
		r.gens[gen] = s
		r.paths[unitPath(s.name)] = gen
	}
	return s
}

func (r *Runner) track(gen int, w supervisor.Worker) {
	s := r.scope(gen)
	s.mu.Lock()
	s.workers = append(s.workers, w)
	s.mu.Unlock()
}

// place puts pid into the generation's scope: the first worker creates it,
// the others join it. A scope that emptied and was collected (every worker
// crashed) is created again.
func (r *Runner) place(ctx context.Context, spec supervisor.WorkerSpec, pid int) error {
	s := r.scope(spec.Generation)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.created {
		err := r.bus.call(ctx, func(c *sd.Conn) error {
			return c.AttachProcessesToUnit(ctx, s.name, "", []uint32{uint32(pid)})
		})
		if err == nil {
			return nil
		}
		if n := dbusErrorName(err); n != "org.freedesktop.systemd1.NoSuchUnit" && n != "org.freedesktop.DBus.Error.UnknownObject" {
			return fmt.Errorf("adding pid %d to %s: %w", pid, s.name, err)
		}
	}
	if err := r.startScope(ctx, s.name, r.properties(spec, pid)); err != nil {
		return err
	}
	s.created = true
	return nil
}

// startScope creates the scope and waits for its job: anything but "done"
// is a failure, after which the failed unit is reset so that the name can
// be used again.
func (r *Runner) startScope(ctx context.Context, name string, props []sd.Property) error {
	ch := make(chan string, 1)
	err := r.bus.call(ctx, func(c *sd.Conn) error {
		_, err := c.StartTransientUnitContext(ctx, name, "fail", props, ch)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	select {
	case res := <-ch:
		if res == "done" {
			return nil
		}
		r.bus.call(ctx, func(c *sd.Conn) error { return c.ResetFailedUnitContext(ctx, name) })
		return fmt.Errorf("creating %s: job %s", name, res)
	case <-ctx.Done():
		return fmt.Errorf("creating %s: %w", name, ctx.Err())
	}
}

// properties of a new scope; systemd kills what is left after
// spec.UnitStopTimeout.
func (r *Runner) properties(spec supervisor.WorkerSpec, pid int) []sd.Property {
	props := []sd.Property{
		sd.PropDescription(fmt.Sprintf("gateway: %s generation %d (revision %s)", spec.App, spec.Generation, spec.Revision)),
		sd.PropSlice(r.o.Slice),
		sd.PropPids(uint32(pid)),
		{Name: "CollectMode", Value: dbus.MakeVariant("inactive-or-failed")},
		{Name: "TimeoutStopUSec", Value: dbus.MakeVariant(uint64(spec.UnitStopTimeout.Microseconds()))},
		{Name: "Controller", Value: dbus.MakeVariant(r.controller)},
		// systemd moves processes into an existing unit
		// (AttachProcessesToUnit, for a generation's later workers and
		// for replacements) only if the unit is delegated.
		{Name: "Delegate", Value: dbus.MakeVariant(true)},
	}
	lim := spec.Limits
	if lim.MemoryMax > 0 {
		props = append(props, sd.Property{Name: "MemoryMax", Value: dbus.MakeVariant(lim.MemoryMax)})
	}
	if lim.CPUQuotaPerSecUSec > 0 {
		props = append(props, sd.Property{Name: "CPUQuotaPerSecUSec", Value: dbus.MakeVariant(lim.CPUQuotaPerSecUSec)})
	}
	if lim.TasksMax > 0 {
		props = append(props, sd.Property{Name: "TasksMax", Value: dbus.MakeVariant(lim.TasksMax)})
	}
	return props
}
