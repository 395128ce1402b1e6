package config

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// app is a valid [app] table, lines 1 to 3.
const app = "[app]\ndirectory = \"/srv/notes\"\ncommand = [\"{dir}/app\", \"{port}\"]\n"

func TestParseErrors(t *testing.T) {
	const f = "notes.toml"
	tests := []struct {
		name string
		doc  string
		want []string
	}{{
		name: "unknown top-level table",
		doc:  app + "[gatway]\nlisten = []\n",
		want: []string{f + ":4: gatway: unknown table (did you mean gateway?)"},
	}, {
		name: "unknown top-level key",
		doc:  "instances = 2\n" + app,
		want: []string{f + ":1: instances: unknown key (did you mean app.instances?)"},
	}, {
		name: "unknown key in table",
		doc:  app + "colour = \"red\"\n",
		want: []string{f + ":4: app.colour: unknown key"},
	}, {
		name: "typo suggestion",
		doc:  app + "[sessions]\ncookie = \"SID\"\nidle_timout = \"5m\"\n",
		want: []string{f + ":6: sessions.idle_timout: unknown key (did you mean sessions.idle_timeout?)"},
	}, {
		name: "key in the wrong table",
		doc:  app + "idle_timeout = \"5m\"\n",
		want: []string{f + ":4: app.idle_timeout: unknown key (did you mean gateway.idle_timeout or sessions.idle_timeout?)"},
	}, {
		name: "unknown key and unknown sub-table",
		doc:  app + "[gateway]\nx = 1\n[drain]\n[readiness]\n\n[sessions]\n\n\n[sessions.extra]\n",
		want: []string{
			f + ":5: gateway.x: unknown key",
			f + ":12: sessions.extra: unknown table",
		},
	}, {
		name: "wrong type",
		doc:  app + "instances = \"two\"\n",
		want: []string{f + ":4: app.instances: got a string, want an integer between 1 and 64"},
	}, {
		name: "wrong type for a duration",
		doc:  app + "stop_timeout = 10\n",
		want: []string{f + `:4: app.stop_timeout: got an integer, want a duration such as "90s" or "5m"`},
	}, {
		name: "wrong type for a table",
		doc:  "gateway = 1\n" + app,
		want: []string{f + ":1: gateway: got an integer, want a table"},
	}, {
		name: "wrong type for an array",
		doc:  app + "[sessions]\nlogout_paths = \"/logout\"\n",
		want: []string{f + ":5: sessions.logout_paths: got a string, want an array of strings"},
	}, {
		name: "wrong type in a multi-line array",
		doc:  app + "[gateway]\nlisten = [\n  \"127.0.0.1:1\",\n  8080,\n]\n",
		want: []string{f + ":5: gateway.listen[1]: got an integer, want a string"},
	}, {
		name: "wrong type hides the default's problems",
		doc:  "[app]\ndirectory = 5\ncommand = [true]\n",
		want: []string{
			f + ":2: app.directory: got an integer, want a string",
			f + ":3: app.command[0]: got a boolean, want a string",
		},
	}, {
		name: "bad duration",
		doc:  app + "[drain]\nmax_time = \"5 minutes\"\n",
		want: []string{f + `:5: drain.max_time: "5 minutes" is not a duration (use Go syntax: "90s", "5m", "8h")`},
	}, {
		name: "negative duration",
		doc:  app + "[drain]\nclose_window = \"-1m\"\n",
		want: []string{f + `:5: drain.close_window: "-1m" is negative, want zero or more`},
	}, {
		name: "zero timeout",
		doc:  app + "[readiness]\ninterval = \"0s\"\n",
		want: []string{f + `:5: readiness.interval: "0s" is not positive, want a duration above zero`},
	}, {
		name: "zero max_time is allowed",
		doc:  app + "[drain]\nmax_time = \"0s\"\n",
	}, {
		name: "bad socket",
		doc:  app + "socket = \"tcp\"\n",
		want: []string{f + `:4: app.socket: "tcp" is not valid, want "port" or "fd"`},
	}, {
		name: "bad runner",
		doc:  "[gateway]\nrunner = \"docker\"\n" + app,
		want: []string{f + `:2: gateway.runner: "docker" is not valid, want "auto", "process" or "systemd"`},
	}, {
		name: "too few instances",
		doc:  app + "instances = 0\n",
		want: []string{f + ":4: app.instances: 0 is out of range, want an integer between 1 and 64"},
	}, {
		name: "too many instances",
		doc:  app + "instances = 65\n",
		want: []string{f + ":4: app.instances: 65 is out of range, want an integer between 1 and 64"},
	}, {
		name: "max_header_bytes",
		doc:  "[gateway]\nmax_header_bytes = 100\n" + app,
		want: []string{f + ":2: gateway.max_header_bytes: 100 is out of range, want an integer between 1024 and 16777216"},
	}, {
		name: "trusted_proxies",
		doc:  "[gateway]\ntrusted_proxies = [\"10.0.0.0/8\", \"proxy.example\", \"10.1.2.3/8\", \"unix\"]\n" + app,
		want: []string{
			f + `:2: gateway.trusted_proxies[1]: "proxy.example" is not an address, a CIDR or "unix", e.g. "10.0.0.0/8"`,
			f + `:2: gateway.trusted_proxies[2]: "10.1.2.3/8" has host bits set, want "10.0.0.0/8"`,
		},
	}, {
		name: "missing required keys",
		doc:  "[app]\ninstances = 2\n",
		want: []string{
			f + `: app.directory: required (an absolute path, e.g. "/srv/notes/current")`,
			f + `: app.command: required (the worker command, e.g. ["{dir}/app", "--port", "{port}"])`,
		},
	}, {
		name: "empty command",
		doc:  "[app]\ndirectory = \"/srv/notes\"\ncommand = []\n",
		want: []string{f + `:3: app.command: required (the worker command, e.g. ["{dir}/app", "--port", "{port}"])`},
	}, {
		name: "relative directory",
		doc:  "[app]\ndirectory = \"srv/notes\"\ncommand = [\"app\"]\n",
		want: []string{f + `:2: app.directory: "srv/notes" is not an absolute path`},
	}, {
		name: "unknown placeholder",
		doc:  "[app]\ndirectory = \"/srv/notes\"\ncommand = [\"app\", '{\"json\": 1}',\n \"{prot}\"]\n",
		want: []string{f + ":3: app.command[2]: unknown placeholder {prot} (known: {port}, {dir}, {generation}, {instance})"},
	}, {
		name: "port placeholder with fd socket",
		doc:  app + "socket = \"fd\"\n",
		want: []string{f + `:3: app.command[1]: {port} is not available with socket = "fd"`},
	}, {
		name: "environment",
		doc:  app + "[app.environment]\nLANG = \"C\"\nPORT = \"1\"\n\"A B\" = \"x\"\nN = 1\n",
		want: []string{
			f + ":6: app.environment.PORT: set by the gateway, it cannot be set here",
			f + `:7: app.environment."A B": not a valid environment variable name (letters, digits and "_", not starting with a digit)`,
			f + ":8: app.environment.N: got an integer, want a string",
		},
	}, {
		name: "invalid cookie name",
		doc:  app + "[sessions]\ncookie = \"my cookie\"\n",
		want: []string{f + ":5: sessions.cookie: \"my cookie\" is not a valid cookie name (letters, digits and any of !#$%&'*+-.^_`|~)"},
	}, {
		name: "equal cookie names",
		doc:  app + "[sessions]\ncookie = \"GATEWAY_AFFINITY\"\n",
		want: []string{f + `:5: sessions.affinity_cookie: must differ from sessions.cookie (both are "GATEWAY_AFFINITY")`},
	}, {
		name: "empty end header",
		doc:  app + "[sessions]\nend_header = \"\"\n",
		want: []string{f + `:5: sessions.end_header: required (a header name, e.g. "X-Gateway-End-Session")`},
	}, {
		name: "bad logout paths",
		doc: app + "[sessions]\nlogout_paths = [\"/logout\", \"logout\", \"/x?y\", \"POST /logout\", \"post /out\", " +
			"\"GET,POST\", \"/app//out\", \"/a/../out\", \"/out;x=1\", \"GET,POST /app/logout.jsp\"]\n",
		want: []string{
			f + `:5: sessions.logout_paths[1]: "logout" is not a path, want one starting with "/" and without a query, e.g. "/logout" or "POST /logout"`,
			f + `:5: sessions.logout_paths[2]: "/x?y" is not a path, want one starting with "/" and without a query, e.g. "/logout" or "POST /logout"`,
			f + `:5: sessions.logout_paths[3]: "/logout" is listed twice`,
			f + `:5: sessions.logout_paths[4]: "post /out": "post" is not a method, want e.g. "POST /logout" or "GET,POST /logout"`,
			f + `:5: sessions.logout_paths[5]: "GET,POST" is not a path, want one starting with "/" and without a query, e.g. "/logout" or "POST /logout"`,
			f + `:5: sessions.logout_paths[6]: "/app//out": write the path as the app sees it, without "//", "." or ".." segments`,
			f + `:5: sessions.logout_paths[7]: "/a/../out": write the path as the app sees it, without "//", "." or ".." segments`,
			f + `:5: sessions.logout_paths[8]: "/out;x=1" is not a path, want one starting with "/" and without a query, e.g. "/logout" or "POST /logout"`,
		},
	}, {
		name: "bad listen addresses",
		doc:  "[gateway]\nlisten = [\"unix:/run/a.sock\", \":8080\", \"[::1]:8080\", \"localhost\", \"unix:a.sock\", \":0\", \":8080\"]\n" + app,
		want: []string{
			f + `:2: gateway.listen[3]: "localhost" is not "host:port" or "unix:/absolute/path"`,
			f + `:2: gateway.listen[4]: "a.sock" is not an absolute path (want "unix:/absolute/path")`,
			f + `:2: gateway.listen[5]: ":0": the port is not a number between 1 and 65535`,
			f + `:2: gateway.listen[6]: ":8080" is listed twice`,
		},
	}, {
		name: "backoff max below backoff",
		doc:  app + "restart_backoff = \"1m\"\n",
		want: []string{f + `:4: app.restart_backoff_max: "30s" is less than app.restart_backoff ("1m")`},
	}, {
		name: "several errors sorted by line",
		doc: "[sessions]\n" + // 1
			"cookie = \"a b\"\n" + // 2
			"[app]\n" + // 3
			"directory = \"rel\"\n" + // 4
			"command = [\"x\"]\n" + // 5
			"instances = 100\n" + // 6
			"[gateway]\n" + // 7
			"read_header_timeout = \"10 s\"\n" + // 8
			"runner = \"systemd\"\n" + // 9
			"[drain]\n" + // 10
			"max_tme = \"1h\"\n", // 11
		want: []string{
			f + ":2: sessions.cookie: \"a b\" is not a valid cookie name (letters, digits and any of !#$%&'*+-.^_`|~)",
			f + `:4: app.directory: "rel" is not an absolute path`,
			f + ":6: app.instances: 100 is out of range, want an integer between 1 and 64",
			f + `:8: gateway.read_header_timeout: "10 s" is not a duration (use Go syntax: "90s", "5m", "8h")`,
			f + ":11: drain.max_tme: unknown key (did you mean drain.max_time?)",
		},
	}, {
		name: "inline table",
		doc:  "sessions = { cookie = \"a b\", idle_timeout = 5, end_header = \"X-End\" }\n" + app,
		want: []string{
			f + `:1: sessions.idle_timeout: got an integer, want a duration such as "90s" or "5m"`,
			f + ":1: sessions.cookie: \"a b\" is not a valid cookie name (letters, digits and any of !#$%&'*+-.^_`|~)",
		},
	}, {
		name: "array of tables",
		doc:  app + "[[readiness]]\npath = \"/\"\n",
		want: []string{f + ":4: readiness: got an array of tables, want a table"},
	}, {
		name: "date-time",
		doc:  app + "revision = 2024-05-01T10:00:00Z\n",
		want: []string{f + ":4: app.revision: got a date-time, want a string"},
	}, {
		name: "table under the wrong table",
		doc:  app + "sessions = { cookie = \"SID\" }\n",
		want: []string{f + ":4: app.sessions: unknown table (did you mean sessions?)"},
	}, {
		name: "dotted keys",
		doc:  "\ngateway.runner = \"x\"\nsessions.logout_paths = [\n\"/a\",\n]\ndrain.max_time = 1.5\n" + app,
		want: []string{
			f + `:2: gateway.runner: "x" is not valid, want "auto", "process" or "systemd"`,
			f + ":6: drain.max_time: got a float, want a duration such as \"90s\" or \"5m\"",
		},
	}, {
		name: "systemd table",
		doc: app + "[systemd]\nmanager = \"user\"\nslice = \"gateway-notes.slice\"\n" +
			"memory_max = \"2G\"\ncpu_quota = \"150%\"\ntasks_max = 512\n",
	}, {
		name: "bad manager",
		doc:  app + "[systemd]\nmanager = \"session\"\n",
		want: []string{f + `:5: systemd.manager: "session" is not valid, want "auto", "system" or "user"`},
	}, {
		name: "slice without .slice",
		doc:  app + "[systemd]\n\nslice = \"gateway\"\n",
		want: []string{f + `:6: systemd.slice: "gateway" must end in ".slice"`},
	}, {
		name: "bad memory_max",
		doc:  app + "[systemd]\nmemory_max = \"512 megs\"\n",
		want: []string{f + `:5: systemd.memory_max: "512 megs" is not a size (use bytes or a K, M, G or T suffix, e.g. "512M", or "infinity")`},
	}, {
		name: "bad cpu_quota",
		doc:  app + "[systemd]\ncpu_quota = \"150\"\n",
		want: []string{f + `:5: systemd.cpu_quota: "150" is not a percentage (e.g. "150%")`},
	}, {
		name: "canary table",
		doc: app + "[canary]\njudge = true\nmin_requests = 500\nerror_margin = \"0.5%\"\nlatency_margin = \"25%\"\n" +
			"latency_margin_min = \"5ms\"\npromote_after = \"30m\"\n",
	}, {
		name: "bad canary margins",
		doc: app + "[canary]\nmin_requests = 0\nerror_margin = \"1\"\nlatency_margin = \"20000%\"\n" +
			"promote_after = \"-1s\"\nerror_margn = \"1%\"\n",
		want: []string{
			f + ":5: canary.min_requests: 0 is out of range, want an integer between 1 and 1000000000",
			f + `:6: canary.error_margin: "1" is not a percentage (e.g. "1%" or "12.5%")`,
			f + `:7: canary.latency_margin: "20000%" is too large, want at most 10000%`,
			f + `:8: canary.promote_after: "-1s" is negative, want zero or more`,
			f + ":9: canary.error_margn: unknown key (did you mean canary.error_margin?)",
		},
	}, {
		name: "negative tasks_max",
		doc:  app + "[systemd]\ntasks_max = -1\n",
		want: []string{f + ":5: systemd.tasks_max: -1 is negative, want zero or more (0 for no limit)"},
	}, {
		name: "systemd wrong types",
		doc: "[systemd]\n" + // 1
			"memory_max = 536870912\n" + // 2
			"cpu_quota = 1.5\n" + // 3
			"tasks_max = \"100\"\n" + // 4
			"manager = true\n" + // 5
			app,
		want: []string{
			f + `:2: systemd.memory_max: got an integer, want a size such as "512M" or "infinity"`,
			f + `:3: systemd.cpu_quota: got a float, want a percentage such as "150%"`,
			f + ":4: systemd.tasks_max: got a string, want an integer of zero or more (0 for no limit)",
			f + `:5: systemd.manager: got a boolean, want "auto", "system" or "user"`,
		},
	}, {
		name: "systemd typo suggestions",
		doc:  app + "[systmd]\nslice = \"a.slice\"\n[systemd]\nmemory_mx = \"1G\"\ncpu_qouta = \"50%\"\n[gateway]\nslice = \"a.slice\"\n",
		want: []string{
			f + ":4: systmd: unknown table (did you mean systemd?)",
			f + ":7: systemd.memory_mx: unknown key (did you mean systemd.memory_max?)",
			f + ":8: systemd.cpu_qouta: unknown key (did you mean systemd.cpu_quota?)",
			f + ":10: gateway.slice: unknown key (did you mean systemd.slice?)",
		},
	}, {
		name: "several systemd errors sorted by line",
		doc: app + // 1-3
			"[systemd]\n" + // 4
			"tasks_max = -5\n" + // 5
			"cpu_quota = \"0%\"\n" + // 6
			"memory_max = \"0\"\n" + // 7
			"slice = \"my slice.slice\"\n" + // 8
			"manager = \"System\"\n", // 9
		want: []string{
			f + ":5: systemd.tasks_max: -5 is negative, want zero or more (0 for no limit)",
			f + `:6: systemd.cpu_quota: "0%" is not above zero ("" for no limit)`,
			f + `:7: systemd.memory_max: "0" is not above zero ("" for no limit)`,
			f + `:8: systemd.slice: "my slice.slice" is not a valid slice name (letters, digits and any of :-_.\ before ".slice")`,
			f + `:9: systemd.manager: "System" is not valid, want "auto", "system" or "user"`,
		},
	}, {
		name: "systemd under the wrong table",
		doc:  app + "systemd = { memory_max = \"1 G\" }\n",
		want: []string{f + ":4: app.systemd: unknown table (did you mean systemd?)"},
	}, {
		name: "systemd dotted keys",
		doc:  "systemd.memory_max = \"1 G\"\n" + app,
		want: []string{f + `:1: systemd.memory_max: "1 G" is not a size (use bytes or a K, M, G or T suffix, e.g. "512M", or "infinity")`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.doc), f)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got error %q, want none", err)
				}
				return
			}
			if c != nil {
				t.Errorf("got a config with the error, want nil")
			}
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != len(tt.want) {
				t.Errorf("got %T with %d problems, want Errors with %d", err, len(errs), len(tt.want))
			}
		})
	}
}

