package systemd

import (
	"context"
	"os"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// KeepWorkers reports whether the gateway's own unit is being restarted
// (`systemctl restart`, or a package upgrade doing so): then the scopes
// stay for the next gateway process. On a plain stop, or outside a unit,
// they are stopped with the gateway.
func (r *Runner) KeepWorkers(ctx context.Context) bool {
	var jobType string
	err := r.bus.call(ctx, func(c *sd.Conn) error {
		unit, err := c.GetUnitNameByPID(ctx, uint32(os.Getpid()))
		if err != nil {
			return err
		}
		p, err := c.GetUnitPropertyContext(ctx, unit, "Job")
		if err != nil {
			return err
		}
		job, ok := p.Value.Value().([]any)
		if !ok || len(job) != 2 {
			return nil
		}
		path, _ := job[1].(dbus.ObjectPath)
		if path == "" || path == "/" {
			return nil
		}
		var v dbus.Variant
		err = r.signals.Object("org.freedesktop.systemd1", path).CallWithContext(ctx,
			"org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.systemd1.Job", "JobType").Store(&v)
		if err != nil {
			return err
		}
		jobType, _ = v.Value().(string)
		return nil
	})
	if err != nil {
		r.log.Warn("cannot tell a restart from a stop; stopping the generations", "error", err)
		return false
	}
	switch jobType {
	case "restart", "try-restart", "reload-or-restart", "reload-or-try-restart":
		return true
	}
	return false
}
