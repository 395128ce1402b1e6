package config

// Config is the configuration of one app, as read from its TOML file.
//
// Every field has a default (see [Default]); a file sets only what differs.
// The TOML key of each field is given in its doc comment and in its tag.
type Config struct {
	Gateway   Gateway   `toml:"gateway"`
	App       App       `toml:"app"`
	Readiness Readiness `toml:"readiness"`
	Sessions  Sessions  `toml:"sessions"`
	Drain     Drain     `toml:"drain"`
	Systemd   Systemd   `toml:"systemd"`
	Admin     Admin     `toml:"admin"`
	Canary    Canary    `toml:"canary"`
	// Listeners ([listeners.NAME]) are the proxy's listeners with TLS, the
	// PROXY protocol or a redirect to HTTPS (listeners.go). Default: none.
	Listeners map[string]Listener `toml:"listeners"`

	// File is the path the config was loaded from ("" for Parse with no
	// name). It is used in error messages and for the default App.Name.
	File string `toml:"-"`
}

// Gateway is the [gateway] table: the daemon itself.
type Gateway struct {
	// Listen (listen) lists the addresses the gateway serves on, each
	// "host:port" (host may be empty for all interfaces, or a bracketed
	// IPv6 address) or "unix:/absolute/path". It is used only when the
	// gateway is not socket-activated. Duplicates are an error.
	// Default: ["127.0.0.1:8080"].
	Listen []string `toml:"listen"`

	// RuntimeDirectory (runtime_directory) holds the state file and the
	// worker sockets. Must be absolute. Default: $RUNTIME_DIRECTORY (the
	// first path if it lists several, colon-separated), else "/run/gateway".
	RuntimeDirectory string `toml:"runtime_directory"`

	// StateDirectory (state_directory) holds what must survive a reboot:
	// the affinity key. Must be absolute. Default: $STATE_DIRECTORY (the
	// first path if several), else "/var/lib/gateway".
	StateDirectory string `toml:"state_directory"`

	// ReadHeaderTimeout (read_header_timeout) is how long a client may take
	// to send the request headers. Must be positive. Default: 10s.
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`

	// MaxHeaderBytes (max_header_bytes) bounds the size of request headers,
	// in bytes; 1024 to 16777216 (16 MiB). Default: 65536.
	MaxHeaderBytes int `toml:"max_header_bytes"`

	// IdleTimeout (idle_timeout) is how long an idle keep-alive client
	// connection is kept open. Zero means no limit. Default: 2m.
	IdleTimeout Duration `toml:"idle_timeout"`

	// ResponseHeaderTimeout (response_header_timeout) is how long a worker
	// may take to start answering a request it was sent; past it the
	// client gets 504 and the request stops counting as in flight. Zero
	// means no limit. Default: 60s.
	ResponseHeaderTimeout Duration `toml:"response_header_timeout"`

	// BodyIdleTimeout (body_idle_timeout) is how long a request or response
	// body may make no progress, in either direction: a client that stops
	// uploading, a worker that stops sending or reading. Past it the
	// exchange is cut off (408 when nothing was answered yet). Upgraded
	// connections (WebSocket) have no such limit. Zero means no limit.
	// Default: 60s.
	BodyIdleTimeout Duration `toml:"body_idle_timeout"`

	// WriteTimeout (write_timeout) is how long a write to a client that
	// does not read may block before its connection is closed. Zero means
	// no limit. Default: 60s.
	WriteTimeout Duration `toml:"write_timeout"`

	// ShutdownTimeout (shutdown_timeout) is how long SIGTERM waits for
	// in-flight requests before the gateway exits. Zero means it does not
	// wait. Default: 30s.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`

	// TrustedProxies (trusted_proxies) lists the proxies in front of the
	// gateway whose X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host
	// and Forwarded fields are believed: each an address ("10.0.0.7",
	// "::1"), a CIDR ("10.0.0.0/8") or "unix" (any client of a unix-socket
	// listener). From a trusted peer, X-Forwarded-For is appended to and the
	// others are kept; from anyone else they are replaced. Default: none.
	TrustedProxies []string `toml:"trusted_proxies"`

	// Runner (runner) says how workers are started: "process" (as child
	// processes of the gateway), "systemd" (as transient systemd units) or
	// "auto" (systemd when available). Default: "auto".
	Runner string `toml:"runner"`
}

