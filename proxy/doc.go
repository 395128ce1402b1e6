// Package proxy is the request path of the gateway: a reverse proxy that
// pins each session of the app to the generation (and worker instance) that
// created it.
//
// The proxy knows nothing of processes, systemd or D-Bus. It learns which
// generations exist from a [Source] it is given, and reports what it sees
// (sessions, in-flight requests, upgraded connections) through methods the
// supervisor polls, plus a notify callback so that the supervisor need not
// poll fast:
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
// It builds on [net/http/httputil.ReverseProxy] with Rewrite, one per worker
// instance, so that WebSocket upgrades, streaming and hop-by-hop handling are
// the standard library's.
package proxy
