package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/gatewayd/gateway/fleet"
)

// notifier tells systemd (Type=notify, sd_notify(3)) what the gateway is
// doing: READY=1 once the first generation is active, one STATUS= line of
// truth updated on every change, RELOADING=1 during an upgrade, WATCHDOG=1
// while the supervisor's loop answers, STOPPING=1 on the way out. Without
// $NOTIFY_SOCKET every call is a no-op.
type notifier struct {
	log     *slog.Logger
	changed chan struct{}
}

// watched is what the notifier needs of the supervisor.
type watched interface {
	Ping(ctx context.Context) error
	Generations(ctx context.Context) ([]fleet.Generation, error)
	UpgradesQueued() int
}

func newNotifier(log *slog.Logger) *notifier {
	return &notifier{log: log, changed: make(chan struct{}, 1)}
}

func (n *notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.log.Warn("sd_notify failed", "state", state, "error", err)
	}
}

// poke is the supervisor's OnChange: it must not block.
func (n *notifier) poke() {
	select {
	case n.changed <- struct{}{}:
	default:
	}
}

func (n *notifier) ready()    { n.send(daemon.SdNotifyReady) }
func (n *notifier) stopping() { n.send(daemon.SdNotifyStopping) }

// reloading marks an upgrade; MONOTONIC_USEC lets systemd 253+ match it to
// the reload job.
func (n *notifier) reloading() {
	n.send(daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec())
}

// run keeps STATUS= current and feeds the watchdog from sup until ctx
// ends; on every change, onChange is told too (the D-Bus API's properties
// and signals).
func (n *notifier) run(ctx context.Context, sup watched, onChange func(context.Context)) {
	var dog <-chan time.Time
	interval, err := daemon.SdWatchdogEnabled(false)
	if err == nil && interval > 0 {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		dog = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.changed:
			n.status(ctx, sup)
			onChange(ctx)
		case <-dog:
			// Only a loop that answers gets the watchdog fed: a stuck
			// supervisor is restarted by systemd.
			pctx, cancel := context.WithTimeout(ctx, interval/4)
			if sup.Ping(pctx) == nil {
				n.send("WATCHDOG=1")
			} else {
				n.log.Error("the supervisor did not answer in time; not feeding the watchdog")
			}
			cancel()
		}
	}
}

func (n *notifier) status(ctx context.Context, sup watched) {
	gens, err := sup.Generations(ctx)
	if err != nil {
		return
	}
	line := fleet.StatusLine(gens)
	if q := sup.UpgradesQueued(); q > 0 {
		line += fmt.Sprintf(" · upgrade queued (%s)", fleet.Plural(q, "request"))
	}
	n.send("STATUS=" + line)
}