func TestParseSyntaxError(t *testing.T) {
	tests := []struct {
		doc  string
		line int
	}{
		{app + "[gateway]\nlisten = [\"a\",,]\n", 5},
		{app + "instances = \n", 4},
		{"[app]\n[app]\n", 2},
		{app + "command = [\"again\"]\n", 4},
		{"x = \"\"\"\nnever closed\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), "notes.toml")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if e.Line != tt.line {
				t.Errorf("got line %d, want %d (%q)", e.Line, tt.line, err)
			}
			prefix := "notes.toml:" + strconv.Itoa(tt.line) + ": syntax error: "
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("got %q, want prefix %q", err, prefix)
			}
			var pe toml.ParseError
			if !errors.As(err, &pe) {
				t.Errorf("got %v, want it to wrap a toml.ParseError", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("got %q, want one problem only", err)
			}
		})
	}
}

func TestParseNoName(t *testing.T) {
	_, err := Parse([]byte("[app]\ndirectory = 1\ncommand = [\"x\"]\n"), "")
	want := "line 2: app.directory: got an integer, want a string"
	if err == nil || err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestParseBadNameFromFile(t *testing.T) {
	_, err := Parse([]byte(app), "/etc/gateway/my notes.toml")
	want := `/etc/gateway/my notes.toml: app.name: "my notes" is not a valid name, want letters, ` +
		`digits, "_", "." and "-" (the default is the config file's name)`
	if err == nil || err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}
