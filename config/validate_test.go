package config

import (
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"
)

func valid() *Config {
	c := Default()
	c.App.Directory = "/srv/notes"
	c.App.Command = []string{"{dir}/app", "--port={port}", "--gen={generation}.{instance}"}
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   string // "" for no error
	}{
		{"valid", func(c *Config) {}, ""},
		{"fd socket without port", func(c *Config) {
			c.App.Socket = "fd"
			c.App.Command = []string{"{dir}/app"}
		}, ""},
		{"name", func(c *Config) { c.App.Name = ".." },
			`app.name: ".." is not a valid name, want letters, digits, "_", "." and "-" (the default is the config file's name)`},
		{"empty program", func(c *Config) { c.App.Command = []string{"", "x"} },
			"app.command[0]: the program is empty"},
		{"user", func(c *Config) { c.App.User = "no body" },
			`app.user: "no body" is not a valid name or number`},
		{"group", func(c *Config) { c.App.Group = "a:b" },
			`app.group: "a:b" is not a valid name or number`},
		{"numeric user", func(c *Config) { c.App.User, c.App.Group = "1000", "1000" }, ""},
		{"revision", func(c *Config) { c.App.Revision = "v1\n" },
			`app.revision: "v1\n" holds control characters`},
		{"env value", func(c *Config) { c.App.Environment = map[string]string{"A": "x\x00"} },
			"app.environment.A: the value holds a NUL byte"},
		{"env name", func(c *Config) { c.App.Environment = map[string]string{"1A": "x"} },
			`app.environment.1A: not a valid environment variable name (letters, digits and "_", not starting with a digit)`},
		{"readiness path", func(c *Config) { c.Readiness.Path = "health" },
			`readiness.path: "health" is not a path, want one starting with "/", e.g. "/health"`},
		{"readiness path with query", func(c *Config) { c.Readiness.Path = "/health?full=1" }, ""},
		{"affinity key file", func(c *Config) { c.Sessions.AffinityKeyFile = "" },
			`sessions.affinity_key_file: required (a file name, e.g. "affinity.key")`},
		{"end header", func(c *Config) { c.Sessions.EndHeader = "X End" },
			"sessions.end_header: \"X End\" is not a valid header name (letters, digits and any of !#$%&'*+-.^_`|~)"},
		{"affinity cookie", func(c *Config) { c.Sessions.AffinityCookie = "a;b" },
			"sessions.affinity_cookie: \"a;b\" is not a valid cookie name (letters, digits and any of !#$%&'*+-.^_`|~)"},
		{"runtime directory", func(c *Config) { c.Gateway.RuntimeDirectory = "" },
			`gateway.runtime_directory: required (an absolute path, e.g. "/run/gateway")`},
		{"state directory", func(c *Config) { c.Gateway.StateDirectory = "state" },
			`gateway.state_directory: "state" is not an absolute path`},
		{"no listen", func(c *Config) { c.Gateway.Listen = nil },
			`gateway.listen: empty and no [listeners] table, want at least one address, e.g. ["127.0.0.1:8080"]`},
		{"negative idle timeout", func(c *Config) { c.Gateway.IdleTimeout = D(-time.Second) },
			`gateway.idle_timeout: "-1s" is negative, want zero or more`},
		{"zero shutdown timeout", func(c *Config) { c.Gateway.ShutdownTimeout = D(0) }, ""},
		{"zero read header timeout", func(c *Config) { c.Gateway.ReadHeaderTimeout = D(0) },
			`gateway.read_header_timeout: "0s" is not positive, want a duration above zero`},
		{"zero stop timeout", func(c *Config) { c.App.StopTimeout = D(0) },
			`app.stop_timeout: "0s" is not positive, want a duration above zero`},
		{"zero restart backoff", func(c *Config) { c.App.RestartBackoff = D(0) },
			`app.restart_backoff: "0s" is not positive, want a duration above zero`},
		{"zero sessions idle timeout", func(c *Config) { c.Sessions.IdleTimeout = D(0) },
			`sessions.idle_timeout: "0s" is not positive, want a duration above zero`},
		{"zero readiness timeout", func(c *Config) { c.Readiness.Timeout = D(0) },
			`readiness.timeout: "0s" is not positive, want a duration above zero`},
		{"equal backoffs", func(c *Config) { c.App.RestartBackoffMax = c.App.RestartBackoff }, ""},
		{"file name", func(c *Config) { c.File = "/etc/gateway/notes.toml"; c.App.Instances = 0 },
			"/etc/gateway/notes.toml: app.instances: 0 is out of range, want an integer between 1 and 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			var e *Error
			if err != nil && (!errors.As(err, &e) || e.Line != 0) {
				t.Errorf("got %#v, want an *Error without a line", err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	path := t.TempDir() + "/notes.toml"
	if _, err := Load(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want a not-exist error", err)
	}
	writeFile(t, path, app+"instances = 3\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.File != path || c.App.Name != "notes" || c.App.Instances != 3 {
		t.Errorf("got file %q, name %q, instances %d; want %q, %q, 3", c.File, c.App.Name, c.App.Instances, path, "notes")
	}
	writeFile(t, path, app+"instances = 0\n")
	_, err = Load(path)
	want := path + ":4: app.instances: 0 is out of range, want an integer between 1 and 64"
	if err == nil || err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
