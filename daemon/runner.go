package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/dbusapi"
	"github.com/gatewayd/gateway/supervisor"
	"github.com/gatewayd/gateway/supervisor/process"
	"github.com/gatewayd/gateway/supervisor/systemd"
)

// chooseRunner picks how workers run: "process", "systemd", or "auto" —
// systemd when its manager answers, which the log says either way.
func chooseRunner(cfg *config.Config, instance string, conn *dbus.Conn, log *slog.Logger) (supervisor.Runner, func(), error) {
	mode := cfg.Gateway.Runner
	if mode == "process" {
		log.Info("runner: process (workers are child processes of the gateway)", "runner", "process")
		return &process.Runner{}, func() {}, nil
	}
	user := useUserManager(cfg.Systemd.Manager)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := newSystemdRunner(ctx, cfg, instance, user, conn, log)
	if err == nil {
		log.Info("runner: systemd (each generation is a transient scope)", "runner", "systemd",
			"manager", managerName(user), "unit_prefix", unitPrefix(instance), "slice", cfg.Systemd.Slice)
		return r, r.Close, nil
	}
	if mode == "systemd" {
		return nil, nil, fmt.Errorf("gateway.runner = \"systemd\": %w", err)
	}
	log.Info("runner: auto picked process: no systemd manager answered", "runner", "process",
		"manager", managerName(user), "reason", err)
	return &process.Runner{}, func() {}, nil
}

// useUserManager resolves systemd.manager = "auto": a service of a user
// manager has $MANAGERPID, a system service does not.
func useUserManager(manager string) bool {
	switch manager {
	case "user":
		return true
	case "system":
		return false
	}
	return os.Getenv("MANAGERPID") != ""
}

func managerName(user bool) string {
	if user {
		return "user"
	}
	return "system"
}

func newSystemdRunner(ctx context.Context, cfg *config.Config, instance string, user bool, conn *dbus.Conn, log *slog.Logger) (*systemd.Runner, error) {
	if !user {
		// sd_booted(3): the system manager runs only where this exists.
		if _, err := os.Stat("/run/systemd/system"); err != nil {
			return nil, fmt.Errorf("this system was not booted with systemd")
		}
	}
	return systemd.New(ctx, systemd.Options{
		User: user, UnitPrefix: unitPrefix(instance), Slice: cfg.Systemd.Slice,
		Controller: dbusapi.BusName(instance), Conn: conn, Logger: log.With("component", "systemd"),
	})
}

// unitPrefix names the scopes: gateway-gen4.scope, or for the template
// unit gateway@notes.service, gateway-notes-gen4.scope.
func unitPrefix(instance string) string {
	if instance == "" {
		return "gateway"
	}
	return "gateway-" + instance
}
