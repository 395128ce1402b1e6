package supervisor

import (
	"context"
	"log/slog"
	"os"
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
