#!/usr/bin/env bash
# Bounded loopback load run: what a request costs through gatewayd, compared
# with the notes sample app served directly, and whether an upgrade under load
# loses a request. Everything listens on 127.0.0.1; every wrk run is at most
# 15 seconds. Results: docs/benchmarks.md.
#
# For each run it reports wrk's throughput and latency, and the CPU time
# (user + system, from /proc/PID/stat) that gatewayd and the app processes
# used per request: on a loaded machine that is a steadier measure of the
# gateway's cost than req/s, which depends on how the cores are shared
# between wrk, gatewayd and the workers.
#
#   bash tests/bench/loopback.sh
#
# Environment (all optional):
#   DURATION  seconds per wrk run (default 10, at most 15)
#   THREADS   wrk threads (default 2)
#   CONNS     wrk connections (default 32)
#   KEEP=1    keep the temporary directory (binaries, config, logs)
#
# Needs go, curl and wrk (apt-get install -y wrk). It starts gatewayd (which
# starts the notes workers), one notes process of its own and wrk, and stops
# exactly those processes, by PID, when it exits.
set -euo pipefail

DURATION=${DURATION:-10}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION < 1 || DURATION > 15)); then
	echo "loopback.sh: DURATION=$DURATION: want 1 to 15 seconds" >&2
	exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
for tool in go curl wrk; do
	if ! command -v "$tool" >/dev/null; then
		echo "loopback.sh: $tool not found${tool/wrk/ (apt-get install -y wrk)}" >&2
		exit 1
	fi
done

# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gateway-bench.XXXXXX")
pids=()     # processes this script started, stopped in reverse order
gw_pid=""   # gatewayd, whose workers are stopped by gatewayd itself

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	stop_gatewayd "$gw_pid" 20
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}" 5; done
	if ((rc != 0)) && [[ -f $tmp/gatewayd.log ]]; then
		echo "loopback.sh: failed (exit $rc); last lines of the gatewayd log:" >&2
		tail -n 30 "$tmp/gatewayd.log" >&2
	fi
	remove_tmp "$rc"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# login POSTs a login to base URL $1 and prints the cookies it set.
login() {
	curl -fsS -o /dev/null -D - -X POST -H 'Accept: application/json' \
		--data-urlencode user=bench "$1/login" | cookies
}

# --- build and lay out a deployment ---------------------------------------

echo "== building gatewayd and notes into $tmp/bin"
(cd "$root" && go build -o "$tmp/bin/gatewayd" ./cmd/gatewayd && go build -o "$tmp/bin/notes" ./examples/notes)
for rel in r1 r2; do
	mkdir -p "$tmp/releases/$rel"
	cp "$tmp/bin/notes" "$tmp/releases/$rel/notes"
done
ln -sfn "$tmp/releases/r1" "$tmp/current"

gw_port=$(free_port)
app_port=$(free_port)
while [[ $app_port == "$gw_port" ]]; do app_port=$(free_port); done
gw="http://127.0.0.1:$gw_port"
app="http://127.0.0.1:$app_port"

cat >"$tmp/notes.toml" <<EOF
[gateway]
listen = ["127.0.0.1:$gw_port"]
runtime_directory = "$tmp/run"
state_directory = "$tmp/state"
runner = "process"
shutdown_timeout = "5s"

[app]
name = "notes"
directory = "$tmp/current"
command = ["{dir}/notes", "-cookie", "NOTESSESSION"]
socket = "fd"
instances = 2
stop_timeout = "2s"

[readiness]
path = "/healthz"
timeout = "20s"
interval = "50ms"

[sessions]
cookie = "NOTESSESSION"
logout_paths = ["/signout"]

[drain]
max_time = "1h"
close_window = "1s"
EOF
"$tmp/bin/gatewayd" --check-config "$tmp/notes.toml" >/dev/null

# --- start the processes ----------------------------------------------------

echo "== starting gatewayd on $gw (2 notes workers, socket fd)"
"$tmp/bin/gatewayd" --config "$tmp/notes.toml" >"$tmp/gatewayd.log" 2>&1 &
gw_pid=$!
wait_http "$gw/healthz" 30 "$gw_pid"

