// Package daemon is the gateway process: New builds the parts from the
// configuration (docs/design.md "Layers") and Run runs them until its
// context ends. The parts do not know each other; this package joins them:
//
//   - the proxy (the request path) is the supervisor's Traffic and the pin
//     store's Table, and signals both (proxy.Proxy.SessionsChanged,
//     RequestsDone, PinsQueued);
//   - the supervisor runs the generations through a runner (child processes
//     or systemd scopes) and publishes their routes to the proxy;
//   - the fronts (the D-Bus API, the admin console) ask a core (core.go),
//     which answers from the supervisor and the proxy;
//   - the notifier tells systemd what the supervisor reports.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/dbusapi"
	"github.com/gatewayd/gateway/internal/certs"
	"github.com/gatewayd/gateway/internal/metrics"
	"github.com/gatewayd/gateway/proxy"
	"github.com/gatewayd/gateway/proxy/pinstore"
	"github.com/gatewayd/gateway/supervisor"
	"github.com/godbus/dbus/v5"
)

// Options are what the daemon takes besides the configuration.
type Options struct {
	// Instance is the template instance (gateway@NAME.service passes %i):
	// it names the bus name and the scopes. "" for gateway.service.
	Instance string
	// Version is the gateway's, shown by the API, the console and metrics.
	Version string
	// Logger receives every part's logs, each with its component.
	Logger *slog.Logger
}

// Daemon is the wired gateway. Every field is set by New and never changed.
type Daemon struct {
	cfg       *config.Config
	o         Options
	log       *slog.Logger
	proxy     *proxy.Proxy
	pins      *pinstore.Store
	sup       *supervisor.Supervisor
	meter     *metrics.Metrics
	scrape    http.Handler // the metrics, served at /metrics on the admin listener
	notify    *notifier
	api       *dbusapi.Server // nil without a bus
	admin     *adminServer    // nil: the console is off
	listeners []net.Listener
	activated bool                  // the listeners came from systemd
	certs     map[string]*certs.Set // of the TLS listeners, by name: read again on reload

	closers   []func() // undone in reverse order by close
	closeOnce sync.Once
}

var _ supervisor.Traffic = (*proxy.Proxy)(nil)

// New builds the daemon. Whatever it opened is closed again if it fails;
// a Daemon it returns releases everything when Run returns.
func New(cfg *config.Config, o Options) (_ *Daemon, err error) {
	d := &Daemon{cfg: cfg, o: o, log: o.Logger, notify: newNotifier(o.Logger.With("component", "notify")),
		meter: metrics.New(o.Version), certs: map[string]*certs.Set{}}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if d.proxy, err = newProxy(cfg, d.meter, d.log.With("component", "proxy")); err != nil {
		return nil, err
	}
	pins, written, err := openPins(cfg, d.proxy, d.notify.poke, d.log.With("component", "pinstore"))
	if err != nil {
		return nil, err
	}
	d.pins = pins
	ss, adminL, activated, err := sockets(cfg)
	if err != nil {
		return nil, err
	}
	d.onClose(func() { closeSockets(ss) })
	d.activated = activated
	if d.listeners, err = frontListeners(cfg, ss, d.certs); err != nil {
		return nil, err
	}
	ls := d.listeners
	conn := d.connectBus()
	runner, closeRunner, err := chooseRunner(cfg, o.Instance, conn, d.log)
	if err != nil {
		return nil, err
	}
	d.onClose(closeRunner)
	d.sup, err = supervisor.New(supervisor.Options{Config: cfg, Runner: runner, Traffic: d.proxy,
		OnChange: d.notify.poke, Observer: d.meter, Figures: d.meter.Figures, PinsWritten: written,
		Logger: d.log.With("component", "supervisor")})
	if err != nil {
		return nil, err
	}
	d.scrape = d.meter.Handler(d.sup, d.proxy, d.pins.Status, d.log.With("component", "metrics"))
	if conn != nil {
		if d.api, err = dbusapi.Export(conn, core{d: d, by: "D-Bus"}, dbusapi.Info{App: cfg.App.Name, Version: o.Version},
			dbusapi.Options{UpgradeTimeout: upgradeWait(cfg), Logger: d.log.With("component", "dbus")}); err != nil {
			return nil, err
		}
		d.onClose(d.api.Close)
	}
	if d.admin, err = newAdmin(cfg, core{d: d, by: "admin console"}, d.scrape, adminL, o.Version, d.log.With("component", "admin")); err != nil {
		return nil, err
	}
	if d.admin != nil && d.admin.certs != nil {
		d.certs[adminCerts] = d.admin.certs // no listener is named "admin"
	}
	d.logCertificates()
	d.log.Info("gateway starting", "app", cfg.App.Name, "listen", addrs(ls), "socket_activated", activated,
		"runner", runner.Name(), "version", o.Version)
	return d, nil
}

