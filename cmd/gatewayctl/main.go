// Command gatewayctl controls a running gateway over its D-Bus API
// (org.gatewayd.Gateway1), as systemctl controls systemd:
//
//	gatewayctl status                 the active generation, detached ones draining
//	gatewayctl upgrade                what `systemctl reload gateway` runs
//	gatewayctl --instance notes generations --json
//
// Exit status is for scripts: 0 done, 1 failed (the gateway refused, or is
// not there), 2 usage error (nothing was asked of the gateway). `gatewayctl
// --help` and `gatewayctl help COMMAND` are the manual's text.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gatewayd/gateway/dbusapi"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes scripts can rely on.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// defaultTimeout bounds the commands that only read or flip a state: a
// gateway that does not answer within it is stuck. Upgrade and detach wait
// for a readiness check and have no limit of their own (systemd's
// TimeoutStartSec= bounds a reload).
const defaultTimeout = 30 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is gatewayctl with its arguments and outputs: the tests call it as
// the shell would.
func run(args []string, stdout, stderr io.Writer) int {
	fs, o := newFlags()
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(stderr, nil, err)
	}
	if o.version {
		fmt.Fprintln(stdout, "gatewayctl", version)
		return exitOK
	}
	if len(pos) == 0 {
		if o.help {
			writeHelp(stdout, fs)
			return exitOK
		}
		return usageError(stderr, nil, errors.New("no command given"))
	}
	cmd := lookup(pos[0])
	if cmd == nil {
		return usageError(stderr, nil, fmt.Errorf("unknown command %q", pos[0]))
	}
	if o.help {
		writeCommandHelp(stdout, fs, cmd)
		return exitOK
	}
	if err := o.check(fs, cmd); err != nil {
		return usageError(stderr, cmd, err)
	}
	if cmd.name == "help" {
		return helpCommand(pos[1:], fs, stdout, stderr)
	}
	if err := cmd.parse(o, pos[1:]); err != nil {
		return usageError(stderr, cmd, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return execute(ctx, cmd, o, stdout, stderr)
}

// execute dials the gateway and runs the command. One context bounds both:
// godbus closes a connection when the context it was dialled with ends.
func execute(ctx context.Context, cmd *command, o *options, stdout, stderr io.Writer) int {
	limit := o.limit(cmd)
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	err := dialAndRun(ctx, cmd, o, stdout)
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil {
		err = stopped(ctx, cmd, limit)
	}
	fmt.Fprintf(stderr, "gatewayctl: %v\n", err)
	if h := hint(err); h != "" {
		fmt.Fprintf(stderr, "gatewayctl: %s\n", h)
	}
	return exitFail
}

func dialAndRun(ctx context.Context, cmd *command, o *options, stdout io.Writer) error {
	c, err := dbusapi.Dial(ctx, o.user, o.instance)
	if err != nil {
		if errors.Is(err, dbusapi.ErrNoGateway) {
			return err // its message says what to do
		}
		return &noBusError{err: err, user: o.user}
	}
	defer c.Close()
	o.now = time.Now()
	return cmd.run(ctx, c, o, stdout)
}

// noBusError is a bus that could not be reached at all, as opposed to a
// bus without a gateway.
type noBusError struct {
	err  error
	user bool
}

func (e *noBusError) Error() string { return e.err.Error() }
func (e *noBusError) Unwrap() error { return e.err }

// stopped explains a command cut short by --timeout or a signal. What was
// asked goes on in the gateway: an upgrade is not undone by leaving.
func stopped(ctx context.Context, cmd *command, limit time.Duration) error {
	why := "interrupted"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		why = fmt.Sprintf("the gateway did not answer within %s (--timeout)", limit)
	}
	if cmd.waits {
		return fmt.Errorf("%s: %s: it goes on in the gateway; gatewayctl status shows how it ends", cmd.name, why)
	}
	return fmt.Errorf("%s: %s", cmd.name, why)
}

// hint says what to do about an error: a bus out of reach, or what the
// gateway (or the bus policy) answered, by its D-Bus name.
func hint(err error) string {
	var nb *noBusError
	if errors.As(err, &nb) {
		if nb.user {
			return "is a systemd --user manager running with its bus? ($DBUS_SESSION_BUS_ADDRESS, or $XDG_RUNTIME_DIR/bus)"
		}
		return "is the system bus running? (systemctl status dbus.service)"
	}
	switch dbusapi.NameOf(err) {
	case dbusapi.ErrNameAccessDenied, "org.freedesktop.DBus.Error.AccessDenied":
		return "run as root or as a member of the gateway-admin group"
	case dbusapi.ErrNameNoSuchGeneration:
		return "gatewayctl generations lists the generations"
	case dbusapi.ErrNameNoSuchSession:
		return "gatewayctl sessions lists the sessions"
	}
	return ""
}

