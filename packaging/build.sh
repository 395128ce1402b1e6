#!/bin/sh
# Builds the gateway packages, .deb and .rpm, from packaging/nfpm.yaml:
#
#   packaging/build.sh                  (or: make packages)
#   packaging/build.sh --print-version  the version it would build, and exit
#
# into dist/: the binaries gatewayd, gatewayctl and gateway-generator, the
# gzipped man pages and changelog, then gateway_VERSION_amd64.deb and
# gateway-VERSION-1.x86_64.rpm. The environment may set:
#
#   VERSION  the package version. Default: from `git describe --tags`:
#            on tag v1.2.0 it is 1.2.0; after it 1.2.0+git<date>.<sha>;
#            before any tag 0.1.0~git<date>.<sha> (date: the commit's, UTC).
#            Digits first, then letters, digits and . + ~ only: "-" is not
#            allowed (dpkg reads it as a Debian revision, rpm refuses it).
#            "~" sorts before everything: 1.0~rc1 < 1.0 < 1.0+git...
#   DIST     the output directory. Default: dist/ in the repository.
#   SOURCE_DATE_EPOCH  the files' mtime in the packages. Default: the
#            commit's time, so that one commit builds the same packages.
#
# Needs Go and the Go module proxy (nfpm runs as `go run ...@NFPM_VERSION`);
# nothing else.
set -eu

# nfpm, pinned. v2.46 and later need modules from go.digitalxero.dev that
# the Go module proxy does not serve here (403), so v2.45.2 it is.
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

die() {
	echo "packaging/build.sh: $*" >&2
	exit 1
}

case "${1:-}" in
"" | --print-version) ;;
*) die "unknown argument '$1' (usage: packaging/build.sh [--print-version])" ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

in_git() { git -C "$root" rev-parse --git-dir >/dev/null 2>&1; }

# The commit's time, for the snapshot version, the changelog and the mtimes.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	if in_git; then
		SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
	else
		SOURCE_DATE_EPOCH=$(date +%s)
	fi
fi
export SOURCE_DATE_EPOCH

if [ -z "${VERSION:-}" ]; then
	in_git || die "not in a git work tree: set VERSION (e.g. VERSION=1.2.0)"
	desc=$(git describe --tags --always --long --abbrev=7)
	stamp=$(TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd)
	sha=$(git rev-parse --short=7 HEAD)
	case "$desc" in
	*-*-g*)
		# TAG-N-gSHA: tag v1.2.0-rc1 becomes 1.2.0~rc1.
		tag=${desc%-*-g*}
		n=${desc%-g*}
		n=${n##*-}
		tag=$(echo "${tag#v}" | tr - '~')
		if [ "$n" = 0 ]; then
			VERSION=$tag
		else
			VERSION=$tag+git$stamp.$sha
		fi
		;;
	*)
		# No tag yet: a snapshot before the first release.
		VERSION=0.1.0~git$stamp.$sha
		;;
	esac
fi
if ! echo "$VERSION" | grep -Eq '^[0-9][A-Za-z0-9.+~]*$'; then
	die "VERSION=$VERSION: want a digit first, then only letters, digits and . + ~ (e.g. 1.2.0, 1.2.0~rc1, 0.1.0~git20260101.abc); '-' is a Debian revision and not allowed in an RPM version"
fi
if [ "${1:-}" = --print-version ]; then
	echo "$VERSION"
	exit 0
fi

DIST=${DIST:-$root/dist}
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)
export VERSION DIST

echo "== gateway $VERSION into $DIST"

# The binaries: static (no libc dependency, so one build runs on Debian and
# RPM systems alike), stripped, without local paths, and carrying the version.
[ -d cmd/gateway-generator ] ||
	die "cmd/gateway-generator is missing: the package ships the systemd generator (issue 5, unitgen) and cannot be built without it"
for cmd in gatewayd gatewayctl gateway-generator; do
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION" -o "$DIST/$cmd" "./cmd/$cmd" ||
		die "building ./cmd/$cmd failed (see above)"
done

# The man pages, with the version in their footer, compressed as Debian
# wants them (gzip -9, no name or time stamp).
mkdir -p "$DIST/man"
for page in packaging/man/*.[0-9]; do
	sed "s/@VERSION@/$VERSION/g" "$page" | gzip -9n >"$DIST/man/$(basename "$page").gz"
done

# The Debian changelog: packaging/changelog, with an entry for this build on
# top when its version has none (snapshots). The package's version has no
# Debian revision, so it is a "native" package and the file is
# /usr/share/doc/gateway/changelog.gz (lintian's name for it).
maintainer=$(sed -n 's/^maintainer: *//p' packaging/nfpm.yaml)
top=$(sed -n '1s/^gateway (\([^)]*\)).*/\1/p' packaging/changelog)
{
	if [ "$top" != "$VERSION" ]; then
		commit=unknown
		if in_git; then commit=$(git rev-parse --short=7 HEAD); fi
		echo "gateway ($VERSION) unstable; urgency=medium"
		echo
		echo "  * Built from commit $commit."
		echo
		echo " -- $maintainer  $(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
		echo
	fi
	cat packaging/changelog
} | gzip -9n >"$DIST/changelog.gz"

# The packages, both from the one description.
deb=$DIST/gateway_${VERSION}_amd64.deb
rpm=$DIST/gateway-$VERSION-1.x86_64.rpm
rm -f "$deb" "$rpm"
go run "$NFPM" package --config packaging/nfpm.yaml --packager deb --target "$deb"
go run "$NFPM" package --config packaging/nfpm.yaml --packager rpm --target "$rpm"
echo "== $deb"
echo "== $rpm"
