// Package console is the gateway's admin console: one server-rendered page
// over the same fleet.Core the D-Bus API exposes, readable on a phone,
// with no assets from elsewhere.
//
//	GET  /                   the generations, their sessions, sparklines of the last hour
//	GET  /live               the page's live part alone (the page's script polls it)
//	GET  /api/status         the JSON of `gatewayctl status --json` (fleet.Status)
//	GET  /metrics            Options.Metrics, when set
//	GET  /static/…           the stylesheet and the script, embedded
//	POST /upgrade            Core.Upgrade
//	POST /detach             Core.Detach(generation)
//	POST /retire             Core.Retire(generation, force)
//	POST /end-session        Core.EndSession(hash)
//
// Every action answers 303 back to the page, which shows what happened or
// the error (a failed upgrade's reason) once. An action needs the form's
// CSRF token: an HMAC, under a key drawn at start, of a random nonce held
// in a SameSite=Strict cookie; a POST without it, or with another, is
// refused with 403 (and so is a cross-origin POST, by
// [http.CrossOriginProtection]). With Options.PasswordHash set, every
// request needs HTTP basic auth, checked with bcrypt; a console whose
// listener is reachable from other machines refuses to be built without it.
//
// The page works without JavaScript (a refresh tag while a drain runs);
// its small script replaces the live part every 2 s while a generation is
// starting or draining, every 10 s otherwise. [Console.Run] samples the
// session counts for the sparklines.
package console
