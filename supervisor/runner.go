package supervisor

import (
	"context"
	"log/slog"
	"os"
	"syscall"
	"time"
)

// WorkerSpec describes one worker process to start: what a runner needs,
// resolved from the configuration by the supervisor.
type WorkerSpec struct {
	App        string
	Generation int
	Instance   int
	Revision   string
	Dir        string   // the resolved app directory, the worker's cwd
	Argv       []string // placeholders already substituted
	Env        []string // the whole environment, KEY=VALUE
	// Credential is the user and group to run as (app.user, app.group);
	// nil: the gateway's own.
	Credential *syscall.Credential
	// Listener is passed as fd 3 with LISTEN_FDS=1 and LISTEN_PID set to the
	// worker's own pid; nil when the worker takes $PORT instead.
	Listener *os.File
	// Log receives the worker's output lines where the runner forwards them.
	Log *slog.Logger
	// StopTimeout is how long a worker may take to stop after SIGTERM
	// (app.stop_timeout), also when the gateway died.
	StopTimeout time.Duration
	// UnitStopTimeout is how long the generation's unit may take to stop
	// when it is stopped from outside: the gateway starts a replacement,
	// closes held connections, then stops the workers. Runners without
	// units ignore it.
	UnitStopTimeout time.Duration
	// Limits are the generation's resource limits ([systemd]); runners
	// without units ignore them.
	Limits Limits
}

// Limits are resource limits of a generation's unit; zero: none.
type Limits struct {
	MemoryMax          uint64 // bytes
	CPUQuotaPerSecUSec uint64
	TasksMax           uint64
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
	// Manager is the service manager the workers run under, which
	// outlives the gateway (systemd); nil when they are the gateway's own
	// child processes and end with it.
	Manager() Manager
}

// Manager is what a runner with a service manager adds: each generation
// is a unit of the manager, which stops it, reports stops from outside,
// keeps it across a restart of the gateway and gives it back.
type Manager interface {
	// UnitName names the unit (a scope) a generation runs in.
	UnitName(gen int) string
	// StopGeneration stops a whole generation through the manager, so that
	// its stop timeout and SIGKILL apply; workers get SIGTERM, then
	// SIGKILL after grace. It returns once every worker of the generation
	// is gone.
	StopGeneration(ctx context.Context, gen int, grace time.Duration) error
	// StopRequests reports generations stopped from outside the gateway
	// (`systemctl stop gateway-gen3.scope`); the supervisor retires them.
	StopRequests() <-chan int
	// Adopt returns the workers of gen among pids that still run in the
	// generation's unit; none (and no error) if the unit is gone.
	Adopt(ctx context.Context, gen int, pids []int) ([]Worker, error)
	// Strays lists running units of this gateway that belong to none of
	// the generations given.
	Strays(ctx context.Context, gens []int) ([]string, error)
	// KeepWorkers reports whether the workers outlive this gateway
	// process: true when it is being restarted (the next process
	// re-adopts them).
	KeepWorkers(ctx context.Context) bool
}
