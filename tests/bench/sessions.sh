#!/usr/bin/env bash
# Sessions at scale (issue 10): three gatewayds, each in front of
# tests/bench/backend (one worker, the process runner), filled by
# tests/bench/sessions with 0, N/10 and N distinct sessions, then measured
# side by side in rounds (req/s, p50/p99, gatewayd's CPU µs per request for
# pinned and new-session requests, RSS and peak RSS): cost per request
# against the number of pins, on the same machine at the same time. Then the
# one with N pins is stopped (SIGTERM: its pin store is compacted on the way
# out) and started again: how long until it serves, and how many pins it
# loaded. With the process runner the workers end with the gateway, so those
# pins are then dropped as lost; under systemd (tests/systemd
# TestRestartKeepsManyPins) the scopes are re-adopted and the pins kept.
#
#   bash tests/bench/sessions.sh            # 1,000,000 sessions, about 3 minutes
#   SESSIONS=200000 bash tests/bench/sessions.sh
#
# Pinning as in peers.sh: the load tool on CPU 0, the gatewayds and their
# workers on CPU 1, all children of this script (no setsid). Everything
# listens on 127.0.0.1. KEEP=1 keeps the temporary directory.
set -euo pipefail

SESSIONS=${SESSIONS:-1000000}
if ! [[ $SESSIONS =~ ^[0-9]+$ ]] || ((SESSIONS < 10000 || SESSIONS > 5000000)); then
	echo "sessions.sh: SESSIONS=$SESSIONS: want 10000 to 5000000" >&2
	exit 2
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
for tool in go curl taskset bc; do
	command -v "$tool" >/dev/null || { echo "sessions.sh: $tool not found" >&2; exit 1; }
done
(($(nproc) >= 2)) || { echo "sessions.sh: needs 2 CPUs" >&2; exit 1; }

# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gateway-sessions.XXXXXX")
gw_pids=() # every gatewayd started; each stops its own worker

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	local rc=$? p f
	trap - EXIT INT TERM
	for p in "${gw_pids[@]}"; do stop_gatewayd "$p" 30; done
	if ((rc != 0)); then
		for f in "$tmp"/*/gatewayd.log; do
			[[ -s $f ]] || continue
			echo "sessions.sh: failed (exit $rc); last lines of $f:" >&2
			tail -n 20 "$f" >&2
		done
	fi
	remove_tmp "$rc"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== building into $tmp" >&2
mkdir -p "$tmp/bin" "$tmp/app"
(cd "$root" && go build -o "$tmp/bin/gatewayd" ./cmd/gatewayd && go build -o "$tmp/app/backend" ./tests/bench/backend &&
	go build -o "$tmp/bin/sessions" ./tests/bench/sessions)

# configure NAME PORT writes $tmp/NAME/gateway.toml, with a runtime
# directory of its own.
configure() {
	mkdir -p "$tmp/$1/run" "$tmp/$1/state"
	bench_gateway_toml "$2" "$tmp/$1" >"$tmp/$1/gateway.toml"
}

# start NAME starts that gatewayd on CPU 1; its PID is then in pid[NAME].
declare -A pid url
start() {
	taskset -c 1 "$tmp/bin/gatewayd" --config "$tmp/$1/gateway.toml" >>"$tmp/$1/gatewayd.log" 2>&1 &
	gw_pids+=($!)
	pid[$1]=$!
}

names=(none tenth all)
counts=(0 $((SESSIONS / 10)) "$SESSIONS")
targets=()
for i in 0 1 2; do
	n=${names[i]}
	url[$n]="http://127.0.0.1:$(free_port)"
	configure "$n" "${url[$n]##*:}"
	start "$n"
	wait_http "${url[$n]}/healthz" 30 "${pid[$n]}"
	targets+=(-target "${url[$n]},${pid[$n]},${counts[i]}")
done
echo "== three gatewayds on CPU 1 (0, $((SESSIONS / 10)) and $SESSIONS sessions), the load from CPU 0" >&2
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
taskset -c 0 "$tmp/bin/sessions" "${targets[@]}" >"$tmp/report.md"
pins_bytes=$(stat -c %s "$tmp/all/run/bench.pins")

# Restart the one with the most pins: stop (its pin store's last
# compaction included), start, and time until the first answer.
t0=$(date +%s.%N)
stop_pid "${pid[all]}" 60
t1=$(date +%s.%N)
start all
for ((i = 0; i < 3000; i++)); do
	curl -fsS -o /dev/null --max-time 1 "${url[all]}/healthz" 2>/dev/null && break
	sleep 0.01
done
t2=$(date +%s.%N)
loaded=$(grep -o 'loaded the pins of the previous run.*sessions=[0-9]*' "$tmp/all/gatewayd.log" | tail -n 1 | grep -o '[0-9]*$' || echo 0)

cat <<REPORT
## Sessions at scale, $started

- command: \`SESSIONS=$SESSIONS bash tests/bench/sessions.sh\` (from the repository root, commit $(cd "$root" && git rev-parse --short HEAD))
- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), Linux $(uname -r); $(go version | cut -d' ' -f3)
- three gatewayds, each with one worker (tests/bench/backend) and the process runner, on CPU 1; the load tool (tests/bench/sessions) on CPU 0, 32 keep-alive connections; after filling, 5 rounds measure each gatewayd in turn (4 s of pinned requests, 2 s of logins); medians

$(cat "$tmp/report.md")

Restart of the gatewayd with the most pins: stopping took $(printf '%.2f' "$(echo "$t1 - $t0" | bc)") s (the final compaction of a $((pins_bytes / 1000000)) MB pin store included); the new gatewayd answered $(printf '%.2f' "$(echo "$t2 - $t1" | bc)") s after it was started, having loaded $loaded pins (then dropped as lost: the process runner's workers ended with the old gateway).
REPORT
