package systemd

import (
	"context"
	"os"

	sd "github.com/coreos/go-systemd/v22/dbus"
)

// KeepWorkers reports whether the gateway's own unit is being restarted
// (`systemctl restart`, or a package upgrade doing so): then the scopes
// stay for the next gateway process. On a plain stop, or outside a unit,
// they are stopped with the gateway.
func (r *Runner) KeepWorkers(ctx context.Context) bool {
	var jobType string
	// On the manager's connection alone (ListJobs carries the type), which
	// call redials when it broke: a wrong answer here stops every
	// generation, and with them every session.
	err := r.bus.call(ctx, func(c *sd.Conn) error {
		unit, err := c.GetUnitNameByPID(ctx, uint32(os.Getpid()))
		if err != nil {
			return err
		}
		jobs, err := c.ListJobsContext(ctx)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if j.Unit == unit {
				jobType = j.JobType
			}
		}
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
