package config

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Default returns a Config with every default applied. App.Directory and
// App.Command, which have no default, are empty; App.Name is "app".
func Default() *Config {
	c := &Config{}
	c.setDefaults()
	return c
}

// setDefaults sets every field to its default. It is the one place
// defaults are defined: Parse applies it before decoding the file over it,
// so a key the file sets (even to zero) wins.
func (c *Config) setDefaults() {
	c.Gateway = Gateway{
		Listen:            []string{"127.0.0.1:8080"},
		RuntimeDirectory:  envDir("RUNTIME_DIRECTORY", "/run/gateway"),
		StateDirectory:    envDir("STATE_DIRECTORY", "/var/lib/gateway"),
		ReadHeaderTimeout: D(10 * time.Second),
		MaxHeaderBytes:    65536,
		IdleTimeout:       D(2 * time.Minute),
		ShutdownTimeout:   D(30 * time.Second),

		ResponseHeaderTimeout: D(time.Minute),
		BodyIdleTimeout:       D(time.Minute),
		WriteTimeout:          D(time.Minute),
		Runner:                "auto",
	}
	c.App = App{
		Name:              defaultName(c.File),
		Instances:         1,
		Socket:            "port",
		StopTimeout:       D(10 * time.Second),
		RestartBackoff:    D(time.Second),
		RestartBackoffMax: D(30 * time.Second),
	}
	c.Readiness = Readiness{
		Path:     "/",
		Timeout:  D(60 * time.Second),
		Interval: D(100 * time.Millisecond),
	}
	c.Sessions = Sessions{
		Cookie:          "JSESSIONID",
		IdleTimeout:     D(30 * time.Minute),
		AffinityCookie:  "GATEWAY_AFFINITY",
		AffinityKeyFile: "affinity.key",
		EndHeader:       "X-Gateway-End-Session",
	}
	c.Drain = Drain{
		MaxTime:        D(24 * time.Hour),
		CloseWindow:    D(time.Minute),
		MaxGenerations: 5,
	}
	c.Admin = Admin{User: "admin"}
	c.Canary = Canary{MinRequests: 200, ErrorMargin: "1%", LatencyMargin: "50%", LatencyMarginMin: D(10 * time.Millisecond)}
	c.Systemd = Systemd{
		Manager: "auto",
	}
}

// envDir returns the first path of the colon-separated list in the
// environment variable name (as systemd sets RUNTIME_DIRECTORY and
// STATE_DIRECTORY), or def if it is unset or empty.
func envDir(name, def string) string {
	for _, p := range strings.Split(os.Getenv(name), ":") {
		if p != "" {
			return p
		}
	}
	return def
}

// defaultName is the base name of file without ".toml", or "app".
func defaultName(file string) string {
	if file == "" {
		return "app"
	}
	name := strings.TrimSuffix(filepath.Base(file), ".toml")
	if name == "" || name == "." || name == string(filepath.Separator) {
		return "app"
	}
	return name
}

// AffinityKeyPath returns Sessions.AffinityKeyFile, resolved against
// Gateway.StateDirectory if it is relative.
func (c *Config) AffinityKeyPath() string {
	f := c.Sessions.AffinityKeyFile
	if filepath.IsAbs(f) {
		return filepath.Clean(f)
	}
	return filepath.Join(c.Gateway.StateDirectory, f)
}
