package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/gatewayd/gateway/dbusapi"
	"github.com/gatewayd/gateway/fleet"
)

// gateway is what the commands ask of a gateway: the subset of
// *dbusapi.Client they call, so that they run against anything that
// answers like one.
type gateway interface {
	Properties(ctx context.Context) (dbusapi.Properties, error)
	Generations(ctx context.Context) ([]fleet.Generation, error)
	Sessions(ctx context.Context) ([]fleet.Pin, error)
	Upgrade(ctx context.Context) (int, error)
	Detach(ctx context.Context, gen int) (int, error)
	Rollback(ctx context.Context, moveSessions bool) (int, error)
	UpgradeCanary(ctx context.Context, percent float64) (int, error)
	Promote(ctx context.Context) (int, error)
	Abort(ctx context.Context, moveSessions bool) (int, error)
	Retire(ctx context.Context, gen int, force bool) error
	EndSession(ctx context.Context, hash string) error
}

var _ gateway = (*dbusapi.Client)(nil)

// command is one gatewayctl command: how it is called, its help (the man
// page's text), and what it does.
type command struct {
	name    string
	args    string   // its arguments in the synopsis: "N", "HASH"
	flags   []string // its own flags, besides globalFlags
	summary string   // one line for the list of commands
	help    string   // the paragraphs of `gatewayctl help NAME`
	// waits is set on commands that wait for a new generation's readiness
	// check: no default timeout.
	waits bool
	// bind stores the arguments in options; nil: the command takes none.
	bind func(o *options, args []string) error
	do   func(ctx context.Context, gw gateway, o *options, w io.Writer) error
}