// App is the [app] table: the worker processes and how to start them.
type App struct {
	// Name (name) names the app in logs, units and file names; letters,
	// digits, "_", "." and "-". Default: the config file's base name without
	// ".toml", or "app" if there is no file name.
	Name string `toml:"name"`

	// Directory (directory) is the app's directory, an absolute path.
	// If it is a symlink, it is resolved when each generation starts, so
	// an upgrade switches the symlink and starts a new generation.
	// Required.
	Directory string `toml:"directory"`

	// Command (command) is the worker command and its arguments. Required.
	// The placeholders {port} (the worker's TCP port; only with Socket
	// "port"), {dir} (the resolved Directory), {generation} and {instance}
	// are replaced in every element.
	Command []string `toml:"command"`

	// Environment ([app.environment]) is extra environment for the workers,
	// on top of the gateway's own. Names must be valid environment variable
	// names; PORT, LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES are set by the
	// gateway and cannot be set here. Default: none.
	Environment map[string]string `toml:"environment"`

	// User (user) is the user to run workers as when the gateway runs as
	// root, by name or number. Default: "" (the gateway's own user).
	User string `toml:"user"`

	// Group (group) is the group to run workers as. Default: "" (the
	// primary group of User).
	Group string `toml:"group"`

	// Instances (instances) is the number of workers per generation;
	// 1 to 64. Default: 1.
	Instances int `toml:"instances"`

	// Socket (socket) says how a worker listens: "port" (a loopback TCP
	// port, passed as $PORT and {port}) or "fd" (a unix socket passed as
	// file descriptor 3 with LISTEN_FDS=1). Default: "port".
	Socket string `toml:"socket"`

	// Revision (revision) labels the revision a generation runs, in logs
	// and status. Default: "" (the base name of the resolved Directory).
	Revision string `toml:"revision"`

	// StopTimeout (stop_timeout) is how long a stopping worker gets between
	// SIGTERM and SIGKILL. Must be positive. Default: 10s.
	StopTimeout Duration `toml:"stop_timeout"`

	// RestartBackoff (restart_backoff) is the first delay before a crashed
	// worker of the active generation is replaced; it doubles with each
	// crash in a row. Must be positive. Default: 1s.
	RestartBackoff Duration `toml:"restart_backoff"`

	// RestartBackoffMax (restart_backoff_max) caps that delay; at least
	// RestartBackoff. Default: 30s.
	RestartBackoffMax Duration `toml:"restart_backoff_max"`
}

// Readiness is the [readiness] table: when a new generation is ready.
type Readiness struct {
	// Path (path) is requested with GET from each new worker until it
	// answers 2xx. Must start with "/". Default: "/".
	Path string `toml:"path"`

	// Timeout (timeout) is how long a new generation may take to become
	// ready before it is given up. Must be positive. Default: 60s.
	Timeout Duration `toml:"timeout"`

	// Interval (interval) is the time between probes. Must be positive.
	// Default: 100ms.
	Interval Duration `toml:"interval"`
}

