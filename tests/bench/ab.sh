#!/usr/bin/env bash
# Side-by-side load run of two builds of gatewayd: the working tree's and
# that of an earlier commit (BASE), each in front of its own copy of the
# same backend, in interleaved rounds, with the CPU each gatewayd spends per
# request. It tells whether a change made the request path dearer when the
# VM's speed drifts too much for two peers.sh runs to be compared: both
# builds meet the same drift in the same rounds.
#
#   BASE=ba40f3f ROUNDS=9 bash tests/bench/ab.sh
#
# Pinning, wrk, the kinds (pinned, anonymous) and the tables are those of
# peers.sh (its header has the details), with "base" where peers.sh has
# HAProxy. The base is built from a temporary `git worktree` of BASE, which
# is removed at the end.
#
# Environment: BASE (required, a commit), ROUNDS (default 3, at most 9),
# DURATION (default 10 s, at most 30), CONNS (default 64), KEEP=1.
set -euo pipefail

BASE=${BASE:?BASE=COMMIT: the build to compare the working tree with}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=2
WARMUP=2
if ! [[ $ROUNDS =~ ^[0-9]+$ ]] || ((ROUNDS < 1 || ROUNDS > 9)); then
	echo "ab.sh: ROUNDS=$ROUNDS: want 1 to 9" >&2
	exit 2
fi
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION < 1 || DURATION > 30)); then
	echo "ab.sh: DURATION=$DURATION: want 1 to 30 seconds" >&2
	exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
base_rev=$(git -C "$root" rev-parse --short "$BASE^{commit}") || { echo "ab.sh: BASE=$BASE is not a commit" >&2; exit 2; }
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
peers_prepare "$root" wrk curl

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gateway-ab.XXXXXX")
pids=()
gw_pid="" # stopped by ab_cleanup, with the base's gatewayd
base_gw=""
ab_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_gatewayd "$base_gw" 15
	stop_gatewayd "$gw_pid" 15
	git -C "$root" worktree remove --force "$tmp/src" 2>/dev/null || true
	remove_tmp "$rc"
	exit "$rc"
}
trap ab_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== building gatewayd at $base_rev and at the working tree, and the backend, into $tmp"
git -C "$root" worktree add -q --detach "$tmp/src" "$base_rev"
mkdir -p "$tmp/app" "$tmp/base" "$tmp/new"
(cd "$tmp/src" && go build -o "$tmp/base/gatewayd" ./cmd/gatewayd)
(cd "$root" && go build -o "$tmp/new/gatewayd" ./cmd/gatewayd && go build -o "$tmp/app/backend" ./tests/bench/backend)

declare -A url cookie proxy_pid backend_pid
for side in base new; do
	port=$(free_port)
	mkdir -p "$tmp/$side/run" "$tmp/$side/state"
	bench_gateway_toml "$port" "$tmp/$side" >"$tmp/$side/gateway.toml"
	echo "== starting gatewayd ($side) on http://127.0.0.1:$port (CPU 1)"
	taskset -c 1 "$tmp/$side/gatewayd" --config "$tmp/$side/gateway.toml" >"$tmp/$side/gatewayd.log" 2>&1 &
	pid=$!
	name=$side
	[[ $side == new ]] && name=gatewayd gw_pid=$pid
	[[ $side == base ]] && base_gw=$pid
	url[$name]="http://127.0.0.1:$port"
	wait_http "${url[$name]}/healthz" 30 "$pid"
	proxy_pid[$name]=$pid backend_pid[$name]=$(app_pid "$pid")
	on_cpu1 "$pid" "${backend_pid[$name]}"
	cookie[$name/pinned]=$(curl -fsS -o /dev/null -D - --max-time 5 "${url[$name]}/login" | cookies)
	cookie[$name/anonymous]=""
	[[ ${cookie[$name/pinned]} == *GATEWAY_AFFINITY=* ]] || { echo "ab.sh: login through $name set no affinity cookie" >&2; exit 1; }
done

wrk_cmd() {
	local cmd=(timeout $(($3 + 20)) taskset -c 0 wrk -t"$THREADS" -c"$CONNS" -d"${3}s" --latency)
	[[ -z $2 ]] || cmd+=(-H "Cookie: $2")
	"${cmd[@]}" "$1/"
}

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
for p in base gatewayd; do
	for kind in pinned anonymous; do wrk_cmd "${url[$p]}" "${cookie[$p/$kind]}" "$WARMUP" >/dev/null; done
done
echo "== $ROUNDS rounds of {base ($base_rev), gatewayd (working tree)} x {pinned, anonymous}, wrk -t$THREADS -c$CONNS -d${DURATION}s"
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order=(base gatewayd); else order=(gatewayd base); fi
	for p in "${order[@]}"; do
		for kind in pinned anonymous; do
			measure "$r" "$p" "$kind" parse_wrk wrk_cmd "${url[$p]}" "${cookie[$p/$kind]}" "$DURATION"
		done
	done
done

echo
echo "## ab.sh: gatewayd at $(commit_of "$root") against $base_rev, $started"
echo
echo "- \`BASE=$BASE ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS bash tests/bench/ab.sh\`"
echo "- $(machine); $(go version | awk '{print $3}')"
echo
BASE_PROXY=base BASE_LABEL=base report "$ROUNDS" pinned anonymous
