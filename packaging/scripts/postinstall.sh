#!/bin/sh
# gateway: after the package's files are in place (dpkg's postinst, rpm's
# %post). One script for both, told apart by their arguments:
#   deb: configure [OLD-VERSION]  (OLD-VERSION is empty on a first install)
#        abort-upgrade NEW-VERSION | abort-remove | abort-deconfigure ...
#   rpm: N, the number of gateway packages installed once this one is:
#        1 on a first install, 2 or more on an upgrade
set -e

upgrade=no
case "${1:-}" in
	configure)
		# configure with the version configured before: an upgrade (or a
		# reinstall over a removed package, where nothing runs to restart).
		if [ -n "${2:-}" ]; then upgrade=yes; fi
		;;
	abort-upgrade | abort-remove | abort-deconfigure)
		# The old package is back after a failed upgrade or removal: make
		# sure its accounts, units and policy are what systemd and dbus use.
		;;
	[0-9]*)
		if [ "$1" -ge 2 ]; then upgrade=yes; fi
		;;
	*)
		echo "gateway postinstall: unknown argument '${1:-}'" >&2
		exit 1
		;;
esac

# 1. Accounts, before dbus is reloaded (step 3): dbus-daemon resolves the
#    group names of its policies when it loads them, and ignores a policy
#    for a group that does not exist yet. The policy file arrived with the
#    package's files, before this script ran, so dbus may have read it
#    already without the group.
#    gateway-admin: members may upgrade, detach, retire and end sessions
#    over D-Bus (org.gatewayd.Gateway1.conf), i.e. use gatewayctl without
#    root.
if ! getent group gateway-admin >/dev/null; then
	groupadd --system gateway-admin
fi
#    gateway: the default user of the app's workers (app.user in
#    /etc/gateway/gateway.toml). A system account nobody logs in as; its
#    home is the gateway's state directory, which systemd creates
#    (StateDirectory=), so no home is created here.
if ! getent group gateway >/dev/null; then
	groupadd --system gateway
fi
if ! getent passwd gateway >/dev/null; then
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	useradd --system --gid gateway --no-create-home --home-dir /var/lib/gateway \
		--shell "$nologin" --comment "gateway app workers" gateway
fi

# Steps 2-4 talk to the running systemd. There is none in a chroot, an
# image build or a container without systemd: then there is nothing to
# reload, and the next boot reads the new files anyway. DPKG_ROOT set means
# dpkg installs into another root, whose systemd is not this one.
if [ -d /run/systemd/system ] && [ -z "${DPKG_ROOT:-}" ]; then
	# 2. Read the new or changed unit files, and run the generator again:
	#    it renders the sockets' addresses from /etc/gateway/*.toml.
	systemctl daemon-reload || true

	# 3. Reload dbus so that it reads the policy with the group now known
	#    (step 1). A reload, never a restart: restarting dbus breaks every
	#    client of the system bus.
	if systemctl is-active --quiet dbus.service; then
		systemctl reload dbus.service || true
	fi

	# 4. On an upgrade, run the new gatewayd. A restart keeps every session:
	#    systemd holds the listening sockets (connections wait in the
	#    backlog), the workers' scopes outlive gatewayd, and the new gatewayd
	#    re-adopts them and its session pins from /run/gateway*
	#    (RuntimeDirectoryPreserve=restart). try-restart: only what runs now;
	#    an admin who stopped the gateway keeps it stopped. The templates'
	#    instances (gateway@NAME.service) too. A failed restart does not
	#    fail the upgrade: systemd retries (Restart=on-failure) and
	#    `systemctl status` tells why.
	if [ "$upgrade" = yes ]; then
		systemctl try-restart gateway.service ||
			echo "gateway: restarting gateway.service failed; see systemctl status gateway.service" >&2
		systemctl try-restart 'gateway@*.service' ||
			echo "gateway: restarting gateway@*.service failed; see systemctl status 'gateway@*'" >&2
	fi
fi

exit 0