func newProxy(cfg *config.Config, obs proxy.Observer, log *slog.Logger) (*proxy.Proxy, error) {
	key, err := affinityKey(cfg.AffinityKeyPath())
	if err != nil {
		return nil, err
	}
	hasher, err := proxy.NewHasher(key)
	if err != nil {
		return nil, err
	}
	s := cfg.Sessions
	trusted, unix := cfg.Gateway.Trusted()
	return proxy.New(proxy.Options{Hasher: hasher, TrustedProxies: trusted, TrustUnixClients: unix,
		SessionCookie: s.Cookie, AffinityCookie: s.AffinityCookie, EndHeader: s.EndHeader,
		LogoutPaths: logoutPaths(s.Logouts()), IdleTimeout: s.IdleTimeout.Duration, SwitchPath: s.SwitchPath,
		Observer: obs, Logger: log})
}

// connectBus opens the bus the D-Bus API and the systemd runner use; nil
// without one (logged, and closed with the daemon otherwise).
func (d *Daemon) connectBus() *dbus.Conn {
	conn, err := connectBus(useUserManager(d.cfg.Systemd.Manager), d.o.Instance, d.log)
	if err != nil {
		// Without systemd there is often no bus at all: expected when the
		// process runner was chosen, worth a warning otherwise.
		level := slog.LevelWarn
		if d.cfg.Gateway.Runner == "process" {
			level = slog.LevelInfo
		}
		d.log.Log(context.Background(), level, "no D-Bus API: gatewayctl and busctl cannot reach this gateway; upgrade with SIGHUP", "error", err)
		return nil
	}
	d.onClose(func() { conn.Close() })
	return conn
}

// onClose stacks f to be run by close, after everything stacked later.
func (d *Daemon) onClose(f func()) { d.closers = append(d.closers, f) }

func (d *Daemon) close() {
	d.closeOnce.Do(func() {
		for i := len(d.closers) - 1; i >= 0; i-- {
			d.closers[i]()
		}
	})
}

// Run serves until ctx ends (SIGTERM), then stops in order: the proxy
// stops accepting and finishes in-flight requests, the supervisor stops
// (or, on a restart under systemd, leaves) the workers, the pins are
// written last. SIGHUP upgrades. It returns an error if the gateway could
// not run: the first generation did not start, or serving failed.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.close()
	defer d.writePID()()
	hup := make(chan os.Signal, 4)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	supCtx, stopSup := context.WithCancel(context.Background())
	defer stopSup()
	supErr := make(chan error, 1)
	go func() { supErr <- d.sup.Run(supCtx) }()
	notifyDone := make(chan struct{})
	go func() { d.notify.run(supCtx, d.sup, d.refreshAPI); close(notifyDone) }()
	defer func() { <-notifyDone }()
	pinsCtx, stopPins := context.WithCancel(context.Background())
	pinsDone := make(chan struct{})
	go func() { d.pins.Run(pinsCtx); close(pinsDone) }()
	defer func() { stopPins(); <-pinsDone }()

	proxyCtx, stopProxy := context.WithCancel(context.Background())
	defer stopProxy()
	proxyErr := make(chan error, 1)
	go func() { proxyErr <- d.serve(proxyCtx) }()
	adminCtx, stopAdmin := context.WithCancel(context.Background())
	defer stopAdmin()
	adminDone := d.admin.start(adminCtx)
	ready := d.sup.Ready()
	for {
		select {
		case <-ready:
			ready = nil
			d.notify.ready()
			d.notify.poke()
			d.log.Info("gateway ready: a generation is active", "event", "ready")
		case <-hup:
			go d.upgrade(supCtx, "SIGHUP")
		case <-ctx.Done():
			d.log.Info("stopping", "cause", context.Cause(ctx))
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
			return nil
		case err := <-supErr:
			d.log.Error("gateway cannot run", "error", err)
			stopProxy()
			<-proxyErr
			return err
		case err := <-proxyErr:
			d.log.Error("serving failed", "error", err)
			stopSup()
			<-supErr
			return err
		}
	}
}

