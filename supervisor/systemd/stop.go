package systemd

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/gatewayd/gateway/supervisor"
)

// listen opens the connection RequestStop signals arrive on, and takes the
// controller name on it. (go-systemd's own connection does not deliver
// them.)
func (r *Runner) listen() error {
	var err error
	switch {
	case r.o.Conn != nil:
		r.signals = r.o.Conn
	case r.o.User:
		r.signals, err = dbus.ConnectSessionBus()
	default:
		r.signals, err = dbus.ConnectSystemBus()
	}
	if err != nil {
		return fmt.Errorf("connecting to the %s bus: %w", r.bus.kind(), err)
	}
	r.controller = r.signals.Names()[0]
	if r.o.Controller != "" && slices.Contains(r.signals.Names(), r.o.Controller) {
		r.controller = r.o.Controller
	} else if r.o.Controller != "" {
		reply, err := r.signals.RequestName(r.o.Controller, dbus.NameFlagDoNotQueue)
		if err == nil && (reply == dbus.RequestNameReplyPrimaryOwner || reply == dbus.RequestNameReplyAlreadyOwner) {
			r.controller = r.o.Controller
		} else {
			r.log.Warn("cannot own the bus name; scopes will name this process's connection as controller, so a stop from outside after a gateway restart kills instead of retiring",
				"name", r.o.Controller, "error", err, "reply", reply)
		}
	}
	err = r.signals.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.systemd1.Scope"), dbus.WithMatchMember("RequestStop"))
	if err != nil {
		r.signals.Close()
		return fmt.Errorf("subscribing to RequestStop: %w", err)
	}
	ch := make(chan *dbus.Signal, 16)
	r.signals.Signal(ch)
	go r.dispatch(ch)
	return nil
}

// dispatch turns RequestStop of a generation's scope into a stop request
// for the supervisor, unless the gateway is stopping that scope itself.
func (r *Runner) dispatch(ch <-chan *dbus.Signal) {
	for {
		select {
		case <-r.done:
			return
		case sig, ok := <-ch:
			if !ok {
				return
			}
			if sig.Name != "org.freedesktop.systemd1.Scope.RequestStop" {
				continue
			}
			r.mu.Lock()
			gen, known := r.paths[sig.Path]
			s := r.gens[gen]
			r.mu.Unlock()
			if !known {
				continue
			}
			s.mu.Lock()
			ours := s.stopping
			s.mu.Unlock()
			if ours {
				continue
			}
			r.log.Info("scope stopped from outside", "unit", s.name, "generation", gen)
			select {
			case r.requests <- gen:
			case <-r.done:
				return
			}
		}
	}
}

// StopRequests delivers the generations whose scope was stopped from
// outside.
func (r *Runner) StopRequests() <-chan int { return r.requests }

// StopGeneration stops the generation's scope through systemd and stops
// its workers (SIGTERM, then SIGKILL after the app's stop timeout); systemd
// kills whatever is left when the scope's own stop timeout runs out. It
// returns when the scope's stop job is over and every worker has exited.
func (r *Runner) StopGeneration(ctx context.Context, gen int, grace time.Duration) error {
	s := r.scope(gen)
	s.mu.Lock()
	s.stopping = true
	workers := append([]supervisor.Worker(nil), s.workers...)
	s.mu.Unlock()

	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			pid := w.PID()
			if supervisor.StopWorker(ctx, w, grace) {
				r.log.Warn("a worker did not stop within app.stop_timeout; killed it (SIGKILL)", "event", "killed",
					"generation", gen, "pid", pid, "stop_timeout", grace)
			}
		})
	}
	err := r.stopUnit(ctx, s.name)
	wg.Wait()
	r.forget(gen)
	return err
}

func (r *Runner) stopUnit(ctx context.Context, name string) error {
	ch := make(chan string, 1)
	err := r.bus.call(ctx, func(c *sd.Conn) error {
		_, err := c.StopUnitContext(ctx, name, "replace", ch)
		return err
	})
	if dbusErrorName(err) == "org.freedesktop.systemd1.NoSuchUnit" {
		return nil // already gone: its last worker exited
	}
	if err != nil {
		return fmt.Errorf("stopping %s: %w", name, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("stopping %s: job %s", name, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping %s: %w", name, ctx.Err())
	}
}

func (r *Runner) forget(gen int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.gens[gen]; s != nil {
		delete(r.paths, unitPath(s.name))
		delete(r.gens, gen)
	}
}
