// Package dbusapi is the gateway's D-Bus API (org.gatewayd.Gateway1) and
// its client, used by gatewayctl and the tests:
//
//	bus name  org.gatewayd.Gateway1            (gateway.service)
//	          org.gatewayd.Gateway1.i_<name>   (gateway@<name>.service; bytes other than letters and digits as _XX)
//	object    /org/gatewayd/Gateway1
//	methods   Upgrade() → u · Detach(u) → u · Rollback(b) → u · UpgradeCanary(d) → u ·
//	          Promote() → u · Abort(b) → u · Retire(u, b) · ListGenerations() → a(…)
//	          GetTrial() → budt(ttt)(ttt)b(tddtt)s · ListSessions() → a(suuu) · EndSession(s)
//	props     App, Version, ActiveGeneration, Revision, Generations, Sessions (PropertiesChanged)
//	signal    GenerationChanged(u generation, s state, s revision)
//
// The API exposes a fleet.Core (package daemon answers it from the
// supervisor and the proxy) and converts fleet's shapes to the bus's
// structs in wire.go. The admin console (package console) is a second
// front of the same Core; both show the same status document
// (fleet.Status: gatewayctl status --json, the console's /api/status).
// Callers are checked by the gateway, not
// only by the bus policy: mutating methods and ListSessions need root, the
// gateway's own user, or membership in the admin group (GetConnectionUnixUser);
// ListGenerations, GetTrial and the properties are open to everyone.
//
// ListGenerations keeps its signature, which scripts parse; the canary's
// trial, which the status document puts on the canary's generation, comes
// from GetTrial, read from the same Core.Generations:
//
//	running b, generation u       false and 0 without a canary
//	share d                       of new sessions, 0 to 1 (UpgradeCanary takes a percentage)
//	started_usec t                when the canary was routed, Unix µs
//	canary (ttt), active (ttt)    requests, 5xx answers, p99 in µs: each generation's since started
//	judged b, judge (tddtt)       min_requests, error_margin, latency_margin (fractions),
//	                              latency_margin_min_usec, promote_after_usec (0: never);
//	                              false and zeros when an admin decides
//	verdict s                     what the judge makes of the figures now; "" without one
//
// Client.Generations attaches it to the canary, and does without it when
// the gateway is older than GetTrial (UnknownMethod).
//
// Everything is introspectable, so busctl works without reading this code:
//
//	busctl introspect org.gatewayd.Gateway1 /org/gatewayd/Gateway1
//	busctl call org.gatewayd.Gateway1 /org/gatewayd/Gateway1 org.gatewayd.Gateway1 Upgrade
//
// See sd-bus(3) and dbus-daemon(1) for the bus itself.
package dbusapi
