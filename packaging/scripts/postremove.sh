#!/bin/sh
# gateway: after the package's files are gone (dpkg's postrm, rpm's
# %postun). One script for both, told apart by their arguments:
#   deb: remove | purge | upgrade NEW-VERSION | failed-upgrade OLD-VERSION |
#        abort-install [OLD-VERSION] | abort-upgrade OLD-VERSION | disappear ...
#   rpm: N, the number of gateway packages left once this one is gone:
#        0 when the package is erased, 1 or more on an upgrade
set -e

purge=no
case "${1:-}" in
	remove | abort-install | disappear | 0)
		;;
	purge)
		purge=yes
		;;
	upgrade | failed-upgrade | abort-upgrade | [0-9]*)
		# The new package's files are in place and its postinstall
		# reloads and restarts what needs it.
		exit 0
		;;
	*)
		echo "gateway postremove: unknown argument '${1:-}'" >&2
		exit 1
		;;
esac

if [ "$purge" = yes ]; then
	# Purge (dpkg only; dpkg has already deleted the conffile
	# /etc/gateway/gateway.toml):
	# - the state of gateway.service and of every gateway@NAME instance:
	#   the affinity keys that sign the session cookies (StateDirectory=,
	#   /var/lib/gateway and /var/lib/gateway-NAME) and the runtime files
	#   (RuntimeDirectory=, /run/gateway and /run/gateway-NAME: pins,
	#   worker sockets);
	rm -rf /var/lib/gateway /var/lib/gateway-* /run/gateway /run/gateway-*
	# - /etc/gateway, if nothing is left in it: other apps' configs
	#   (NAME.toml) are the admin's, not the package's;
	rmdir /etc/gateway 2>/dev/null || true
	# - the units' enablement (the symlinks of `systemctl enable`), as
	#   deb-systemd-helper purge does.
	find /etc/systemd/system -type l \( -path '*.wants/*' -o -path '*.requires/*' \) \
		\( -name gateway.socket -o -name gateway.service \
		-o -name 'gateway@*.socket' -o -name 'gateway@*.service' \) \
		-exec rm -f {} + 2>/dev/null || true
	# The users gateway and gateway-admin stay, as Debian does with system
	# accounts: files anywhere may still belong to them, and a new account
	# with the same id would own them.
fi

# The unit files, the generator and the D-Bus policy are gone: let systemd
# and dbus forget them. Only with a running systemd (see postinstall).
if [ -d /run/systemd/system ] && [ -z "${DPKG_ROOT:-}" ]; then
	systemctl daemon-reload || true
	if systemctl is-active --quiet dbus.service; then
		systemctl reload dbus.service || true
	fi
fi

exit 0
