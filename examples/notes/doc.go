// Command notes is the sample stateful web app that the gateway is demonstrated
// and tested against.
//
// It is deliberately the kind of application the gateway exists for: every
// session lives only in the memory of the process that created it, so a
// session survives only as long as requests keep reaching that same process.
// Log in with any name, keep a few notes, log off — if a deploy (a new
// generation of workers) sent you to a fresh process, your notes would be gone.
// The gateway pins each session cookie to the generation that issued it, so
// they are not.
//
// Every page and JSON answer shows the revision, the generation and the pid of
// the process that served it, so a human or a test can see where a request
// landed. A few extra endpoints exist only to exercise the proxy:
//
//	GET  /slow?ms=N            an in-flight request that outlives a deploy
//	GET  /stream?chunks=N&ms=M a response that must not be buffered
//	POST /echo                 a request body that must not be buffered
//	GET  /ws                   a WebSocket echo (upgrade + hijack)
//	GET  /whoami               also shows the X-Forwarded-For the proxy sent
//	POST /signout              a logout that forgets the session but keeps
//	                           the cookie (see sessions.logout_paths)
//
// The socket is taken from systemd-style socket activation (LISTEN_FDS,
// LISTEN_PID, fd 3) when present, else from $PORT, else from -addr, so the
// same binary runs under the gateway, under systemd, or by hand.
package main