// commands in the order the help lists them.
var commands = []*command{
	{
		name: "status", flags: []string{"json"},
		summary: "show the active generation, its uptime, sessions, a canary on trial, generations draining or starting",
		help: `Shows the app and the gateway's version, the active generation with its
revision, uptime and worker pids, the number of pinned sessions, then a
canary on trial, then any generation still starting, then every detached
generation with its sessions, requests in flight, upgraded (WebSocket)
connections, when it was detached and its drain deadline.

Under the canary: its share of new sessions and how long it has been on
trial; its requests, 5xx rate and p99 latency beside the active generation's
over the same span (the figures it is judged by); and who ends the trial:
the [canary] judge, with its margins and its verdict on the figures now, or
an admin (gatewayctl promote, gatewayctl abort).

With --json, prints one object:
  {"app", "version", "active_generation" (0: none yet), "revision",
   "sessions" (in all generations), "generations": [GENERATION, ...]}
where GENERATION is as in gatewayctl generations --json. The admin console
serves the same object at /api/status.`,
		do: status,
	},
	{
		name: "generations", flags: []string{"json"},
		summary: "list the generations, oldest first",
		help: `Lists every generation the gateway runs, oldest first: number, state
(starting, active, canary, detached, retiring), revision, scope unit, worker pids,
pinned sessions, requests in flight, upgraded (WebSocket) connections, when
it started, when it was detached, and when its drain is cut short.

With --json, prints an array of objects:
  {"id", "state", "revision", "unit" ("" without systemd), "pids": [PID, ...],
   "sessions", "in_flight", "upgraded", "started", "detached", "deadline"}
and on the canary only, "trial":
  {"share" (0 to 1), "started", "canary": FIGURES, "active": FIGURES,
   "judge" (null: an admin decides): {"min_requests", "error_margin",
   "latency_margin", "latency_margin_min_seconds", "promote_after_seconds"},
   "verdict"}
where FIGURES is {"requests", "errors" (5xx), "error_rate", "p99_seconds"},
each generation's since the trial started. Times are RFC 3339 in UTC, null
when not set ("deadline": null is no drain limit).`,
		do: generations,
	},
	{
		name: "sessions", flags: []string{"json", "generation"},
		summary: "list the pinned sessions (their hashes, never their ids)",
		help: `Lists the pinned sessions by generation: the keyed hash of the session id
(the gateway never keeps the id), the generation and instance it is pinned
to, and how long it has been idle. Needs root or the gateway-admin group.

With --json, prints an array of objects:
  {"hash", "generation", "instance", "idle_seconds"}`,
		do: sessions,
	},
	{
		name: "upgrade", waits: true, flags: []string{"canary"},
		summary: "start a generation on the current revision; wait until it is active",
		help: `Starts a new generation on the app's current revision, waits until it has
passed its readiness check and takes new sessions, and prints
"generation N is active (revision R)". The previous generation is detached:
it keeps its sessions and retires when the last one has ended.

If the new generation cannot start, prints why and exits 1; the previous
generation stays active. While a generation is starting, upgrades asked for
(here, by SIGHUP, from the console) are queued: they share one follow-up
upgrade that begins when the starting one is done, with the revision current
then, and this command prints its result. systemctl reload gateway runs this
command. It waits as long as the gateway takes, unless --timeout is given.

With --canary PERCENT (10% or 10), the new generation becomes a canary
instead: once ready it gets that share of new sessions while the active
generation keeps the rest and every session stays where it is; testers
reach it with the X-Gateway-Canary: 1 header from a trusted proxy. Then
gatewayctl promote or gatewayctl abort. One canary at a time; a plain upgrade
(systemctl reload) while one runs aborts it first.`,
		do: upgrade,
	},
	{
		name:    "promote",
		summary: "make the canary the active generation",
		help: `Makes the canary the active generation: every new session goes to it; the
previous active generation is detached and drains. Prints "generation N is
active (revision R)". Fails, changing nothing, without a canary.`,
		do: promote,
	},
	{
		name: "abort", flags: []string{"move-sessions"},
		summary: "stop sending new sessions to the canary; it drains",
		help: `Ends the canary's trial: it gets no new sessions and drains as a detached
generation, keeping its sessions unless --move-sessions is given, which ends
them (their users log in again on the active generation). Fails, changing
nothing, without a canary.`,
		do: abort,
	},
	{
		name: "detach", args: "N", waits: true,
		summary: "replace active generation N by a new one on the current revision",
		help: `Detaches the active generation N: starts a replacement on the current
revision and, once the replacement is active, detaches N, which keeps its
sessions. Prints "generation N detached; generation M is active (revision
R)". Waits as long as the gateway takes, unless --timeout is given.`,
		bind: bindGeneration, do: detach,
	},
	{
		name: "rollback", flags: []string{"move-sessions"},
		summary: "make the previous generation active again, at once",
		help: `Makes the newest detached generation that still runs active again, at
once: nothing starts, nothing waits for readiness. The active generation is
detached and drains like any other: its sessions stay on it unless
--move-sessions is given, which ends them (their users log in again on the
restored revision), for a release that must serve no one. Prints
"generation N is active again (revision R)" once routing has switched: new
sessions go to N from then on. With no detached generation running, or while
an upgrade is starting one, it fails and changes nothing. The symlink of the
app's directory is not touched: point it back too, or the next upgrade
starts the bad revision again.`,
		do: rollback,
	},
	{
		name: "retire", args: "N", flags: []string{"force"},
		summary: "stop detached generation N without waiting for its sessions to end",
		help: `Stops the detached generation N now rather than when its last session
ends. The gateway refuses while N still has sessions, requests in flight or
upgraded connections, unless --force is given: then they are dropped.`,
		bind: bindGeneration, do: retire,
	},
	{
		name: "end-session", args: "HASH",
		summary: "end one pinned session, by the hash gatewayctl sessions shows",
		help: `Ends the pin of one session, named by the hash gatewayctl sessions shows
(32 hex digits).`,
		bind: bindHash, do: endSession,
	},
	{
		name: "help", args: "[COMMAND]",
		summary: "show the help of gatewayctl or of one command",
		help:    `Shows the commands and flags, or the help of one command.`,
	},
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// takes says whether the command accepts a flag.
func (c *command) takes(flag string) bool {
	return slices.Contains(globalFlags, flag) || slices.Contains(c.flags, flag) ||
		flag == "help" || flag == "h" || flag == "version"
}

// synopsis is the command's usage line.
func (c *command) synopsis() string {
	s := "gatewayctl [--system | --user] [--instance NAME] " + c.name
	if c.args != "" {
		s += " " + c.args
	}
	for _, f := range c.flags {
		switch f {
		case "generation":
			s += " [--generation N]"
		default:
			s += " [--" + f + "]"
		}
	}
	return s
}

// parse checks and stores the command's arguments.
func (c *command) parse(o *options, args []string) error {
	if c.bind == nil {
		if len(args) > 0 {
			return fmt.Errorf("%s takes no arguments, got %q", c.name, args[0])
		}
		return nil
	}
	return c.bind(o, args)
}

func (c *command) run(ctx context.Context, gw gateway, o *options, w io.Writer) error {
	return c.do(ctx, gw, o, w)
}

// one returns the single argument of a command that takes one.
func one(args []string, what string) (string, error) {
	switch {
	case len(args) == 0:
		return "", fmt.Errorf("missing %s", what)
	case len(args) > 1:
		return "", fmt.Errorf("unexpected argument %q after the %s", args[1], what)
	}
	return args[0], nil
}

func bindGeneration(o *options, args []string) error {
	a, err := one(args, "generation number N")
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(a, 10, 32)
	if err != nil || n == 0 {
		return fmt.Errorf("%q is not a generation number (1, 2, 3...; gatewayctl generations lists them)", a)
	}
	o.gen = int(n)
	return nil
}

// bindHash checks the form of proxy.SessionKey's String (32 hex digits), so
// that a mistyped hash is a usage error rather than a round trip.
func bindHash(o *options, args []string) error {
	a, err := one(args, "session HASH")
	if err != nil {
		return err
	}
	if b, err := hex.DecodeString(a); err != nil || len(b) != 16 {
		return fmt.Errorf("%q is not a session hash: want 32 hex digits, as gatewayctl sessions shows", a)
	}
	o.hash = a
	return nil
}

func status(ctx context.Context, gw gateway, o *options, w io.Writer) error {
	props, err := gw.Properties(ctx)
	if err != nil {
		return fmt.Errorf("reading the gateway's properties: %w", err)
	}
	gens, err := gw.Generations(ctx)
	if err != nil {
		return fmt.Errorf("listing the generations: %w", err)
	}
	if o.json {
		return writeJSON(w, statusJSON(props, gens))
	}
	return writeStatus(w, o.busName(), props, gens, o.now)
}

func generations(ctx context.Context, gw gateway, o *options, w io.Writer) error {
	gens, err := gw.Generations(ctx)
	if err != nil {
		return fmt.Errorf("listing the generations: %w", err)
	}
	if o.json {
		if gens == nil {
			gens = []fleet.Generation{} // an empty array, not null
		}
		return writeJSON(w, gens)
	}
	return writeGenerations(w, gens, o.now)
}

func sessions(ctx context.Context, gw gateway, o *options, w io.Writer) error {
	ss, err := gw.Sessions(ctx)
	if err != nil {
		return fmt.Errorf("listing the sessions: %w", err)
	}
	if o.generation != 0 {
		ss = slices.DeleteFunc(ss, func(s fleet.Pin) bool { return s.Generation != int(o.generation) })
	}
	sortSessions(ss)
	if o.json {
		if ss == nil {
			ss = []fleet.Pin{} // an empty array, not null
		}
		return writeJSON(w, ss)
	}
	return writeSessions(w, ss, o.now)
}

func upgrade(ctx context.Context, gw gateway, o *options, w io.Writer) error {
	if o.canary != "" {
		return upgradeCanary(ctx, gw, o, w)
	}
	gen, err := gw.Upgrade(ctx)
	if err != nil {
		return fmt.Errorf("upgrade failed: %w", err)
	}
	_, err = fmt.Fprintln(w, activeLine(ctx, gw, gen))
	return err
}

func detach(ctx context.Context, gw gateway, o *options, w io.Writer) error {
	next, err := gw.Detach(ctx, o.gen)
	if err != nil {
		return fmt.Errorf("detaching generation %d: %w", o.gen, err)
	}
	_, err = fmt.Fprintf(w, "generation %d detached; %s\n", o.gen, activeLine(ctx, gw, next))
	return err
}

func upgradeCanary(ctx context.Context, gw gateway, o *options, w io.Writer) error {
	pct, err := strconv.ParseFloat(strings.TrimSuffix(o.canary, "%"), 64)
	if err != nil || pct <= 0 || pct > 100 {
		return fmt.Errorf("--canary %q: want a share of new sessions above 0 and at most 100, such as 10%%", o.canary)
	}
	gen, err := gw.UpgradeCanary(ctx, pct)
	if err != nil {
		return fmt.Errorf("canary upgrade failed: %w", err)
	}
	_, err = fmt.Fprintf(w, "generation %d is the canary: %g%% of new sessions go to it (gatewayctl promote, gatewayctl abort)\n", gen, pct)
	return err
}

func promote(ctx context.Context, gw gateway, o *options, w io.Writer) error {
	gen, err := gw.Promote(ctx)
	if err != nil {
		return fmt.Errorf("promote failed: %w", err)
	}
	_, err = fmt.Fprintln(w, activeLine(ctx, gw, gen))
	return err
}

func abort(ctx context.Context, gw gateway, o *options, w io.Writer) error {
	gen, err := gw.Abort(ctx, o.moveSessions)
	if err != nil {
		return fmt.Errorf("abort failed: %w", err)
	}
	msg := fmt.Sprintf("canary generation %d aborted: it gets no new sessions and drains", gen)
	if o.moveSessions {
		msg += "; its sessions were ended"
	}
	_, err = fmt.Fprintln(w, msg)
	return err
}

func rollback(ctx context.Context, gw gateway, o *options, w io.Writer) error {
	gen, err := gw.Rollback(ctx, o.moveSessions)
	if err != nil {
		return fmt.Errorf("rollback failed: %w", err)
	}
	line := strings.Replace(activeLine(ctx, gw, gen), " is active", " is active again", 1)
	if o.moveSessions {
		line += "; the sessions of the generation rolled back from were ended"
	}
	_, err = fmt.Fprintln(w, line)
	return err
}

func retire(ctx context.Context, gw gateway, o *options, w io.Writer) error {
	if err := gw.Retire(ctx, o.gen, o.force); err != nil {
		return fmt.Errorf("retiring generation %d: %w", o.gen, err)
	}
	msg := fmt.Sprintf("generation %d is retiring: its workers are being stopped", o.gen)
	if o.force {
		msg += " (forced: its sessions and connections are dropped)"
	}
	_, err := fmt.Fprintln(w, msg)
	return err
}

func endSession(ctx context.Context, gw gateway, o *options, w io.Writer) error {
	if err := gw.EndSession(ctx, o.hash); err != nil {
		return fmt.Errorf("ending session %s: %w", o.hash, err)
	}
	_, err := fmt.Fprintf(w, "session %s ended\n", o.hash)
	return err
}

// activeLine says which generation is now active and on what revision.
// Upgrade and Detach answer only the number, so the revision takes one
// more call; if that fails, the line goes without it: the upgrade itself
// succeeded.
func activeLine(ctx context.Context, gw gateway, gen int) string {
	gens, _ := gw.Generations(ctx)
	return fleet.ActiveLine(gens, gen)
}

// helpCommand is `gatewayctl help [COMMAND]`.
func helpCommand(args []string, fs *flag.FlagSet, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		writeHelp(stdout, fs)
	case len(args) > 1:
		return usageError(stderr, lookup("help"), fmt.Errorf("unexpected argument %q", args[1]))
	case lookup(args[0]) == nil:
		return usageError(stderr, lookup("help"), fmt.Errorf("unknown command %q", args[0]))
	default:
		writeCommandHelp(stdout, fs, lookup(args[0]))
	}
	return exitOK
}

