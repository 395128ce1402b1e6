// Package systemd runs each generation of workers as a transient systemd
// scope, created over D-Bus (systemd.scope(5), org.freedesktop.systemd1(5)):
//
//	gatewayd ──fork──▶ shim (waits) ──StartTransientUnit(PIDs=[shim])──▶ gateway-gen4.scope
//	                     └──go-ahead──▶ exec worker (already in its scope, LISTEN_PID = its pid)
//
// The first worker of a generation creates the scope; the others, and the
// replacements of crashed workers, are attached to it (AttachProcessesToUnit).
// The gateway registers as the scope's Controller, so `systemctl stop` of a
// scope reaches it as a RequestStop signal and it can retire the generation
// in order instead of having it killed. Scopes are not part of the gateway's
// service: they survive a restart of gatewayd, which re-adopts them
// (Adopter); on `systemctl stop gateway` they are stopped (Keeper).
//
// This is the only package of the supervisor that talks to systemd.
package systemd
