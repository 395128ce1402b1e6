package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/gatewayd/gateway/proxy"
	"github.com/gatewayd/gateway/supervisor"
	"github.com/gatewayd/gateway/supervisor/config"
	"github.com/gatewayd/gateway/supervisor/process"
)

// serve wires the proxy and the supervisor together and runs them until a
// signal says stop. Shutdown order matters: the proxy first stops accepting
// and finishes in-flight requests, then the supervisor stops the workers.
func serve(cfg *config.Config, log *slog.Logger) int {
	key, err := affinityKey(cfg.AffinityKeyPath())
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	hasher, err := proxy.NewHasher(key)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	t := &traffic{}
	var sup *supervisor.Supervisor
	t.p, err = proxy.New(proxy.Options{
		Source: t, Hasher: hasher,
		SessionCookie: cfg.Sessions.Cookie, AffinityCookie: cfg.Sessions.AffinityCookie,
		EndHeader: cfg.Sessions.EndHeader, LogoutPaths: cfg.Sessions.LogoutPaths,
		IdleTimeout: cfg.Sessions.IdleTimeout.Duration,
		Notify:      func() { sup.Notify() },
		Logger:      log.With("component", "proxy"),
	})
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	runner, err := chooseRunner(cfg, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	sup, err = supervisor.New(supervisor.Options{Config: cfg, Runner: runner, Traffic: t,
		Logger: log.With("component", "supervisor")})
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	listeners, err := listen(cfg.Gateway.Listen)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	removePID := writePID(cfg, log)
	defer removePID()
	return runUntilSignal(cfg, log, t.p, sup, listeners)
}

func runUntilSignal(cfg *config.Config, log *slog.Logger, p *proxy.Proxy, sup *supervisor.Supervisor, listeners []net.Listener) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	supCtx, stopSup := context.WithCancel(context.Background())
	defer stopSup()
	supErr := make(chan error, 1)
	go func() { supErr <- sup.Run(supCtx) }()

	proxyCtx, stopProxy := context.WithCancel(context.Background())
	defer stopProxy()
	proxyErr := make(chan error, 1)
	g := cfg.Gateway
	go func() {
		proxyErr <- p.Run(proxyCtx, listeners, proxy.ServerOptions{
			ReadHeaderTimeout: g.ReadHeaderTimeout.Duration, MaxHeaderBytes: g.MaxHeaderBytes,
			IdleTimeout: g.IdleTimeout.Duration, ShutdownTimeout: g.ShutdownTimeout.Duration})
	}()
	addrs := make([]string, len(listeners))
	for i, l := range listeners {
		addrs[i] = l.Addr().String()
	}
	log.Info("gateway starting", "app", cfg.App.Name, "listen", addrs, "version", version)
	ready := sup.Ready()
	for {
		select {
		case <-ready:
			ready = nil
			log.Info("gateway ready: the first generation is active", "event", "ready")
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				go upgrade(supCtx, log, sup)
				continue
			}
			log.Info("stopping", "signal", sig.String())
			stopProxy()
			if err := <-proxyErr; err != nil {
				log.Warn("stopping the proxy", "error", err)
			}
			stopSup()
			<-supErr
			log.Info("gateway stopped")
			return 0
		case err := <-supErr:
			log.Error("gateway cannot run", "error", err)
			stopProxy()
			<-proxyErr
			return 1
		case err := <-proxyErr:
			log.Error("serving failed", "error", err)
			stopSup()
			<-supErr
			return 1
		}
	}
}

func upgrade(ctx context.Context, log *slog.Logger, sup *supervisor.Supervisor) {
	log.Info("upgrade requested by SIGHUP", "event", "upgrade")
	gen, err := sup.Upgrade(ctx)
	if err != nil {
		log.Error("upgrade failed; the previous generation keeps serving", "event", "upgrade-failed", "error", err)
		return
	}
	log.Info("upgrade done", "event", "upgraded", "generation", gen)
}

// writePID leaves <runtime_directory>/<app>.pid for runs without systemd,
// so that scripts can send SIGHUP without searching for the process.
func writePID(cfg *config.Config, log *slog.Logger) func() {
	path := filepath.Join(cfg.Gateway.RuntimeDirectory, cfg.App.Name+".pid")
	if err := os.MkdirAll(cfg.Gateway.RuntimeDirectory, 0o755); err == nil {
		err = os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
		if err == nil {
			return func() { os.Remove(path) }
		}
	}
	log.Warn("cannot write the pid file", "path", path)
	return func() {}
}

// chooseRunner picks how workers run. This build has the plain-process
// runner only; "auto" says so, "systemd" is refused rather than ignored.
func chooseRunner(cfg *config.Config, log *slog.Logger) (supervisor.Runner, error) {
	switch cfg.Gateway.Runner {
	case "systemd":
		return nil, fmt.Errorf("%s: gateway.runner = \"systemd\": this build has no systemd runner yet; use \"process\" or \"auto\"", cfg.File)
	case "auto":
		log.Info("runner: auto picked process (workers are child processes of the gateway)", "runner", "process")
	}
	return &process.Runner{}, nil
}