// writeHelp is `gatewayctl --help`: the manual's synopsis, commands, flags
// and exit status. Flag lines come from the flag set itself, so they cannot
// drift from what is parsed.
func writeHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `usage: gatewayctl [--system | --user] [--instance NAME] COMMAND [ARGUMENTS] [FLAGS]

gatewayctl controls a running gateway over its D-Bus API (org.gatewayd.Gateway1).
Flags may stand before or after the command.

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.name, c.args, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, "\nFlags of every command:\n")
	writeFlags(w, fs, append(slices.Clone(globalFlags), "help", "version"))
	fmt.Fprint(w, "\nFlags of some commands:\n")
	writeFlags(w, fs, []string{"json", "generation", "force", "move-sessions", "canary"}, "(status, generations, sessions)", "(sessions)", "(retire)", "(rollback, abort)", "(upgrade)")
	fmt.Fprint(w, `
Exit status:
  0  done
  1  failed: the gateway refused or is not there; the reason is on stderr
  2  usage error: nothing was asked of the gateway

gatewayctl help COMMAND shows a command's help, its --json output among it.
`)
}

// writeCommandHelp is `gatewayctl help COMMAND`.
func writeCommandHelp(w io.Writer, fs *flag.FlagSet, c *command) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.synopsis(), c.help)
	if len(c.flags) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		writeFlags(w, fs, c.flags)
	}
	fmt.Fprint(w, "\nFlags of every command:\n")
	writeFlags(w, fs, globalFlags)
}

// writeFlags lists flags by name, each with a note after its usage.
func writeFlags(w io.Writer, fs *flag.FlagSet, names []string, notes ...string) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for i, name := range names {
		f := fs.Lookup(name)
		arg, usage := flag.UnquoteUsage(f)
		flagText := "--" + name
		if name == "help" {
			flagText = "-h, --help"
		}
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); !isBool {
			flagText += " " + arg
		}
		if i < len(notes) {
			usage = notes[i] + " " + usage
		}
		fmt.Fprintf(tw, "  %s\t%s\n", flagText, usage)
	}
	tw.Flush()
}
