package config

import (
	"reflect"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	t.Setenv("RUNTIME_DIRECTORY", "")
	t.Setenv("STATE_DIRECTORY", "")
	c := Default()
	tests := []struct {
		key       string
		got, want any
	}{
		{"gateway.listen", c.Gateway.Listen, []string{"127.0.0.1:8080"}},
		{"gateway.runtime_directory", c.Gateway.RuntimeDirectory, "/run/gateway"},
		{"gateway.state_directory", c.Gateway.StateDirectory, "/var/lib/gateway"},
		{"gateway.read_header_timeout", c.Gateway.ReadHeaderTimeout, D(10 * time.Second)},
		{"gateway.max_header_bytes", c.Gateway.MaxHeaderBytes, 65536},
		{"gateway.idle_timeout", c.Gateway.IdleTimeout, D(2 * time.Minute)},
		{"gateway.shutdown_timeout", c.Gateway.ShutdownTimeout, D(30 * time.Second)},
		{"gateway.response_header_timeout", c.Gateway.ResponseHeaderTimeout, D(time.Minute)},
		{"gateway.body_idle_timeout", c.Gateway.BodyIdleTimeout, D(time.Minute)},
		{"gateway.write_timeout", c.Gateway.WriteTimeout, D(time.Minute)},
		{"gateway.runner", c.Gateway.Runner, "auto"},
		{"app.name", c.App.Name, "app"},
		{"app.directory", c.App.Directory, ""},
		{"app.command", c.App.Command, []string(nil)},
		{"app.environment", c.App.Environment, map[string]string(nil)},
		{"app.user", c.App.User, ""},
		{"app.group", c.App.Group, ""},
		{"app.instances", c.App.Instances, 1},
		{"app.socket", c.App.Socket, "port"},
		{"app.revision", c.App.Revision, ""},
		{"app.stop_timeout", c.App.StopTimeout, D(10 * time.Second)},
		{"app.restart_backoff", c.App.RestartBackoff, D(time.Second)},
		{"app.restart_backoff_max", c.App.RestartBackoffMax, D(30 * time.Second)},
		{"readiness.path", c.Readiness.Path, "/"},
		{"readiness.timeout", c.Readiness.Timeout, D(60 * time.Second)},
		{"readiness.interval", c.Readiness.Interval, D(100 * time.Millisecond)},
		{"sessions.cookie", c.Sessions.Cookie, "JSESSIONID"},
		{"sessions.idle_timeout", c.Sessions.IdleTimeout, D(30 * time.Minute)},
		{"sessions.affinity_cookie", c.Sessions.AffinityCookie, "GATEWAY_AFFINITY"},
		{"sessions.affinity_key_file", c.Sessions.AffinityKeyFile, "affinity.key"},
		{"sessions.end_header", c.Sessions.EndHeader, "X-Gateway-End-Session"},
		{"sessions.logout_paths", c.Sessions.LogoutPaths, []string(nil)},
		{"drain.max_time", c.Drain.MaxTime, D(24 * time.Hour)},
		{"drain.close_window", c.Drain.CloseWindow, D(time.Minute)},
		{"drain.max_generations", c.Drain.MaxGenerations, 5},
		{"systemd.manager", c.Systemd.Manager, "auto"},
		{"systemd.slice", c.Systemd.Slice, ""},
		{"systemd.memory_max", c.Systemd.MemoryMax, ""},
		{"systemd.cpu_quota", c.Systemd.CPUQuota, ""},
		{"systemd.tasks_max", c.Systemd.TasksMax, 0},
		{"canary.judge", c.Canary.Judge, false},
		{"canary.min_requests", c.Canary.MinRequests, 200},
		{"canary.error_margin", c.Canary.ErrorMargin, "1%"},
		{"canary.latency_margin", c.Canary.LatencyMargin, "50%"},
		{"canary.latency_margin_min", c.Canary.LatencyMarginMin, D(10 * time.Millisecond)},
		{"canary.promote_after", c.Canary.PromoteAfter, D(0)},
		{"file", c.File, ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// TestDefaultValid checks that the defaults, with the two required keys
// set, pass Validate.
func TestDefaultValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err == nil {
		t.Errorf("got no error for a config without app.directory and app.command")
	}
	c.App.Directory = "/srv/notes"
	c.App.Command = []string{"{dir}/app"}
	if err := c.Validate(); err != nil {
		t.Errorf("got %q, want no error", err)
	}
}

func TestParseAppliesDefaults(t *testing.T) {
	t.Setenv("RUNTIME_DIRECTORY", "")
	t.Setenv("STATE_DIRECTORY", "")
	c, err := Parse([]byte(app), "/etc/gateway/notes.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.File = "/etc/gateway/notes.toml"
	want.App.Name = "notes"
	want.App.Directory = "/srv/notes"
	want.App.Command = []string{"{dir}/app", "{port}"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v, want %+v", c, want)
	}
}

func TestEnvDirectories(t *testing.T) {
	tests := []struct {
		runtime, state         string
		wantRuntime, wantState string
	}{
		{"", "", "/run/gateway", "/var/lib/gateway"},
		{"/run/notes", "/var/lib/notes", "/run/notes", "/var/lib/notes"},
		{"/run/a:/run/b", "/var/lib/a:/var/lib/b", "/run/a", "/var/lib/a"},
		{":/run/b", "::", "/run/b", "/var/lib/gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.runtime+"|"+tt.state, func(t *testing.T) {
			t.Setenv("RUNTIME_DIRECTORY", tt.runtime)
			t.Setenv("STATE_DIRECTORY", tt.state)
			c, err := Parse([]byte(app), "notes.toml")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Gateway.RuntimeDirectory; got != tt.wantRuntime {
				t.Errorf("runtime_directory: got %q, want %q", got, tt.wantRuntime)
			}
			if got := c.Gateway.StateDirectory; got != tt.wantState {
				t.Errorf("state_directory: got %q, want %q", got, tt.wantState)
			}
		})
	}
}

func TestEnvDirectoriesOverridden(t *testing.T) {
	t.Setenv("RUNTIME_DIRECTORY", "/run/env")
	t.Setenv("STATE_DIRECTORY", "/var/lib/env")
	doc := "[gateway]\nruntime_directory = \"/run/file\"\nstate_directory = \"/var/lib/file\"\n" + app
	c, err := Parse([]byte(doc), "notes.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Gateway.RuntimeDirectory, "/run/file"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := c.Gateway.StateDirectory, "/var/lib/file"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDefaultName(t *testing.T) {
	tests := []struct{ file, want string }{
		{"", "app"},
		{"/etc/gateway/notes.toml", "notes"},
		{"notes.toml", "notes"},
		{"/etc/gateway/notes.conf", "notes.conf"},
		{"/etc/gateway/.toml", "app"},
		{"/", "app"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			if got := defaultName(tt.file); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAffinityKeyPath(t *testing.T) {
	tests := []struct{ state, file, want string }{
		{"/var/lib/gateway", "affinity.key", "/var/lib/gateway/affinity.key"},
		{"/var/lib/gateway", "keys/a.key", "/var/lib/gateway/keys/a.key"},
		{"/var/lib/gateway", "/etc/gateway/a.key", "/etc/gateway/a.key"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c := Default()
			c.Gateway.StateDirectory = tt.state
			c.Sessions.AffinityKeyFile = tt.file
			if got := c.AffinityKeyPath(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestZeroOverridesDefault(t *testing.T) {
	c, err := Parse([]byte("[drain]\nmax_time = \"0s\"\n[gateway]\nlisten = [\"unix:/run/g.sock\"]\n"+app), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Drain.MaxTime.Duration != 0 {
		t.Errorf("got %q, want %q", c.Drain.MaxTime, "0s")
	}
	if got, want := c.Gateway.Listen, []string{"unix:/run/g.sock"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