// serve runs the proxy on the listeners. Until the supervisor has
// re-adopted what the previous process left running, connections wait in
// the listening socket's backlog. A socket systemd holds lets them wait for
// the first generation too, instead of answering 503: the socket activated
// the gateway for them.
func (d *Daemon) serve(ctx context.Context) error {
	wait := d.sup.Restored()
	if d.activated {
		wait = d.sup.Ready()
	}
	select {
	case <-wait:
	case <-d.sup.Done():
	}
	g := d.cfg.Gateway
	return d.proxy.Run(ctx, d.listeners, proxy.ServerOptions{
		ReadHeaderTimeout: g.ReadHeaderTimeout.Duration, MaxHeaderBytes: g.MaxHeaderBytes,
		IdleTimeout: g.IdleTimeout.Duration, ShutdownTimeout: g.ShutdownTimeout.Duration,
		ResponseHeaderTimeout: noLimit(g.ResponseHeaderTimeout.Duration),
		BodyIdleTimeout:       noLimit(g.BodyIdleTimeout.Duration),
		WriteTimeout:          noLimit(g.WriteTimeout.Duration)})
}

// refreshAPI publishes the D-Bus properties and signals, when there is an
// API: the notifier calls it on every change.
func (d *Daemon) refreshAPI(ctx context.Context) {
	if d.api != nil {
		d.api.Refresh(ctx)
	}
}

// upgrade runs one upgrade and tells systemd about it: RELOADING=1 while
// it runs, READY=1 after, whatever the outcome (the old generation is
// still serving if it failed).
func (d *Daemon) upgrade(ctx context.Context, by string) (int, error) {
	d.log.Info("upgrade requested", "event", "upgrade", "by", by)
	d.notify.reloading()
	defer d.notify.ready()
	if err := d.reloadCertificates(); err != nil {
		d.log.Error("upgrade failed: a TLS certificate did not load; nothing changed", "event", "upgrade-failed", "error", err)
		d.meter.Upgrade(ctx, err)
		return 0, fmt.Errorf("%w (nothing changed: the listeners keep their certificates, no generation was started)", err)
	}
	gen, err := d.sup.Upgrade(ctx)
	d.meter.Upgrade(ctx, err)
	if err != nil {
		d.log.Error("upgrade failed; the previous generation keeps serving", "event", "upgrade-failed", "error", err)
		return 0, err
	}
	d.log.Info("upgrade done", "event", "upgraded", "generation", gen)
	return gen, nil
}

// upgradeWait bounds a front's wait for an upgrade: the readiness timeout
// and a stop timeout, and more.
func upgradeWait(cfg *config.Config) time.Duration {
	return max(cfg.Readiness.Timeout.Duration+cfg.App.StopTimeout.Duration+30*time.Second, time.Minute)
}

// noLimit maps the config's "0s: no limit" to proxy.ServerOptions', where
// zero means the default and a negative value no limit.
func noLimit(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// addrs names the listeners for the start-up log: "https=0.0.0.0:443"
// for a [listeners] table's.
func addrs(ls []net.Listener) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Addr().String()
		if pl, ok := l.(*proxy.Listener); ok {
			out[i] = pl.Name + "=" + out[i]
		}
	}
	return out
}

func closeSockets(ss []socket) {
	for _, s := range ss {
		s.l.Close()
	}
}

// writePID leaves <runtime_directory>/<app>.pid for runs without systemd,
// so that scripts can send SIGHUP without searching for the process; the
// function returned removes it.
func (d *Daemon) writePID() func() {
	dir := d.cfg.Gateway.RuntimeDirectory
	path := filepath.Join(dir, d.cfg.App.Name+".pid")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		if err = os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err == nil {
			return func() { os.Remove(path) }
		}
	}
	d.log.Warn("cannot write the pid file", "path", path)
	return func() {}
}

func logoutPaths(ls []config.LogoutPath) []proxy.LogoutPath {
	out := make([]proxy.LogoutPath, len(ls))
	for i, l := range ls {
		out[i] = proxy.LogoutPath{Path: l.Path, Methods: l.Methods}
	}
	return out
}
