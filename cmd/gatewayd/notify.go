package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/gatewayd/gateway/supervisor"
)

// notifier tells systemd (Type=notify, sd_notify(3)) what the gateway is
// doing: READY=1 once the first generation is active, one STATUS= line of
// truth updated on every change, RELOADING=1 during an upgrade, WATCHDOG=1
// while the supervisor's loop answers, STOPPING=1 on the way out. Without
// $NOTIFY_SOCKET every call is a no-op.
type notifier struct {
	log     *slog.Logger
	sup     watched
	changed chan struct{}
	// onChange are told too when generations changed (the D-Bus API's
	// properties and signals).
	onChange []func(context.Context)
}

// watched is what the notifier needs of the supervisor.
type watched interface {
	Ping(ctx context.Context) error
	Generations(ctx context.Context) ([]supervisor.GenerationInfo, error)
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

// run keeps STATUS= current and feeds the watchdog until ctx ends.
func (n *notifier) run(ctx context.Context) {
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
			n.status(ctx)
			for _, f := range n.onChange {
				f(ctx)
			}
		case <-dog:
			// Only a loop that answers gets the watchdog fed: a stuck
			// supervisor is restarted by systemd.
			pctx, cancel := context.WithTimeout(ctx, interval/4)
			if n.sup.Ping(pctx) == nil {
				n.send("WATCHDOG=1")
			} else {
				n.log.Error("the supervisor did not answer in time; not feeding the watchdog")
			}
			cancel()
		}
	}
}

func (n *notifier) status(ctx context.Context) {
	gens, err := n.sup.Generations(ctx)
	if err != nil {
		return
	}
	line := statusLine(gens)
	if q := n.sup.UpgradesQueued(); q > 0 {
		line += fmt.Sprintf(" · upgrade queued (%s)", plural(q, "request"))
	}
	n.send("STATUS=" + line)
}

// statusLine is the one line `systemctl status` shows, e.g.
// "active gen 4 (rev 2026-11-20) · detached: gen 3 (12 sessions), gen 2 (1 session)".
func statusLine(gens []supervisor.GenerationInfo) string {
	var active, starting string
	var detached []string
	for i := len(gens) - 1; i >= 0; i-- {
		g := gens[i]
		switch g.State {
		case supervisor.Active:
			active = fmt.Sprintf("active gen %d (rev %s, %s)", g.ID, g.Revision, plural(g.Usage.Sessions, "session"))
		case supervisor.Starting:
			starting = fmt.Sprintf("starting gen %d", g.ID)
		case supervisor.Detached:
			detached = append(detached, fmt.Sprintf("gen %d (%s)", g.ID, plural(g.Usage.Sessions, "session")))
		}
	}
	parts := []string{active}
	if active == "" {
		parts[0] = "no active generation"
	}
	if starting != "" {
		parts = append(parts, starting)
	}
	if len(detached) > 0 {
		parts = append(parts, "detached: "+strings.Join(detached, ", "))
	}
	return strings.Join(parts, " · ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