// usageError reports a mistake in the command line, before anything was
// asked of the gateway.
func usageError(stderr io.Writer, cmd *command, err error) int {
	fmt.Fprintf(stderr, "gatewayctl: %v\n", err)
	if cmd != nil {
		fmt.Fprintf(stderr, "usage: %s (gatewayctl help %s)\n", cmd.synopsis(), cmd.name)
	} else {
		fmt.Fprintln(stderr, "Run 'gatewayctl --help' for the commands and flags.")
	}
	return exitUsage
}

// options are the flags of every command, the command's arguments once
// parsed, and what execute adds.
type options struct {
	system, user bool
	instance     string
	timeout      time.Duration
	help         bool
	version      bool
	json         bool
	generation   uint
	force        bool
	moveSessions bool
	canary       string // upgrade --canary: the share, "10%"

	timeoutSet bool      // an explicit --timeout 0 means no limit
	gen        int       // detach N, retire N
	hash       string    // end-session HASH
	now        time.Time // when the gateway was asked, for "3m12s ago"
}

// newFlags declares every flag of every command on one set, so that flags
// parse the same wherever they stand; check then refuses those the command
// does not take.
func newFlags() (*flag.FlagSet, *options) {
	o := &options{}
	fs := flag.NewFlagSet("gatewayctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by usageError
	fs.BoolVar(&o.system, "system", false, "talk to the gateway on the system bus (the default)")
	fs.BoolVar(&o.user, "user", false, "talk to the gateway of a systemd --user manager, on the session bus")
	fs.StringVar(&o.instance, "instance", "", "talk to gateway@`NAME`.service (bus name org.gatewayd.Gateway1.i_NAME)")
	fs.DurationVar(&o.timeout, "timeout", 0, "give up after `DURATION` (90s, 10m; 0: never); default 30s, never for upgrade and detach")
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts instead of text")
	fs.UintVar(&o.generation, "generation", 0, "list only the sessions of generation `N`")
	fs.BoolVar(&o.force, "force", false, "retire even with sessions, requests or upgraded connections left: they are dropped")
	fs.BoolVar(&o.moveSessions, "move-sessions", false, "end the sessions of the generation rolled back from (rollback) or of the canary (abort) too")
	fs.StringVar(&o.canary, "canary", "", "start the new generation as a canary for `PERCENT` of new sessions (10%)")
	fs.BoolVar(&o.help, "help", false, "show the help, of the command if one is given")
	fs.BoolVar(&o.help, "h", false, "show the help, of the command if one is given")
	fs.BoolVar(&o.version, "version", false, "print gatewayctl's version")
	return fs, o
}

// globalFlags apply to every command, in the order the help lists them.
var globalFlags = []string{"system", "user", "instance", "timeout"}

// parseArgs reads flags wherever they stand among the arguments, as
// systemctl does (`gatewayctl --user status`, `gatewayctl status --json`),
// and returns the rest in order. After "--" everything is an argument.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// check refuses flags the command does not take and flags that contradict
// each other.
func (o *options) check(fs *flag.FlagSet, cmd *command) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err == nil && !cmd.takes(f.Name) {
			err = fmt.Errorf("%s does not take --%s", cmd.name, f.Name)
		}
	})
	switch {
	case err != nil:
		return err
	case o.user && o.system:
		return errors.New("--user and --system: pick one bus")
	case o.timeout < 0:
		return fmt.Errorf("--timeout %s: want a positive duration, or 0 for no limit", o.timeout)
	case isSet(fs, "generation") && o.generation == 0:
		return errors.New("--generation 0: generations are numbered from 1")
	}
	o.timeoutSet = isSet(fs, "timeout")
	return nil
}

// limit is how long the command may wait for the gateway; 0: no limit.
func (o *options) limit(cmd *command) time.Duration {
	switch {
	case o.timeoutSet:
		return o.timeout
	case cmd.waits:
		return 0
	}
	return defaultTimeout
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// busName is the bus and name talked to, for the status headline.
func (o *options) busName() string {
	bus := "system"
	if o.user {
		bus = "user"
	}
	return fmt.Sprintf("%s on the %s bus", dbusapi.BusName(o.instance), bus)
}
