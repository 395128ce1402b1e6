package daemon

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/proxy"
	"github.com/gatewayd/gateway/proxy/pinstore"
	"github.com/gatewayd/gateway/supervisor"
)

// openPins loads the pins the previous run left in
// <runtime_directory>/<app>.pins into p. A file the store refuses (another
// app's, another version's) is set aside as <app>.pins.refused, not merged
// and not overwritten; the gateway starts without those pins. written is
// when the pins loaded were last written (zero without any), which the
// supervisor needs after a crash (supervisor.Options.PinsWritten).
func openPins(cfg *config.Config, p *proxy.Proxy, onError func(), log *slog.Logger) (s *pinstore.Store, written time.Time, err error) {
	dir := cfg.Gateway.RuntimeDirectory
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, written, err
	}
	o := pinstore.Options{Path: filepath.Join(dir, cfg.App.Name+".pins"), App: cfg.App.Name, Table: p,
		IdleTimeout: cfg.Sessions.IdleTimeout.Duration, OnError: onError, Logger: log}
	if fi, err := os.Stat(o.Path); err == nil {
		written = fi.ModTime() // before Open, which may rewrite the file
	}
	s, err = pinstore.Open(o)
	if errors.Is(err, pinstore.ErrRefused) {
		written = time.Time{}
		aside, aerr := supervisor.SetAside(o.Path)
		if aerr != nil {
			return nil, written, errors.Join(err, aerr)
		}
		log.Error("refusing the pin store; starting without its sessions", "event", "state-refused",
			"path", o.Path, "error", err, "moved_to", aside)
		s, err = pinstore.Open(o)
	}
	if err != nil {
		return nil, written, err
	}
	if n := p.PinCount(); n > 0 {
		log.Info("loaded the pins of the previous run", "path", o.Path, "sessions", n)
	}
	return s, written, nil
}
