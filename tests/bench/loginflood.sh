#!/usr/bin/env bash
# The proxy's throughput with and without a login brute force against the
# admin console at the same time (issue 13). gatewayd serves the tiny
# backend (tests/bench/backend) and its console with a password (bcrypt cost
# 10); wrk sends pinned requests through the proxy; in "attack" runs
# tests/bench/bruteforce guesses the console's password through its login
# form at the same time, at RATE guesses a second spread over SOURCES
# loopback addresses (127.0.x.y: the per-source and the global throttle
# both act). Rounds interleave quiet and attack runs, the first alternating;
# the ratio is the median of the per-round ratios of req/s.
#
# Pinning: gatewayd and its worker on CPU 1; wrk and bruteforce on CPU 0.
# All are plain background children of this script (not setsid, see
# peers.sh), stopped by PID when it exits.
#
#   bash tests/bench/loginflood.sh
#
# Environment (all optional): ROUNDS (default 5, at most 9), DURATION
# (seconds per run, default 10, at most 30), CONNS (wrk connections,
# default 64), RATE (guesses a second, default 500; 0 for as fast as the
# attacker's connections go), BF_CONNS (the attacker's guesses in flight at
# once, default 8; above the console's 256 held answers, the rest are
# answered at once), SOURCES (default 1000), KEEP=1 (keep the temporary
# directory). Needs go, wrk, curl, taskset and 2 CPUs.
set -euo pipefail

ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-10} CONNS=${CONNS:-64} RATE=${RATE:-500} SOURCES=${SOURCES:-1000} BF_CONNS=${BF_CONNS:-8}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cmdline="ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS RATE=$RATE SOURCES=$SOURCES BF_CONNS=$BF_CONNS bash tests/bench/loginflood.sh"
for tool in go wrk curl taskset getconf; do
	command -v "$tool" >/dev/null || { echo "loginflood.sh: $tool not found" >&2; exit 1; }
done
(($(nproc) >= 2)) || { echo "loginflood.sh: needs 2 CPUs" >&2; exit 1; }

# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
in_range ROUNDS:1:9 DURATION:1:30 CONNS:2:4000 RATE:0:100000 SOURCES:1:60000 BF_CONNS:1:4000 || exit 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gateway-loginflood.XXXXXX")
gw_pid="" bf_pid=""
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[[ -z $bf_pid ]] || stop_pid "$bf_pid" 5
	stop_gatewayd "$gw_pid" 15
	((rc == 0)) || { echo "loginflood.sh: failed (exit $rc); last lines of gatewayd.log:" >&2; tail -n 20 "$tmp/gatewayd.log" >&2 || true; }
	remove_tmp "$rc"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== building gatewayd, the backend and bruteforce into $tmp"
mkdir -p "$tmp/bin" "$tmp/app" "$tmp/run" "$tmp/state"
(cd "$root" && go build -o "$tmp/bin/gatewayd" ./cmd/gatewayd && go build -o "$tmp/app/backend" ./tests/bench/backend &&
	go build -o "$tmp/bin/bruteforce" ./tests/bench/bruteforce)

gw_port=$(free_port)
admin_port=$(free_port)
gw="http://127.0.0.1:$gw_port"
admin="http://127.0.0.1:$admin_port/"
{
	bench_gateway_toml "$gw_port" "$tmp"
	printf '\n[admin]\nlisten = "127.0.0.1:%s"\npassword_hash = "%s"\n' "$admin_port" "$("$tmp/bin/bruteforce" -hash "not-$RANDOM$RANDOM-guessable")"
} >"$tmp/gateway.toml"
"$tmp/bin/gatewayd" --check-config "$tmp/gateway.toml" >/dev/null

