#!/usr/bin/env bash
# The demo: the gateway in front of the notes sample app on 127.0.0.1:8080.
#
#   bash examples/demo.sh            build release "rev1", start gatewayd in the foreground
#   bash examples/demo.sh release R  build release R and point /opt/notes/current at it
#   bash examples/demo.sh upgrade    = release rev<N+1>, then kill -HUP gatewayd
#
# Releases live in /opt/notes/releases/<R>; /opt/notes/current is a symlink
# that each new generation resolves when it starts. The config is
# examples/notes/gateway.toml. Run as root on Debian 12 (it installs Go if
# missing).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
. "$repo/tests/ensure-go.sh"
prefix=/opt/notes
bindir=/usr/local/lib/gateway-demo

build_gateway() {
  mkdir -p "$bindir"
  (cd "$repo" && go build -o "$bindir/gatewayd" ./cmd/gatewayd)
}

# release builds the notes app into its own directory and moves the symlink.
release() {
  local rev=$1 dir="$prefix/releases/$1"
  mkdir -p "$dir"
  (cd "$repo" && go build -o "$dir/notes" ./examples/notes)
  ln -sfn "$dir" "$prefix/current.new" && mv -T "$prefix/current.new" "$prefix/current"
  echo "release $rev built in $dir; $prefix/current → $(readlink "$prefix/current")"
}

next_rev() {
  local n=1
  while [ -d "$prefix/releases/rev$n" ]; do n=$((n + 1)); done
  echo "rev$n"
}

case "${1:-run}" in
run)
  build_gateway
  [ -e "$prefix/current" ] || release rev1
  "$bindir/gatewayd" --check-config "$repo/examples/notes/gateway.toml"
  cat <<MSG

  gatewayd starts on http://127.0.0.1:8080 (Ctrl-C stops it).
  In another terminal:   bash examples/demo.sh upgrade
  Walkthrough:           see README.md, "Try it".

MSG
  exec "$bindir/gatewayd" --config "$repo/examples/notes/gateway.toml"
  ;;
release)
  release "${2:?usage: demo.sh release NAME}"
  ;;
upgrade)
  release "$(next_rev)"
  pid=$(cat /run/gateway-demo/notes.pid 2>/dev/null || true)
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "gatewayd is not running (start it with: bash examples/demo.sh)" >&2
    exit 1
  fi
  kill -HUP "$pid"
  echo "sent SIGHUP to gatewayd (pid $pid): it starts a generation on $(readlink "$prefix/current")"
  ;;
*)
  echo "usage: demo.sh [run | release NAME | upgrade]" >&2
  exit 2
  ;;
esac
