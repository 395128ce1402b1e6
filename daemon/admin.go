package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/console"
	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/internal/certs"
)

// adminServer serves the admin console, and the metrics at /metrics, on a
// listener of their own: the socket systemd passed as "admin", else
// admin.listen. The console drives the same core as the D-Bus API.
type adminServer struct {
	l       net.Listener
	console *console.Console
	srv     *http.Server
	log     *slog.Logger
	login   bool       // a password is asked for
	tls     bool       // srv.TLSConfig holds the console's certificate
	certs   *certs.Set // the console's certificate, when tls
}

// newAdmin sets the console of c up on activated, the socket systemd
// passed as "admin" (nil if none), else on admin.listen; without either the
// console is off (nil, nil). A listener other machines can reach needs
// admin.password_hash: the configuration says so for admin.listen, and
// here the address of a passed socket is checked too. metrics is served
// at /metrics.
func newAdmin(cfg *config.Config, c fleet.Core, metrics http.Handler, activated net.Listener, version string, log *slog.Logger) (*adminServer, error) {
	l := activated
	if l != nil && cfg.Admin.Listen != "" {
		log.Info("serving the admin console on the socket systemd passed; admin.listen is not used", "admin.listen", cfg.Admin.Listen)
	}
	if l == nil && cfg.Admin.Listen != "" {
		var err error
		if l, err = listenAdmin(cfg.Admin.Listen); err != nil {
			return nil, err
		}
	}
	if l == nil {
		return nil, nil
	}
	page, err := console.New(c, console.Options{App: cfg.App.Name, Version: version,
		User: cfg.Admin.User, PasswordHash: cfg.Admin.PasswordHash, Local: localAddr(l.Addr()),
		Metrics: metrics, Logger: log})
	if err != nil {
		l.Close()
		if errors.Is(err, console.ErrNeedsPassword) && activated != nil {
			return nil, fmt.Errorf("admin console on the socket systemd passed (%s): %w", l.Addr(), err)
		}
		return nil, fmt.Errorf("admin console on %s: %w", l.Addr(), err)
	}
	// An upgrade from the console answers once the new generation is
	// ready: the write timeout leaves it that long.
	srv := &http.Server{Handler: page,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: upgradeWait(cfg),
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	a := &adminServer{l: l, console: page, srv: srv, log: log, login: cfg.Admin.PasswordHash != "", tls: cfg.Admin.TLS()}
	if a.tls {
		if a.certs, err = adminTLS(cfg.Admin); err != nil {
			l.Close()
			return nil, err
		}
		srv.TLSConfig = a.certs.Config(false)
	} else if !localAddr(l.Addr()) && !cfg.Admin.PlainHTTPOK {
		log.Warn("the admin console is served over plain HTTP to other machines: its password and session cookie cross the network in clear. "+
			"Set admin.tls_certificate and admin.tls_key, or admin.plain_http_ok = true if a proxy in front terminates TLS", "url", a.where())
	}
	return a, nil
}

// adminTLS loads the console's certificate (TLS 1.2 at least, the standard
// library's choice of ciphers), read again on reload as the listeners' are.
func adminTLS(a config.Admin) (*certs.Set, error) {
	set, err := certs.New([]config.Certificate{{Cert: a.TLSCertificate, Key: a.TLSKey}})
	if err != nil {
		return nil, fmt.Errorf("admin console: loading admin.tls_certificate %s and admin.tls_key %s: %w", a.TLSCertificate, a.TLSKey, err)
	}
	return set, nil
}

// listenAdmin opens admin.listen: "host:port" or "unix:/path" (a socket
// only its owner and group may connect to).
func listenAdmin(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		os.Remove(path)
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, fmt.Errorf("listening on admin.listen %q: %w", addr, err)
		}
		if err := os.Chmod(path, 0o660); err != nil {
			l.Close()
			return nil, fmt.Errorf("listening on admin.listen %q: %w", addr, err)
		}
		return l, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on admin.listen %q: %w", addr, err)
	}
	return l, nil
}

// localAddr reports whether only this machine can reach a listener: a unix
// socket or a loopback address (not a wildcard one).
func localAddr(a net.Addr) bool {
	switch a := a.(type) {
	case *net.UnixAddr:
		return true
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	}
	return false
}

// where is the console's address as people type it.
func (a *adminServer) where() string {
	if u, ok := a.l.Addr().(*net.UnixAddr); ok {
		return "unix:" + u.Name
	}
	if a.tls {
		return "https://" + a.l.Addr().String() + "/"
	}
	return "http://" + a.l.Addr().String() + "/"
}

// start serves until ctx is done, then lets running requests finish for
// a few seconds; the channel is closed once everything has stopped. A nil
// server (the console is off) is stopped already.
func (a *adminServer) start(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if a == nil {
		close(done)
		return done
	}
	a.log.Info("admin console serving", "url", a.where(), "login", a.login, "tls", a.tls, "metrics", "/metrics")
	var wg sync.WaitGroup
	wg.Go(func() { a.console.Run(ctx) })
	served := make(chan error, 1)
	go func() {
		if a.tls {
			served <- a.srv.ServeTLS(limitConns(a.l, maxConsoleConns), "", "")
		} else {
			served <- a.srv.Serve(limitConns(a.l, maxConsoleConns))
		}
	}()
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := a.srv.Shutdown(stop); err != nil {
				a.srv.Close()
			}
			<-served
		case err := <-served:
			// The proxy goes on: the console is not worth stopping the
			// app for.
			a.log.Error("the admin console stopped serving", "url", a.where(), "error", err)
		}
		wg.Wait()
	}()
	return done
}
