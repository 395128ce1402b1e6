package fleet

// Routes is what the supervisor publishes and the proxy routes by: the
// generations that may receive requests, with their ready workers. It is
// immutable once published; the proxy compares Routes by pointer.
type Routes struct {
	Active   *Route // receives new sessions; nil while none is ready
	Detached []*Route
	// Canary is a generation on trial: it receives the share CanaryShare
	// (0..1) of new sessions, and those of testers who ask for it, so that
	// a release meets real users a few at a time. Its sessions stay pinned
	// to it like any other's. nil: no canary runs.
	Canary      *Route
	CanaryShare float64
}

// Route is one generation's ready instances. A worker being replaced after
// a crash is left out until its readiness check passes.
type Route struct {
	Generation int
	Revision   string
	Instances  []Endpoint
}

// Endpoint is where one worker instance listens.
type Endpoint struct {
	Instance int    // 1-based, stable for the life of the generation
	Network  string // "tcp" or "unix"
	Address  string // host:port, or a socket path
}
