#!/bin/sh
# gateway: before the package's files go (dpkg's prerm, rpm's %preun). One
# script for both, told apart by their arguments:
#   deb: remove | upgrade NEW-VERSION | deconfigure ... | failed-upgrade OLD-VERSION
#   rpm: N, the number of gateway packages left once this one is gone:
#        0 when the package is erased, 1 or more on an upgrade
set -e

case "${1:-}" in
	remove | 0)
		removing=yes
		;;
	upgrade | failed-upgrade | deconfigure | [0-9]*)
		# An upgrade must not stop anything: the sessions live in the
		# running workers. The new package restarts gatewayd in its
		# postinstall, which keeps them.
		removing=no
		;;
	*)
		echo "gateway preremove: unknown argument '${1:-}'" >&2
		exit 1
		;;
esac

if [ "$removing" = no ]; then
	exit 0
fi

# The package is going away: stop the gateway, or it would go on running
# from deleted files. The sockets first, in the same job, so that no
# connection starts a gatewayd again; stopping a gatewayd stops its
# generations (their scopes) too. The template instances likewise.
if [ -d /run/systemd/system ] && [ -z "${DPKG_ROOT:-}" ]; then
	systemctl stop gateway.socket gateway.service \
		'gateway@*.socket' 'gateway@*.service' || true
fi

# rpm has no purge: an erase is the end, so the units are disabled now, as
# %systemd_preun does (the symlinks made by `systemctl enable`). dpkg keeps
# them over a remove, like every configuration, and postremove drops them
# on purge.
if [ "$1" = 0 ]; then
	find /etc/systemd/system -type l \( -path '*.wants/*' -o -path '*.requires/*' \) \
		\( -name gateway.socket -o -name gateway.service \
		-o -name 'gateway@*.socket' -o -name 'gateway@*.service' \) \
		-exec rm -f {} + 2>/dev/null || true
fi

exit 0
