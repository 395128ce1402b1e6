#!/usr/bin/env bash
# Runs every test of the project, as CI does (.ci/run calls exactly this).
# Needs root on Debian 12 only to install what is missing (Go, gcc).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/ensure-go.sh

# The systemd integration tests start a confined `systemd --user` manager
# (tests/sdtest) and boot Debian under systemd-nspawn (tests/nspawn);
# packaging/ checks the packages with lintian and rpm; tests/e2e runs curl
# and HAProxy (haproxy_test.go) against gatewayd. They need these packages
# and must not be skipped.
missing=""
for p in systemd dbus dbus-user-session systemd-container debootstrap lintian rpm curl haproxy; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "== installing$missing (for the systemd integration tests)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
export GATEWAY_REQUIRE_SYSTEMD=1

# The browser tests (tests/e2e/admin_test.go, the admin console, and
# https_test.go, the app over HTTPS and HTTP/2) drive Debian's chromium with
# playwright-core (tests/browser, which downloads no browser); with
# GATEWAY_REQUIRE_SYSTEMD=1 they must not be skipped either.
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (for the browser tests)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v npm >/dev/null; then
  echo "== installing nodejs and npm (for the browser tests)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
echo "== npm ci --prefix tests/browser"
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error

echo "== go $(go env GOVERSION), $(nproc) cores"
go mod download
go mod verify

# HTTP/2 conformance (tests/e2e/h2spec_test.go) runs h2spec, a Go tool,
# built here at a pinned version into a cache outside the repository.
tools="${XDG_CACHE_HOME:-$HOME/.cache}/gateway-tools"
if [ ! -x "$tools/h2spec" ]; then
  echo "== go install h2spec"
  GOBIN="$tools" go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible
fi
export H2SPEC="$tools/h2spec" GATEWAY_REQUIRE_H2SPEC=1

echo "== formatting and vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

echo "== tests (race detector on; gatewayd itself race-built in the end-to-end tests)"
# The full -v log goes to a file; the terminal gets package results,
# failures, and a closing count.
log=$(mktemp /tmp/gateway-tests-XXXXXX.log)
status=0
GATEWAY_E2E_RACE=1 go test -race -count=1 -timeout 30m -v ./... >"$log" 2>&1 || status=$?
grep -E '^(ok|FAIL|panic:)|^\s*--- FAIL' "$log" || true
if [ "$status" -ne 0 ]; then
  echo "== details of the failures"
  grep -E -B3 -A40 '^\s*--- FAIL' "$log" | head -400 || true
fi
passed=$(grep -cE '^\s*--- PASS' "$log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$log" || true)
if [ "$skipped" -gt 0 ]; then
  echo "skipped:"; grep -E '^\s*--- SKIP' -A1 "$log" | sed 's/^/  /'
fi
echo "full log: $log"
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
