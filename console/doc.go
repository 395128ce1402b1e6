// Package console is the gateway's admin console: one server-rendered page
// over the same fleet.Core the D-Bus API exposes, readable on a phone,
// with no assets from elsewhere.
//
//	GET  /                   the generations, their sessions, a canary's trial, sparklines of the last hour
//	GET  /live               the page's live part alone (the page's script polls it)
//	GET  /api/status         the JSON of `gatewayctl status --json` (fleet.Status)
//	GET  /metrics            Options.Metrics, when set
//	GET  /login              the login form, when Options.PasswordHash is set
//	POST /login              a session, or 401, or 429 with Retry-After
//	POST /logout             the session ends
//	GET  /static/…           the stylesheet and the script, embedded
//	POST /upgrade            Core.Upgrade
//	POST /detach             Core.Detach(generation)
//	POST /rollback           Core.Rollback(move_sessions)
//	POST /canary             Core.UpgradeCanary(percent/100)
//	POST /promote            Core.Promote()
//	POST /abort              Core.Abort(move_sessions)
//	POST /retire             Core.Retire(generation, force)
//	POST /end-session        Core.EndSession(hash)
//
// Every action answers 303 back to the page, which shows what happened or
// the error (a failed upgrade's reason) once. An action needs the form's
// CSRF token: an HMAC, under a key drawn at start, of a random nonce held
// in a SameSite=Strict cookie; a POST without it, or with another, is
// refused with 403 (and so is a cross-origin POST, by
// [http.CrossOriginProtection]). The login form is such a form too.
//
// With Options.PasswordHash set, every request but the login form's and
// the static files' needs a session: a random 256-bit id in an HttpOnly,
// SameSite=Strict cookie (Secure over TLS), held in memory (at most 64,
// ending after 30 minutes unused or 12 hours in all). bcrypt runs once per
// login, one at a time, and each check's slot then rests 19 times as long
// as the check took: logins take at most a twentieth of a core (attempts
// wait up to 3 s for the slot, then get 503). Attempts
// are throttled before bcrypt ([Limits]): per source address (an IPv6 /64)
// five failures in a row are free, then the source waits 1 s, 2 s, 4 s…
// up to 15 minutes (429 with Retry-After); all sources together get 20
// failures, then one more every 2 minutes. 1,000 guesses take 10 days from
// one source and 33 hours from many. /metrics also takes HTTP basic auth,
// for Prometheus, through the same throttle. A console whose listener is
// reachable from other machines refuses to be built without a password.
//
// The page works without JavaScript (a refresh tag while a drain runs);
// its small script replaces the live part every 2 s while a generation is
// starting or draining, every 10 s otherwise. [Console.Run] samples the
// session counts for the sparklines.
package console
