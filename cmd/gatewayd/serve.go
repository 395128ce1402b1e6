package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/gatewayd/gateway/dbusapi"
	"github.com/gatewayd/gateway/proxy"
	"github.com/gatewayd/gateway/proxy/pinstore"
	"github.com/gatewayd/gateway/supervisor"
	"github.com/gatewayd/gateway/supervisor/config"
)

// gateway is the wired daemon: the proxy and the supervisor, joined by
// traffic, and what runs around them.
type gateway struct {
	cfg       *config.Config
	log       *slog.Logger
	proxy     *proxy.Proxy
	sup       *supervisor.Supervisor
	notify    *notifier
	api       *dbusapi.Server // nil without a bus
	listeners []net.Listener
	activated bool         // the listeners came from systemd
	admin     *adminServer // nil: the admin console is off
	metrics   http.Handler // Prometheus metrics, at /metrics on the admin listener; nil: none
	meter     *metrics     // what metrics serves, fed by the proxy and the supervisor
	pins      *pinstore.Store
}

// serve builds the daemon and runs it until a signal says stop.
func serve(cfg *config.Config, instance string, log *slog.Logger) int {
	d, closeRunner, err := build(cfg, instance, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	defer closeRunner()
	removePID := writePID(cfg, log)
	defer removePID()
	return d.run()
}

func build(cfg *config.Config, instance string, log *slog.Logger) (*gateway, func(), error) {
	nothing := func() {}
	key, err := affinityKey(cfg.AffinityKeyPath())
	if err != nil {
		return nil, nothing, err
	}
	hasher, err := proxy.NewHasher(key)
	if err != nil {
		return nil, nothing, err
	}
	d := &gateway{cfg: cfg, log: log, notify: newNotifier(log.With("component", "notify")), meter: newMetrics()}
	t := &traffic{}
	t.p, err = proxy.New(proxy.Options{
		Source: t, Hasher: hasher,
		SessionCookie: cfg.Sessions.Cookie, AffinityCookie: cfg.Sessions.AffinityCookie,
		EndHeader: cfg.Sessions.EndHeader, LogoutPaths: logoutPaths(cfg.Sessions.Logouts()),
		IdleTimeout: cfg.Sessions.IdleTimeout.Duration, SwitchPath: cfg.Sessions.SwitchPath,
		Notify:   func() { d.sup.Notify(); d.pins.Poke() },
		Observer: d.meter,
		Logger:   log.With("component", "proxy"),
	})
	if err != nil {
		return nil, nothing, err
	}
	d.proxy = t.p
	var pinsWritten time.Time
	if d.pins, pinsWritten, err = openPins(cfg, t.p, func() { d.notify.poke() }, log.With("component", "pinstore")); err != nil {
		return nil, nothing, err
	}
	ls, adminL, activated, err := listeners(cfg.Gateway.Listen)
	if err != nil {
		return nil, nothing, err
	}
	d.listeners, d.activated = ls, activated
	conn, err := connectBus(useUserManager(cfg.Systemd.Manager), instance, log)
	if err != nil {
		// Without systemd there is often no bus at all: expected when the
		// process runner was chosen, worth a warning otherwise.
		level := slog.LevelWarn
		if cfg.Gateway.Runner == "process" {
			level = slog.LevelInfo
		}
		log.Log(context.Background(), level, "no D-Bus API: gatewayctl and busctl cannot reach this gateway; upgrade with SIGHUP", "error", err)
	}
	closeBus := func() {
		if conn != nil {
			conn.Close()
		}
	}
	runner, closeRunner, err := chooseRunner(cfg, instance, conn, log)
	if err != nil {
		closeAll(ls)
		closeBus()
		return nil, nothing, err
	}
	closeBoth := func() { closeRunner(); closeBus() }
	d.sup, err = supervisor.New(supervisor.Options{Config: cfg, Runner: runner, Traffic: t,
		OnChange: d.notify.poke, Observer: d.meter, PinsWritten: pinsWritten, Logger: log.With("component", "supervisor")})
	if err != nil {
		closeAll(ls)
		closeBoth()
		return nil, nothing, err
	}
	d.meter.reg.MustRegister(newPinStoreCollector(d.pins.Status))
	d.metrics = d.meter.handler(d.sup, d.proxy, log.With("component", "metrics"))
	d.notify.sup = d.sup
	if conn != nil {
		d.api, err = dbusapi.Export(conn, core{d: d, by: "D-Bus"}, dbusapi.Info{App: cfg.App.Name, Version: version},
			dbusapi.Options{Logger: log.With("component", "dbus")})
		if err != nil {
			closeAll(ls)
			closeBoth()
			return nil, nothing, err
		}
		d.notify.onChange = append(d.notify.onChange, d.api.Refresh)
	}
	if d.admin, err = newAdmin(d, adminL); err != nil {
		closeAll(ls)
		closeBoth()
		return nil, nothing, err
	}
	log.Info("gateway starting", "app", cfg.App.Name, "listen", addrs(ls), "socket_activated", activated,
		"runner", runner.Name(), "version", version)
	return d, closeBoth, nil
}

// run serves until SIGTERM/SIGINT. Shutdown order matters: the proxy first
// stops accepting and finishes in-flight requests, then the supervisor
// stops (or, on a restart under systemd, leaves) the workers.
func (d *gateway) run() int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	supCtx, stopSup := context.WithCancel(context.Background())
	defer stopSup()
	supErr := make(chan error, 1)
	go func() { supErr <- d.sup.Run(supCtx) }()
	go d.notify.run(supCtx)
	pinsCtx, stopPins := context.WithCancel(context.Background())
	defer stopPins()
	pinsDone := make(chan struct{})
	go func() { d.pins.Run(pinsCtx); close(pinsDone) }()
	// The pins are written last, after every request has been answered.
	defer func() { stopPins(); <-pinsDone }()

	proxyCtx, stopProxy := context.WithCancel(context.Background())
	defer stopProxy()
	proxyErr := make(chan error, 1)
	g := d.cfg.Gateway
	go func() {
		// Until the supervisor has re-adopted what the previous process
		// left running, connections wait in the listening socket's backlog.
		// A socket systemd holds lets them wait for the first generation
		// too, instead of answering 503: the socket activated us for them.
		wait := d.sup.Restored()
		if d.activated {
			wait = d.sup.Ready()
		}
		select {
		case <-wait:
		case <-d.sup.Done():
		}
		proxyErr <- d.proxy.Run(proxyCtx, d.listeners, proxy.ServerOptions{
			ReadHeaderTimeout: g.ReadHeaderTimeout.Duration, MaxHeaderBytes: g.MaxHeaderBytes,
			IdleTimeout: g.IdleTimeout.Duration, ShutdownTimeout: g.ShutdownTimeout.Duration,
			ResponseHeaderTimeout: noLimit(g.ResponseHeaderTimeout.Duration),
			BodyIdleTimeout:       noLimit(g.BodyIdleTimeout.Duration),
			WriteTimeout:          noLimit(g.WriteTimeout.Duration)})
	}()
	adminCtx, stopAdmin := context.WithCancel(context.Background())
	defer stopAdmin()
	adminDone := d.admin.start(adminCtx, d.metrics != nil)
	ready := d.sup.Ready()
	for {
		select {
		case <-ready:
			ready = nil
			d.notify.ready()
			d.notify.poke()
			d.log.Info("gateway ready: a generation is active", "event", "ready")
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				go d.upgrade(supCtx, "SIGHUP")
				continue
			}
			d.log.Info("stopping", "signal", sig.String())
			d.notify.stopping()
			stopAdmin()
			stopProxy()
			if err := <-proxyErr; err != nil {
				d.log.Warn("stopping the proxy", "error", err)
			}
			<-adminDone
			stopSup()
			<-supErr
			d.log.Info("gateway stopped")
			return 0
		case err := <-supErr:
			d.log.Error("gateway cannot run", "error", err)
			stopProxy()
			<-proxyErr
			return 1
		case err := <-proxyErr:
			d.log.Error("serving failed", "error", err)
			stopSup()
			<-supErr
			return 1
		}
	}
}

// upgrade runs one upgrade and tells systemd about it: RELOADING=1 while
// it runs, READY=1 after, whatever the outcome (the old generation is
// still serving if it failed).
func (d *gateway) upgrade(ctx context.Context, by string) (int, error) {
	d.log.Info("upgrade requested", "event", "upgrade", "by", by)
	d.notify.reloading()
	defer d.notify.ready()
	gen, err := d.sup.Upgrade(ctx)
	d.meter.upgrade(ctx, err)
	if err != nil {
		d.log.Error("upgrade failed; the previous generation keeps serving", "event", "upgrade-failed", "error", err)
		return 0, err
	}
	d.log.Info("upgrade done", "event", "upgraded", "generation", gen)
	return gen, nil
}

// noLimit maps the config's "0s: no limit" to proxy.ServerOptions', where
// zero means the default and a negative value no limit.
func noLimit(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func addrs(ls []net.Listener) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Addr().String()
	}
	return out
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
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

func logoutPaths(ls []config.LogoutPath) []proxy.LogoutPath {
	out := make([]proxy.LogoutPath, len(ls))
	for i, l := range ls {
		out[i] = proxy.LogoutPath{Path: l.Path, Methods: l.Methods}
	}
	return out
}
