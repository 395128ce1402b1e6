package supervisor

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/gatewayd/gateway/config"
)

// WorkerSpec describes one worker process to start.
type WorkerSpec struct {
	App        string
	Generation int
	Instance   int
	Revision   string
	Dir        string   // the resolved app directory, the worker's cwd
	Argv       []string // placeholders already substituted
	Env        []string // the whole environment, KEY=VALUE
	User       string   // run as this user (only when the gateway is root)
	Group      string
	// Listener is passed as fd 3 with LISTEN_FDS=1 and LISTEN_PID set to the
	// worker's own pid; nil when the worker takes $PORT instead.
	Listener *os.File
	// Log receives the worker's output lines where the runner forwards them.
	Log *slog.Logger
	// Config is the configuration the generation starts with (the systemd
	// runner reads its [systemd] limits and stop timeouts from it).
	Config *config.Config
}

// Worker is one running worker process.
type Worker interface {
	PID() int
	// Done is closed when the process has exited.
	Done() <-chan struct{}
	// Err is the exit status once Done is closed (nil for exit code 0).
	Err() error
	Signal(os.Signal) error
	// Tail returns the last lines of the worker's output, for error reports.
	Tail() []string
}

// Runner starts workers. Start returns once the process runs (or failed
// to); readiness is the supervisor's business.
type Runner interface {
	Name() string
	Start(ctx context.Context, spec WorkerSpec) (Worker, error)
}

// The interfaces below are optional capabilities of a Runner; the
// supervisor uses them when the runner has them (the systemd runner has
// all of them, the process runner none).

// GenerationStopper stops a whole generation through the runner's own
// manager, so that the manager's stop timeout and SIGKILL apply; workers
// get SIGTERM, then SIGKILL after grace. It returns once every worker of
// the generation is gone.
type GenerationStopper interface {
	StopGeneration(ctx context.Context, gen int, grace time.Duration) error
}

// StopRequester reports generations stopped from outside the gateway
// (`systemctl stop gateway-gen3.scope`); the supervisor retires them.
type StopRequester interface {
	StopRequests() <-chan int
}

// Adopter finds the workers of a previous gateway process that are still
// running, so that a restarted gateway keeps serving them.
type Adopter interface {
	// Adopt returns the workers of gen among pids that still run in the
	// generation's unit; none (and no error) if the unit is gone.
	Adopt(ctx context.Context, app string, gen int, pids []int) ([]Worker, error)
	// Strays lists units of this app the runner finds that belong to none
	// of the generations given.
	Strays(ctx context.Context, app string, gens []int) ([]string, error)
}

// UnitNamer names the unit (a scope) a generation runs in, for admin tools.
type UnitNamer interface {
	UnitName(gen int) string
}

// Keeper decides whether the workers outlive the gateway process: true
// when the gateway is being restarted (the next process re-adopts them).
type Keeper interface {
	KeepWorkers(ctx context.Context) bool
}