// Sessions is the [sessions] table: how sessions are pinned to generations.
type Sessions struct {
	// Cookie (cookie) is the name of the app's session cookie; a valid
	// cookie name (an RFC 6265 token). Default: "JSESSIONID".
	Cookie string `toml:"cookie"`

	// IdleTimeout (idle_timeout) ends a pin that has seen no request for
	// this long. Must be positive. Default: 30m.
	IdleTimeout Duration `toml:"idle_timeout"`

	// AffinityCookie (affinity_cookie) is the name of the gateway's own
	// cookie; a valid cookie name that differs from Cookie.
	// Default: "GATEWAY_AFFINITY".
	AffinityCookie string `toml:"affinity_cookie"`

	// AffinityKeyFile (affinity_key_file) holds the key that signs the
	// affinity cookie; a relative path is under Gateway.StateDirectory (see
	// [Config.AffinityKeyPath]). The gateway creates it (mode 0600, 32
	// random bytes) if it is missing. Default: "affinity.key".
	AffinityKeyFile string `toml:"affinity_key_file"`

	// EndHeader (end_header) is a response header by which the app ends
	// its session; it is removed before the client sees the response. A
	// valid header name; it cannot be empty.
	// Default: "X-Gateway-End-Session".
	EndHeader string `toml:"end_header"`

	// LogoutPaths (logout_paths) are request paths after whose answer, if
	// below 400, the pin ends and the session cookie is expired (with the
	// Path and Domain the app set it with). "/logout" counts for any method
	// but HEAD and OPTIONS; "POST /logout" or "GET,POST /logout" for those
	// methods only. A path starts with "/", has no query, and is written as
	// the app sees it: requests match after percent-decoding, dropping
	// path parameters (";jsessionid=…") and repeated slashes and resolving
	// "." and "..". Duplicates are an error. Default: none.
	LogoutPaths []string `toml:"logout_paths"`

	// SwitchPath (switch_path) is a path a logged-in user (or a tester) can
	// visit to move to the newest revision: the gateway drops that
	// session's pin and affinity cookie and redirects back, so the next
	// request lands on the active generation; the app's own session on the
	// old generation then ends by idle expiry. "" (the default) turns it
	// off. Starts with "/", e.g. "/.gateway/switch"; not a logout path.
	SwitchPath string `toml:"switch_path"`
}

// Drain is the [drain] table: how a detached generation ends.
type Drain struct {
	// MaxTime (max_time) is how long a detached generation may keep its
	// sessions. Zero means no limit. Default: 24h.
	MaxTime Duration `toml:"max_time"`

	// CloseWindow (close_window): when MaxTime runs out, the connections
	// still held are closed spread over this window. Zero closes them all
	// at once. Default: 1m.
	CloseWindow Duration `toml:"close_window"`

	// MaxGenerations (max_generations) bounds the generations alive at
	// once, the active one and one starting included. An upgrade that
	// would go past it retires the oldest detached generation by force
	// first, as if its max_time had run out (its sessions are lost, its held
	// connections closed over close_window). Between 2 and 100. Default: 5.
	MaxGenerations int `toml:"max_generations"`
}

// Systemd is the [systemd] table: used only when workers run as systemd
// scopes (gateway.runner "systemd", or "auto" when a manager is
// reachable). Each generation of workers is one transient scope, so the
// limits apply to a generation as a whole, not to each worker.
type Systemd struct {
	// Manager (manager) says which systemd manager creates the scopes:
	// "system" (the system bus), "user" (the session bus of a
	// `systemd --user` manager) or "auto" (user when the gateway is itself
	// a service of a user manager — $MANAGERPID is set — else system).
	// Default: "auto".
	Manager string `toml:"manager"`

	// Slice (slice) is the slice the scopes go in; a valid unit name
	// ending in ".slice" (letters, digits, ":", "-", "_", ".", "\\"; at
	// most 255 characters; "-" separates the names of nested slices, so it
	// cannot come first, last or twice in a row, except in the root slice
	// "-.slice"). Default: "" (the runner uses "gateway.slice" under the
	// system manager, "app.slice" under a user manager).
	Slice string `toml:"slice"`

	// MemoryMax (memory_max) is the memory limit of a generation in
	// systemd syntax: bytes with an optional K, M, G or T suffix (base
	// 1024), e.g. "512M", or "infinity"; above zero (see
	// [Systemd.MemoryMaxBytes]). Default: "" (no limit).
	MemoryMax string `toml:"memory_max"`

	// CPUQuota (cpu_quota) is the CPU quota of a generation as a
	// percentage of one CPU, e.g. "150%" (at most two decimals, as systemd
	// takes it: "12.5%"); above zero (see [Systemd.CPUQuotaPerSecUSec]).
	// Default: "" (no limit).
	CPUQuota string `toml:"cpu_quota"`

	// TasksMax (tasks_max) limits the tasks (processes and threads) of a
	// generation; 0 means no limit. Default: 0.
	TasksMax int `toml:"tasks_max"`
}
