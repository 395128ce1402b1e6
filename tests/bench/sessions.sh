#!/usr/bin/env bash
# Sessions at scale (issue 10): gatewayd in front of tests/bench/backend, one
# worker, the process runner; tests/bench/sessions logs in N distinct
# sessions and measures at checkpoints (req/s, p50/p99, gatewayd's CPU µs
# per request for pinned and new-session requests, RSS and peak RSS). Then
# gatewayd is stopped (SIGTERM: its pin store is compacted on the way out)
# and started again: how long until it serves, and how many pins it loaded.
# With the process runner the workers end with the gateway, so those pins
# are then dropped as lost; under systemd (tests/systemd
# TestRestartKeepsManyPins) the scopes are re-adopted and the pins kept.
#
#   bash tests/bench/sessions.sh            # 1,000,000 sessions, 4 to 6 minutes
#   SESSIONS=200000 bash tests/bench/sessions.sh
#
# Pinning as in peers.sh: the load tool on CPU 0, gatewayd and its worker
# on CPU 1, all children of this script (no setsid). Everything listens on
# 127.0.0.1. KEEP=1 keeps the temporary directory.
set -euo pipefail

SESSIONS=${SESSIONS:-1000000}
if ! [[ $SESSIONS =~ ^[0-9]+$ ]] || ((SESSIONS < 1000 || SESSIONS > 5000000)); then
	echo "sessions.sh: SESSIONS=$SESSIONS: want 1000 to 5000000" >&2
	exit 2
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
for tool in go curl taskset; do
	command -v "$tool" >/dev/null || { echo "sessions.sh: $tool not found" >&2; exit 1; }
done
(($(nproc) >= 2)) || { echo "sessions.sh: needs 2 CPUs" >&2; exit 1; }

# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gateway-sessions.XXXXXX")
gw_pid=""

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	local rc=$? w workers=()
	trap - EXIT INT TERM
	if [[ -n $gw_pid ]] && kill -0 "$gw_pid" 2>/dev/null; then
		mapfile -t workers < <(pgrep -P "$gw_pid" || true)
		stop_pid "$gw_pid" 30
		for w in "${workers[@]}"; do stop_pid "$w" 2; done
	fi
	if ((rc != 0)) && [[ -s $tmp/gatewayd.log ]]; then
		echo "sessions.sh: failed (exit $rc); last lines of gatewayd.log:" >&2
		tail -n 20 "$tmp/gatewayd.log" >&2
	fi
	if [[ ${KEEP:-} == 1 || $rc != 0 ]]; then
		echo "sessions.sh: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== building into $tmp" >&2
mkdir -p "$tmp/bin" "$tmp/app" "$tmp/run" "$tmp/state"
(cd "$root" && go build -o "$tmp/bin/gatewayd" ./cmd/gatewayd && go build -o "$tmp/app/backend" ./tests/bench/backend &&
	go build -o "$tmp/bin/sessions" ./tests/bench/sessions)
port=$(free_port)
gw="http://127.0.0.1:$port"
cat >"$tmp/gateway.toml" <<EOF
[gateway]
listen = ["127.0.0.1:$port"]
runtime_directory = "$tmp/run"
state_directory = "$tmp/state"
runner = "process"
shutdown_timeout = "5s"

[app]
name = "bench"
directory = "$tmp/app"
command = ["{dir}/backend"]
socket = "fd"
instances = 1
stop_timeout = "2s"

[readiness]
path = "/healthz"
timeout = "20s"
interval = "50ms"

[sessions]
cookie = "SID"
EOF

start_gatewayd() {
	taskset -c 1 "$tmp/bin/gatewayd" --config "$tmp/gateway.toml" >>"$tmp/gatewayd.log" 2>&1 &
	gw_pid=$!
}

echo "== gatewayd on $gw (CPU 1), $SESSIONS sessions from CPU 0" >&2
start_gatewayd
wait_http "$gw/healthz" 30 "$gw_pid"
marks="0,$((SESSIONS / 10)),$SESSIONS"
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
taskset -c 0 "$tmp/bin/sessions" -url "$gw" -pid "$gw_pid" -checkpoints "$marks" >"$tmp/report.md"
pins_bytes=$(stat -c %s "$tmp/run/bench.pins")

# Restart: stop (the pin store's last compaction included), start, and time
# until the first answer.
t0=$(date +%s.%N)
stop_pid "$gw_pid" 60
t1=$(date +%s.%N)
start_gatewayd
for ((i = 0; i < 3000; i++)); do
	curl -fsS -o /dev/null --max-time 1 "$gw/healthz" 2>/dev/null && break
	sleep 0.01
done
t2=$(date +%s.%N)
loaded=$(grep -o 'loaded the pins of the previous run.*sessions=[0-9]*' "$tmp/gatewayd.log" | tail -n 1 | grep -o '[0-9]*$' || echo 0)

cat <<EOF
## Sessions at scale, $started

- command: \`SESSIONS=$SESSIONS bash tests/bench/sessions.sh\` (from the repository root, commit $(cd "$root" && git rev-parse --short HEAD))
- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), Linux $(uname -r); $(go version | cut -d' ' -f3)
- load tool (tests/bench/sessions) on CPU 0, 32 keep-alive connections; medians of 3 interleaved measurements (4 s of pinned requests, 2 s of logins) at each checkpoint, pins counted at its start; gatewayd and its one worker (tests/bench/backend) on CPU 1; the process runner

$(cat "$tmp/report.md")

Restart with $SESSIONS pins: stopping took $(printf '%.2f' "$(echo "$t1 - $t0" | bc)") s (the final compaction of a $((pins_bytes / 1000000)) MB pin store included); the new gatewayd answered $(printf '%.2f' "$(echo "$t2 - $t1" | bc)") s after it was started, having loaded $loaded pins (then dropped as lost: the process runner's workers ended with the old gateway).
EOF
