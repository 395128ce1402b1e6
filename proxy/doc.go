// Package proxy is the request path of the gateway: a reverse proxy that
// pins each session of the app to the generation (and worker instance) that
// created it.
//
// The proxy knows nothing of processes, systemd or D-Bus. It learns which
// generations may serve from the routes published to it ([Proxy.Publish],
// fleet.Routes), and reports what it sees (sessions, in-flight requests,
// upgraded connections) through methods the supervisor polls, and signals
// on channels ([Proxy.SessionsChanged], [Proxy.RequestsDone],
// [Proxy.PinsQueued]) so that nobody need poll fast:
//
//	request ──▶ pinned session? ──▶ its generation/instance
//	        └─▶ signed affinity cookie naming a live generation? ──▶ that one, pinned again
//	        └─▶ the active generation, on the instance with the fewest pins
//
// A pin starts when a response sets the app's session cookie and ends when
// the app deletes it, sends the end header, answers a configured logout path,
// or when the session is idle too long. Only a keyed hash of the session id
// is kept (see [Hasher]); raw ids never leave the request. A user can opt
// in to the active generation early through Options.SwitchPath, which the
// proxy answers itself.
//
// For metrics, an [Observer] is told about every request answered; the
// counters that are cheap to read at any time ([Proxy.Usage],
// [Proxy.RejectedAffinity], [Proxy.Switched]) are read when scraped.
//
// The HTTP/1.1 engine is the proxy's own (see docs/design.md, "The data
// plane", for why and docs/benchmarks.md for what it costs): [Proxy.Run]
// serves each client connection from one goroutine that parses the request
// head in place (package proxy/internal/h1, which refuses anything two
// parsers could frame differently), routes it, writes it to a kept-alive
// connection from the worker instance's pool and relays the answer. A
// pinned request on a kept-alive connection allocates nothing
// (BenchmarkEnginePinned).
//
//	conn.go      the client connection: heads, refusals, answers of its own
//	exchange.go  one request: routing, then the head as the worker gets it
//	forward.go   sending the request (whole, or streaming its body)
//	respond.go   relaying the answer, re-framed for the client
//	body.go      copying bodies, flushing before any read that would block
//	send.go      100-continue, errors (502, 504, 408), protocol switches
//	pool.go      kept-alive worker connections, per instance
//	server.go    listeners, timeouts, graceful shutdown
//
// The routing core (route, track, the pin table, cookies, hashing) works
// on header values, not on an engine's types, so that another front (an
// HTTP/2 one on net/http) can share it.
package proxy
