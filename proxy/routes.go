package proxy

// Instance is one worker of a generation as the proxy reaches it.
type Instance struct {
	Index   int    // 1-based, stable for the life of the generation
	Network string // "tcp" or "unix"
	Address string // host:port, or a socket path
}

// Generation is one started revision of the app that may receive requests.
type Generation struct {
	ID       int
	Revision string
	// Instances lists only the workers that are ready; a worker being
	// replaced after a crash is left out until its readiness check passes.
	Instances []Instance
}

// Routes is an immutable view of the generations that may serve requests.
// The proxy compares Routes by pointer: a Source returns the same pointer
// until something changes.
type Routes struct {
	// Active receives new sessions; nil while no generation is ready.
	Active *Generation
	// Detached generations keep serving their pinned sessions.
	Detached []*Generation
}

// Source is what the proxy needs of whoever runs the generations.
type Source interface {
	Routes() *Routes
}