echo "== starting gatewayd on $gw, its console on $admin (CPU 1)"
taskset -c 1 "$tmp/bin/gatewayd" --config "$tmp/gateway.toml" >"$tmp/gatewayd.log" 2>&1 &
gw_pid=$!
wait_http "$gw/healthz" 30 "$gw_pid"
wait_http "${admin}login" 10 "$gw_pid"
cookie=$(curl -fsS -o /dev/null -D - --max-time 5 "$gw/login" | cookies)
[[ $cookie =~ (^|; )GATEWAY_AFFINITY= ]] || { echo "loginflood.sh: login through gatewayd set \"$cookie\"" >&2; exit 1; }

tck=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wrk_run() { timeout $(($1 + 20)) taskset -c 0 wrk -t2 -c"$CONNS" -d"${1}s" --latency -H "Cookie: $cookie" "$gw/"; }

declare -A RPS
rows=()
# run ROUND MODE: one wrk run, with the brute force alongside if MODE is attack.
run() {
	local r=$1 mode=$2 f="$tmp/wrk-$1-$2.txt" c0 c1 f0 f1 rps reqs p99 errs cpu bf=""
	c0=$(ticks "$gw_pid")
	f0=$(grep -c 'login failed' "$tmp/gatewayd.log" || true)
	if [[ $mode == attack ]]; then
		taskset -c 0 "$tmp/bin/bruteforce" -url "$admin" -rate "$RATE" -conns "$BF_CONNS" -sources "$SOURCES" -duration "${DURATION}s" >"$tmp/bf-$r.txt" 2>&1 &
		bf_pid=$!
	fi
	wrk_run "$DURATION" >"$f" 2>&1 || { echo "loginflood.sh: wrk failed:" >&2; cat "$f" >&2; exit 1; }
	if [[ -n $bf_pid ]]; then
		wait "$bf_pid" || { echo "loginflood.sh: bruteforce failed:" >&2; cat "$tmp/bf-$r.txt" >&2; exit 1; }
		bf_pid=""
		bf=$(cat "$tmp/bf-$r.txt")
	fi
	c1=$(ticks "$gw_pid")
	f1=$(grep -c 'login failed' "$tmp/gatewayd.log" || true)
	rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$f")
	reqs=$(awk '/requests in/ {print $1}' "$f")
	p99=$(awk '$1 == "99%" {print $2}' "$f")
	errs=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$f")
	cpu=$(awk -v t=$((c1 - c0)) -v n="$reqs" -v hz="$tck" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
	RPS[$r/$mode]=$rps
	rows+=("| $r | $mode | $rps | $p99 | $cpu | $errs | $((f1 - f0)) | ${bf:-–} |")
	printf '   %s %-6s %6s req/s  p99 %8s  gatewayd CPU %5s µs/req  errors %s  bcrypt checks %s  %s\n' "$r" "$mode" "$rps" "$p99" "$cpu" "$errs" "$((f1 - f0))" "$bf"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
echo "== warm-up"
wrk_run 2 >/dev/null
echo "== $ROUNDS rounds of {quiet, attack}, wrk -t2 -c$CONNS -d${DURATION}s, brute force $RATE/s ($BF_CONNS in flight) from $SOURCES sources"
ratios=()
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order=(quiet attack); else order=(attack quiet); fi
	for m in "${order[@]}"; do run "$r" "$m"; done
	ratios+=("$(awk -v a="${RPS[$r/attack]}" -v q="${RPS[$r/quiet]}" 'BEGIN { printf "%.3f", a / q }')")
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "?")
[[ -z $(git -C "$root" status --porcelain 2>/dev/null) ]] || rev+=" (with uncommitted changes)"

echo
echo "## Proxy throughput under a login brute force, $started"
echo
echo "- command: \`$cmdline\` (commit $rev)"
echo "- machine: $(nproc) CPUs, $(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr); load average $load_start at the start, $load_end at the end"
echo "- attack/quiet req/s, median of the per-round ratios: **$(median "${ratios[@]}")** (per round: ${ratios[*]})"
echo
echo "| round | run | req/s | p99 | gatewayd CPU µs/req | errors | bcrypt checks | brute force |"
echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |"
printf '%s\n' "${rows[@]}"