echo "== starting notes directly on $app"
"$tmp/bin/notes" -addr "127.0.0.1:$app_port" -cookie NOTESSESSION -revision direct >"$tmp/notes-direct.log" 2>&1 &
direct_pid=$!
pids+=("$direct_pid")
wait_http "$app/healthz" 10 "$direct_pid"

gw_cookie=$(login "$gw")
app_cookie=$(login "$app")
[[ $gw_cookie == *NOTESSESSION=*GATEWAY_AFFINITY=* || $gw_cookie == *GATEWAY_AFFINITY=*NOTESSESSION=* ]] ||
	{ echo "loopback.sh: login through the gateway set \"$gw_cookie\", want NOTESSESSION and GATEWAY_AFFINITY" >&2; exit 1; }
[[ $app_cookie == NOTESSESSION=* ]] ||
	{ echo "loopback.sh: direct login set \"$app_cookie\", want NOTESSESSION" >&2; exit 1; }
gen_before=$(curl -fsS -H "Cookie: $gw_cookie" "$gw/whoami")
[[ $gen_before == *'"session":true'* ]] ||
	{ echo "loopback.sh: /whoami through the gateway does not see the session: $gen_before" >&2; exit 1; }

# --- wrk runs ---------------------------------------------------------------

# The mixed script for the upgrade run alternates anonymous GET /healthz and
# the logged-in GET /whoami, so that both routes are exercised while the new
# generation starts.
cat >"$tmp/mixed.lua" <<EOF
local n = 0
request = function()
	n = n + 1
	if n % 2 == 0 then
		return wrk.format("GET", "/healthz")
	end
	return wrk.format("GET", "/whoami", { ["Cookie"] = "$gw_cookie" })
end
EOF

rows=()
tck=$(getconf CLK_TCK)

# ticks prints the CPU time (user + system, in clock ticks) a process has
# used so far, or 0 if it is gone.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# A run's server-side CPU per request: gatewayd, and the app processes
# (gatewayd's workers, or the directly started notes). Workers that start
# during a run (the upgrade) count from zero.
declare -A cpu0
cpu_begin() {
	cpu0=()
	local p
	for p in "$@"; do cpu0[$p]=$(ticks "$p"); done
}
cpu_used() { # prints the ticks used by the given processes since cpu_begin
	local p sum=0
	for p in "$@"; do sum=$((sum + $(ticks "$p") - ${cpu0[$p]:-0})); done
	echo "$sum"
}
workers() { pgrep -P "$gw_pid" | tr '\n' ' '; }
per_req() { # ticks requests → microseconds per request, one decimal
	awk -v t="$1" -v n="$2" -v hz="$tck" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "?" }'
}

# run_wrk NAME URL [wrk args...]: runs wrk, keeps its output in
# $tmp/wrk-NAME.txt and adds a table row.
run_wrk() {
	local name=$1 url=$2
	shift 2
	local app_pids gw_ticks app_ticks
	if [[ $name == direct* ]]; then app_pids=$direct_pid; else app_pids=$(workers); fi
	echo "== wrk $name: -t$THREADS -c$CONNS -d${DURATION}s $url $*"
	# shellcheck disable=SC2086 # app_pids is a list of PIDs
	cpu_begin "$gw_pid" $app_pids
	wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url" >"$tmp/wrk-$name.txt" 2>&1 &
	local wpid=$!
	pids+=("$wpid")
	if [[ $name == upgrade* ]]; then
		sleep $((DURATION / 2))
		ln -sfn "$tmp/releases/r2" "$tmp/current.new" && mv -T "$tmp/current.new" "$tmp/current"
		echo "   SIGHUP to gatewayd (pid $gw_pid) at ${DURATION}s/2, current -> r2"
		kill -HUP "$gw_pid"
	fi
	wait "$wpid"
	unset 'pids[-1]'
	if [[ $name == direct* ]]; then
		gw_ticks=-
		app_ticks=$(cpu_used "$direct_pid")
	else
		gw_ticks=$(cpu_used "$gw_pid")
		# shellcheck disable=SC2046 # a list of PIDs
		app_ticks=$(cpu_used $(workers))
	fi
	row "$name" "$url" "$tmp/wrk-$name.txt" "$gw_ticks" "$app_ticks"
}

