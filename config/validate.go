package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// checker collects the problems Validate finds.
type checker struct {
	errs Errors
}

func (ck *checker) add(key, format string, args ...any) {
	ck.errs = append(ck.errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// addRel is add for a problem that is as much about the key related: its
// line is used if key is not in the file.
func (ck *checker) addRel(key, related, format string, args ...any) {
	ck.add(key, format, args...)
	ck.errs[len(ck.errs)-1].related = related
}

func (ck *checker) positive(key string, d Duration) {
	if d.Duration <= 0 {
		ck.add(key, "%q is not positive, want a duration above zero", d)
	}
}

func (ck *checker) nonNegative(key string, d Duration) {
	if d.Duration < 0 {
		ck.add(key, "%q is negative, want zero or more", d)
	}
}

func (ck *checker) oneOf(key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	ck.add(key, "%q is not valid, want %s", v, wants[key])
}

func (ck *checker) between(key string, v, lo, hi int) {
	if v < lo || v > hi {
		ck.add(key, "%d is out of range, want %s", v, wants[key])
	}
}

func (ck *checker) absPath(key, v, example string) {
	if v == "" {
		ck.add(key, "required (an absolute path, e.g. %q)", example)
	} else if !isAbs(v) {
		ck.add(key, "%q is not an absolute path", v)
	}
}

// validate returns every bad value in c, without file or lines.
func (c *Config) validate() Errors {
	ck := &checker{}
	c.Gateway.check(ck)
	c.App.check(ck)
	c.Readiness.check(ck)
	c.Sessions.check(ck)
	c.Drain.check(ck)
	c.Systemd.check(ck)
	c.Admin.check(ck)
	c.Canary.check(ck)
	c.checkListeners(ck)
	if p := c.Sessions.SwitchPath; p != "" {
		switch {
		case !validPath(p) || containsAny(p, "?#"):
			ck.add("sessions.switch_path", `%q is not a path, want one starting with "/" and without a query, e.g. "/.gateway/switch"`, p)
		case slices.ContainsFunc(c.Sessions.Logouts(), func(l LogoutPath) bool { return l.Path == p }):
			ck.add("sessions.switch_path", "%q is also a logout path", p)
		}
	}
	return ck.errs
}

func (g *Gateway) check(ck *checker) {
	seen := map[string]bool{}
	for i, a := range g.Listen {
		key := indexKey("gateway.listen", i)
		if msg := checkListen(a); msg != "" {
			ck.add(key, "%s", msg)
		} else if seen[a] {
			ck.add(key, "%q is listed twice", a)
		}
		seen[a] = true
	}
	ck.absPath("gateway.runtime_directory", g.RuntimeDirectory, "/run/gateway")
	ck.absPath("gateway.state_directory", g.StateDirectory, "/var/lib/gateway")
	ck.positive("gateway.read_header_timeout", g.ReadHeaderTimeout)
	ck.between("gateway.max_header_bytes", g.MaxHeaderBytes, 1024, 16<<20)
	ck.nonNegative("gateway.idle_timeout", g.IdleTimeout)
	ck.nonNegative("gateway.shutdown_timeout", g.ShutdownTimeout)
	ck.nonNegative("gateway.response_header_timeout", g.ResponseHeaderTimeout)
	ck.nonNegative("gateway.body_idle_timeout", g.BodyIdleTimeout)
	ck.nonNegative("gateway.write_timeout", g.WriteTimeout)
	ck.oneOf("gateway.runner", g.Runner, "auto", "process", "systemd")
	for i, p := range g.TrustedProxies {
		if _, _, err := ParseTrusted(p); err != nil {
			ck.add(indexKey("gateway.trusted_proxies", i), "%v", err)
		}
	}
}

func (a *App) check(ck *checker) {
	if !validName(a.Name) {
		ck.add("app.name", `%q is not a valid name, want letters, digits, "_", "." and "-" `+
			`(the default is the config file's name)`, a.Name)
	}
	ck.absPath("app.directory", a.Directory, "/srv/notes/current")
	a.checkCommand(ck)
	for _, name := range sortedKeys(a.Environment) {
		key := toml.Key{"app", "environment", name}.String()
		if msg := checkEnv(name, a.Environment[name]); msg != "" {
			ck.add(key, "%s", msg)
		}
	}
	ck.account("app.user", a.User)
	ck.account("app.group", a.Group)
	ck.between("app.instances", a.Instances, 1, 64)
	ck.oneOf("app.socket", a.Socket, "port", "fd")
	if hasControl(a.Revision) {
		ck.add("app.revision", "%q holds control characters", a.Revision)
	}
	ck.positive("app.stop_timeout", a.StopTimeout)
	ck.positive("app.restart_backoff", a.RestartBackoff)
	if a.RestartBackoffMax.Duration < a.RestartBackoff.Duration && a.RestartBackoff.Duration > 0 {
		ck.addRel("app.restart_backoff_max", "app.restart_backoff",
			"%q is less than app.restart_backoff (%q)", a.RestartBackoffMax, a.RestartBackoff)
	}
}

func (a *App) checkCommand(ck *checker) {
	if len(a.Command) == 0 {
		ck.add("app.command", `required (the worker command, e.g. ["{dir}/app", "--port", "{port}"])`)
		return
	}
	if a.Command[0] == "" {
		ck.add("app.command[0]", "the program is empty")
	}
	for i, arg := range a.Command {
		for _, p := range placeholders(arg) {
			switch {
			case !knownPlaceholder(p):
				ck.add(indexKey("app.command", i), "unknown placeholder %s (known: %s)", p, placeholderList)
			case p == "{port}" && a.Socket == "fd":
				ck.addRel(indexKey("app.command", i), "app.socket",
					`{port} is not available with socket = "fd"`)
			}
		}
	}
}

func (r *Readiness) check(ck *checker) {
	if !validPath(r.Path) {
		ck.add("readiness.path", `%q is not a path, want one starting with "/", e.g. "/health"`, r.Path)
	}
	ck.positive("readiness.timeout", r.Timeout)
	ck.positive("readiness.interval", r.Interval)
}

func (s *Sessions) check(ck *checker) {
	ck.token("sessions.cookie", s.Cookie, "cookie name")
	ck.positive("sessions.idle_timeout", s.IdleTimeout)
	ck.token("sessions.affinity_cookie", s.AffinityCookie, "cookie name")
	if s.AffinityCookie == s.Cookie {
		ck.addRel("sessions.affinity_cookie", "sessions.cookie",
			"must differ from sessions.cookie (both are %q)", s.Cookie)
	}
	if s.AffinityKeyFile == "" {
		ck.add("sessions.affinity_key_file", `required (a file name, e.g. "affinity.key")`)
	} else if hasControl(s.AffinityKeyFile) {
		ck.add("sessions.affinity_key_file", "%q holds control characters", s.AffinityKeyFile)
	}
	if s.EndHeader == "" {
		ck.add("sessions.end_header", `required (a header name, e.g. "X-Gateway-End-Session")`)
	} else {
		ck.token("sessions.end_header", s.EndHeader, "header name")
	}
	seen := map[string]bool{}
	for i, p := range s.LogoutPaths {
		key := indexKey("sessions.logout_paths", i)
		l, err := ParseLogoutPath(p)
		switch {
		case err != nil:
			ck.add(key, "%s", err)
		case seen[l.Path]:
			ck.add(key, "%q is listed twice", l.Path)
		}
		seen[l.Path] = true
	}
}

func (d *Drain) check(ck *checker) {
	ck.nonNegative("drain.max_time", d.MaxTime)
	ck.nonNegative("drain.close_window", d.CloseWindow)
	ck.between("drain.max_generations", d.MaxGenerations, 2, 100)
}

func (s *Systemd) check(ck *checker) {
	ck.oneOf("systemd.manager", s.Manager, "auto", "system", "user")
	if s.Slice != "" {
		if msg := checkSlice(s.Slice); msg != "" {
			ck.add("systemd.slice", "%s", msg)
		}
	}
	if s.MemoryMax != "" {
		switch n, err := parseSize(s.MemoryMax); {
		case err == errNotNumber:
			ck.add("systemd.memory_max", `%q is not a size (use bytes or a K, M, G or T suffix, e.g. "512M", or "infinity")`, s.MemoryMax)
		case err != nil:
			ck.add("systemd.memory_max", `%q is too large, want less than 16 EiB, or "infinity"`, s.MemoryMax)
		case n == 0:
			ck.add("systemd.memory_max", `%q is not above zero ("" for no limit)`, s.MemoryMax)
		}
	}
	if s.CPUQuota != "" {
		switch n, err := parsePercent(s.CPUQuota); {
		case err == errNotNumber:
			ck.add("systemd.cpu_quota", `%q is not a percentage (e.g. "150%%")`, s.CPUQuota)
		case err != nil:
			ck.add("systemd.cpu_quota", "%q is too large", s.CPUQuota)
		case n == 0:
			ck.add("systemd.cpu_quota", `%q is not above zero ("" for no limit)`, s.CPUQuota)
		}
	}
	if s.TasksMax < 0 {
		ck.add("systemd.tasks_max", "%d is negative, want zero or more (0 for no limit)", s.TasksMax)
	}
}

// account checks a user or group name or number, if set.
func (ck *checker) account(key, v string) {
	if v != "" && !validAccount(v) {
		ck.add(key, "%q is not a valid name or number", v)
	}
}

// token checks that v is an RFC 7230/6265 token (a header or cookie name).
func (ck *checker) token(key, v, what string) {
	if !isToken(v) {
		ck.add(key, "%q is not a valid %s (letters, digits and any of %s)", v, what, tokenPunct)
	}
}

// LogoutPath is one entry of sessions.logout_paths, read.
type LogoutPath struct {
	Methods []string // empty: any but HEAD and OPTIONS
	Path    string
}

// ParseLogoutPath reads an entry of sessions.logout_paths: "/path" or
// "METHOD[,METHOD…] /path".
func ParseLogoutPath(s string) (LogoutPath, error) {
	var l LogoutPath
	l.Path = s
	if sp := strings.IndexByte(s, ' '); sp >= 0 {
		l.Path = strings.TrimLeft(s[sp:], " ")
		for _, m := range strings.Split(s[:sp], ",") {
			if !isMethod(m) {
				return l, fmt.Errorf(`%q: %q is not a method, want e.g. "POST /logout" or "GET,POST /logout"`, s, m)
			}
			l.Methods = append(l.Methods, m)
		}
	}
	if !validPath(l.Path) || containsAny(l.Path, "?# ;%") {
		return l, fmt.Errorf(`%q is not a path, want one starting with "/" and without a query, e.g. "/logout" or "POST /logout"`, s)
	}
	if strings.Contains(l.Path, "//") || slices.ContainsFunc(strings.Split(l.Path, "/"), func(seg string) bool { return seg == "." || seg == ".." }) {
		return l, fmt.Errorf(`%q: write the path as the app sees it, without "//", "." or ".." segments`, s)
	}
	return l, nil
}

// Logouts reads sessions.logout_paths (all valid once the config is).
func (s *Sessions) Logouts() []LogoutPath {
	out := make([]LogoutPath, 0, len(s.LogoutPaths))
	for _, p := range s.LogoutPaths {
		if l, err := ParseLogoutPath(p); err == nil {
			out = append(out, l)
		}
	}
	return out
}

// isMethod: upper-case letters, as every registered method is.
func isMethod(m string) bool {
	if m == "" || len(m) > 20 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}
