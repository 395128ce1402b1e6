# Sourced by tests/run.sh and examples/demo.sh: makes a Go ≥ 1.26 toolchain
# available on a Debian 12 machine, installing what is missing.
#
# Debian 12 ships Go 1.19; bookworm-backports has Go 1.23, which fetches the
# toolchain go.mod asks for (1.26) through the Go module proxy by itself.
export PATH="/usr/local/go/bin:/usr/lib/go-1.23/bin:$HOME/go/bin:$PATH"
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local v
  v=$(go env GOVERSION 2>/dev/null) || return 1
  v=${v#go}
  [ "${v%%.*}" -gt 1 ] || [ "$(echo "$v" | cut -d. -f2)" -ge 21 ]
}

if ! go_ok; then
  echo "ensure-go: no Go >= 1.21 found; installing golang-1.23-go from bookworm-backports" >&2
  if [ ! -f /etc/apt/sources.list.d/bookworm-backports.list ]; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports golang-1.23-go >/dev/null
  go_ok || { echo "ensure-go: Go still missing after the install" >&2; exit 1; }
fi

# cgo (for -race) needs a C compiler.
if ! command -v gcc >/dev/null 2>&1; then
  echo "ensure-go: installing gcc (go test -race needs cgo)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null
fi