# row turns one wrk report and the CPU ticks used into a markdown table row.
row() {
	local name=$1 url=$2 f=$3 gw_ticks=$4 app_ticks=$5
	local rps lat p50 p99 reqs non2xx sock gw_us app_us
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$f")
	lat=$(awk '$1 == "Latency" {print $2; exit}' "$f")
	p50=$(awk '$1 == "50%" {print $2}' "$f")
	p99=$(awk '$1 == "99%" {print $2}' "$f")
	reqs=$(awk '/requests in/ {print $1}' "$f")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$f")
	sock=$(awk '/Socket errors:/ {gsub(",", ""); print $4+$6+$8+$10}' "$f")
	gw_us=-
	[[ $gw_ticks == - ]] || gw_us=$(per_req "$gw_ticks" "${reqs:-0}")
	app_us=$(per_req "$app_ticks" "${reqs:-0}")
	rows+=("| $name | ${url#http://} | ${rps:-?} | ${lat:-?} | ${p50:-?} | ${p99:-?} | ${reqs:-?} | $gw_us | $app_us | ${non2xx:-0} | ${sock:-0} |")
	printf '   %s req/s, avg %s, p99 %s; CPU µs/req gatewayd %s, app %s; non-2xx/3xx %s, socket errors %s\n' \
		"${rps:-?}" "${lat:-?}" "${p99:-?}" "$gw_us" "$app_us" "${non2xx:-0}" "${sock:-0}"
}

run_wrk direct-healthz "$app/healthz"
run_wrk direct-whoami "$app/whoami" -H "Cookie: $app_cookie"
run_wrk gateway-anonymous-healthz "$gw/healthz"
run_wrk gateway-pinned-whoami "$gw/whoami" -H "Cookie: $gw_cookie"
run_wrk upgrade-mixed "$gw" -s "$tmp/mixed.lua"

# --- check the upgrade ------------------------------------------------------

for ((i = 0; i < 200; i++)); do
	grep -q 'msg="upgrade done"' "$tmp/gatewayd.log" && break
	grep -q 'msg="upgrade failed' "$tmp/gatewayd.log" && break
	sleep 0.1
done
upgrade=$(grep -E 'msg="upgrade (done|failed)' "$tmp/gatewayd.log" | tail -n 1 || true)
pinned_after=$(curl -fsS -H "Cookie: $gw_cookie" "$gw/whoami")
fresh_after=$(curl -fsS -H 'Accept: application/json' --data-urlencode user=late "$gw/login")
gen_of() { sed -n 's/.*"generation":"\([^"]*\)".*/\1/p' <<<"$1"; }

# --- report -----------------------------------------------------------------

echo
echo "## Loopback load: $(nproc) CPUs, wrk -t$THREADS -c$CONNS -d${DURATION}s, $(go version | awk '{print $3}')"
echo
echo "| run | target | req/s | avg latency | p50 | p99 | requests | gatewayd CPU µs/req | app CPU µs/req | non-2xx/3xx | socket errors |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "upgrade: ${upgrade:-no outcome logged within 20s}"
echo "after the upgrade: the session from before is on generation $(gen_of "$pinned_after"), a new login lands on generation $(gen_of "$fresh_after")"

fail=0
for f in "$tmp"/wrk-*.txt; do
	if grep -qE 'Non-2xx or 3xx responses|Socket errors' "$f"; then
		echo "FAIL: $(basename "$f" .txt) had errors:" >&2
		grep -E 'Non-2xx or 3xx responses|Socket errors' "$f" >&2
		fail=1
	fi
done
[[ $upgrade == *'upgrade done'* ]] || { echo "FAIL: the upgrade did not complete" >&2; fail=1; }
[[ $(gen_of "$pinned_after") == 1 ]] || { echo "FAIL: the pinned session left generation 1" >&2; fail=1; }
[[ $(gen_of "$fresh_after") == 2 ]] || { echo "FAIL: a new session after the upgrade is not on generation 2" >&2; fail=1; }
exit "$fail"
