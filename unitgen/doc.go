// Package unitgen renders the systemd configuration that depends on a
// gateway config file: the TOML config is the single source of truth for
// the listen addresses and for the timeouts that follow from it.
//
// The units themselves are hand-written (units/ in the repository,
// installed to /usr/lib/systemd/system). [Render] produces what goes next
// to them, as a systemd generator writes it (systemd.generator(7)):
//
//	/etc/gateway/gateway.toml → gateway.socket.d/50-gateway-listen.conf
//	                            gateway.service.d/50-gateway-timeouts.conf
//	/etc/gateway/NAME.toml    → gateway@NAME.socket.d/50-gateway-listen.conf
//	                            gateway@NAME.service.d/50-gateway-timeouts.conf
//	                            sockets.target.wants/gateway@NAME.socket
//
// A [listeners.NAME] table adds a socket unit of its own
// (gateway-listener-NAME.socket, or gateway-INSTANCE-listener-NAME.socket;
// FileDescriptorName=NAME, Service= the instance's), a sockets.target.wants/
// symlink to it, and a service drop-in listing every socket in Sockets=,
// since a service otherwise inherits only its same-named socket.
//
// The socket drop-in resets the unit's ListenStream= and lists [gateway]
// listen, each address named "http" (FileDescriptorName=, which gatewayd
// looks for in LISTEN_FDNAMES). The service drop-in sets TimeoutStartSec=
// from [readiness] timeout, because systemd bounds both a start and a reload
// (ExecReload=, RELOADING=1) by it, and TimeoutStopSec= from
// shutdown_timeout and stop_timeout. The symlink starts a template
// instance's socket at boot, so adding /etc/gateway/NAME.toml and running
// `systemctl daemon-reload` is all it takes; the default gateway.socket is
// enabled by the admin (`systemctl enable gateway.socket`).
//
// cmd/gateway-generator is the generator that writes these files. See
// systemd.socket(5), systemd.service(5) and systemd.unit(5) for the
// settings, and systemd.generator(7) for the protocol.
package unitgen
