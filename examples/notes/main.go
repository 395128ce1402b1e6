package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownTimeout bounds a graceful stop: the gateway drains a generation
// before signalling it, so anything still running after this is abandoned.
const shutdownTimeout = 5 * time.Second

type config struct {
	addr       string
	revision   string
	generation string
	cookie     string
	idle       time.Duration
	fail       string // a path answered with 500
}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// parseFlags resolves the configuration; getenv is a parameter so the
// precedence rules can be tested without touching the process environment.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("notes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8081", "listen address, used when neither socket activation nor $PORT is present")
	fs.StringVar(&cfg.revision, "revision", "", "revision label shown on every answer (default $REVISION, $GATEWAY_REVISION or \"dev\")")
	fs.StringVar(&cfg.cookie, "cookie", "NOTESSESSION", "session cookie name")
	fs.DurationVar(&cfg.idle, "idle", 30*time.Minute, "remove sessions unused for this long (0 keeps them forever)")
	fs.StringVar(&cfg.fail, "fail", "", "answer 500 to every request for this path: a broken release, to try the gateway's canary judgement on")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := (&http.Cookie{Name: cfg.cookie, Value: "x"}).Valid(); err != nil {
		return config{}, fmt.Errorf("-cookie %q: %w", cfg.cookie, err)
	}
	cfg.revision = firstNonEmpty(cfg.revision, getenv("REVISION"), getenv("GATEWAY_REVISION"), "dev")
	cfg.generation = getenv("GATEWAY_GENERATION")
	return cfg, nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// run returns the exit code. A signal-triggered stop is a normal exit (0):
// the gateway stops old generations on purpose and must not read that as a
// crash.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cfg, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		logger.Error("notes: bad arguments", "err", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	pid := os.Getpid()
	l, source, err := openListener(cfg.addr, getenv, pid)
	if err != nil {
		logger.Error("notes: cannot listen", "err", err)
		return 1
	}
	if source == sourceActivation {
		// Children we might start must not believe the socket is theirs.
		for _, k := range []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"} {
			os.Unsetenv(k)
		}
	}

	a := newApp(cfg.revision, cfg.generation, cfg.cookie)
	go a.sessions.janitor(ctx, cfg.idle)

	srv := &http.Server{
		Handler:           failing(cfg.fail, a.routes()),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(a.ws.shutdown)

	logger.Info(fmt.Sprintf("notes: revision %s pid %d listening on %s", cfg.revision, pid, l.Addr()),
		"generation", cfg.generation, "socket", source, "cookie", cfg.cookie, "idle", cfg.idle)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(l) }()
	select {
	case err := <-serveErr:
		logger.Error("notes: serve failed", "err", err)
		return 1
	case <-ctx.Done():
	}
	stop() // a second signal now kills the process the default way

	logger.Info("notes: shutting down", "pid", pid, "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("notes: requests still running at the deadline, closing them", "err", err)
		srv.Close()
	}
	a.ws.wait(sctx)
	logger.Info("notes: stopped", "pid", pid)
	return 0
}
