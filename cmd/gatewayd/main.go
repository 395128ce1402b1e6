// Command gatewayd is the gateway daemon: a reverse proxy that runs one web
// app as generations of workers and upgrades it without dropping sessions.
//
//	gatewayd --config /etc/gateway/notes.toml
//	gatewayd --check-config /etc/gateway/notes.toml
//
// SIGHUP upgrades (starts a generation on the current revision and detaches
// the previous one); SIGTERM stops accepting, lets requests finish and stops
// the workers. The daemon itself is package daemon; this is its flags, its
// logging and the signal that stops it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/daemon"
	"github.com/gatewayd/gateway/internal/shim"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if shim.Active() {
		os.Exit(shim.Main())
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gatewayd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/gateway/gateway.toml", "the app's configuration `file`")
	check := fs.String("check-config", "", "validate the configuration `file` and exit (0: valid, 1: not)")
	level := fs.String("log-level", "info", "least severe log `level`: debug, info, warn or error")
	showVersion := fs.Bool("version", false, "print the version and exit")
	instance := fs.String("instance", "", "the template instance `name` (gateway@NAME.service passes %i): scopes become gateway-NAME-gen<N>.scope")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gatewayd [--config FILE] [--instance NAME] [--log-level LEVEL]\n       gatewayd --check-config FILE\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gatewayd: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "gatewayd", version)
		return 0
	}
	if *check != "" {
		return checkConfig(*check, stdout, stderr)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "gatewayd: --log-level %q: want debug, info, warn or error\n", *level)
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayd: %v\n", err)
		return 1
	}
	return serve(cfg, *instance, newLogger(os.Stderr, lvl))
}

// serve runs the daemon until SIGTERM or SIGINT.
func serve(cfg *config.Config, instance string, log *slog.Logger) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d, err := daemon.New(cfg, daemon.Options{Instance: instance, Version: version, Logger: log})
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	if d.Run(ctx) != nil {
		return 1 // logged by Run
	}
	return 0
}

func checkConfig(path string, stdout, stderr io.Writer) int {
	if _, err := config.Load(path); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return 0
}
