#!/usr/bin/env bash
# Side-by-side load run of gatewayd and HAProxy on one 2-core machine (issue
# 9): the same tiny backend (tests/bench/backend) behind each proxy, the same
# wrk load, interleaved rounds, and the proxy's own CPU time per request.
# Everything listens on 127.0.0.1; every wrk run is at most 30 seconds and
# the whole run takes 2 to 3 minutes at the defaults.
#
# Pinning: wrk runs on CPU 0; HAProxy, its backend, gatewayd and gatewayd's
# worker on CPU 1. All of them are plain background children of this script
# (not setsid: a new session gets its own scheduler autogroup, which skews
# the CPU shares on 2 cores by 20-40 %).
#
# Each round runs {haproxy, gatewayd} x {pinned, anonymous}, the proxy that
# goes first alternating between rounds:
#   pinned     every request carries the session cookie from one login
#              through that proxy and the proxy's own cookie
#              (Cookie: SID=...; GATEWAY_AFFINITY=... resp. SID=...; SRV=...)
#   anonymous  no cookie
# wrk: 2 threads, CONNS keep-alive connections, GET /, 100-byte answers.
# For each run: req/s, p50 and p99 latency, errors (non-2xx/3xx and socket
# errors), and the proxy's CPU µs per request: utime+stime of the proxy
# process only (/proc/PID/stat; gatewayd's worker is not counted) divided
# by the requests wrk completed. The backend's CPU µs/req is shown too.
# The summary takes medians over the rounds; "gatewayd/HAProxy" is the
# median of the per-round ratios of req/s.
#
#   bash tests/bench/peers.sh
#
# Environment (all optional):
#   ROUNDS    rounds (default 3, at most 9)
#   DURATION  seconds per wrk run (default 10, at most 30)
#   CONNS     wrk connections (default 64)
#   KEEP=1    keep the temporary directory (binaries, configs, logs, wrk output)
#
# Needs go, haproxy (Debian 12's 2.6), wrk, curl, taskset and at least 2
# CPUs; as root it installs haproxy, wrk and curl with apt-get if missing
# (on a machine booted with systemd the haproxy package also enables its
# own haproxy.service, with Debian's default config, which listens nowhere).
# It starts HAProxy, one backend for it, gatewayd (which starts its worker)
# and wrk, and stops exactly those processes, by PID, when it exits.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=2
WARMUP=2 # seconds of wrk per target and kind before the first round
if ! [[ $ROUNDS =~ ^[0-9]+$ ]] || ((ROUNDS < 1 || ROUNDS > 9)); then
	echo "peers.sh: ROUNDS=$ROUNDS: want 1 to 9" >&2
	exit 2
fi
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION < 1 || DURATION > 30)); then
	echo "peers.sh: DURATION=$DURATION: want 1 to 30 seconds" >&2
	exit 2
fi
if ! [[ $CONNS =~ ^[0-9]+$ ]] || ((CONNS < THREADS || CONNS > 4000)); then
	echo "peers.sh: CONNS=$CONNS: want $THREADS to 4000" >&2
	exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cmdline="ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS bash tests/bench/peers.sh"

# --- what it needs ------------------------------------------------------------

export PATH="/usr/local/go/bin:/usr/lib/go-1.23/bin:$HOME/go/bin:$PATH"
missing=()
command -v haproxy >/dev/null || missing+=(haproxy)
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]} > 0)); then
	if ((EUID != 0)); then
		echo "peers.sh: missing ${missing[*]}: apt-get install -y ${missing[*]} (or run as root)" >&2
		exit 1
	fi
	echo "== installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq "${missing[@]}" >/dev/null; then
		apt-get update -qq
		apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
fi
if ! command -v go >/dev/null && ((EUID == 0)); then
	# shellcheck source=/dev/null # tests/ensure-go.sh
	. "$root/tests/ensure-go.sh"
fi
for tool in go haproxy wrk curl taskset getconf; do
	if ! command -v "$tool" >/dev/null; then
		echo "peers.sh: $tool not found" >&2
		exit 1
	fi
done
if (($(nproc) < 2)); then
	echo "peers.sh: needs 2 CPUs (wrk on CPU 0, the proxies on CPU 1), this machine has $(nproc)" >&2
	exit 1
fi

# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gateway-peers.XXXXXX")
pids=()   # processes this script started, stopped in reverse order
gw_pid="" # gatewayd, whose worker is stopped by gatewayd itself

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	stop_gatewayd "$gw_pid" 15
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}" 5; done
	if ((rc != 0)); then
		for f in gatewayd haproxy backend; do
			[[ -s $tmp/$f.log ]] || continue
			echo "peers.sh: failed (exit $rc); last lines of $f.log:" >&2
			tail -n 20 "$tmp/$f.log" >&2
		done
	fi
	remove_tmp "$rc"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# login GETs /login through base URL $1 and prints the cookies it set.
login() { curl -fsS -o /dev/null -D - --max-time 5 "$1/login" | cookies; }

# --- build and configure ------------------------------------------------------

echo "== building gatewayd and the backend into $tmp"
mkdir -p "$tmp/bin" "$tmp/app" "$tmp/run" "$tmp/state"
(cd "$root" && go build -o "$tmp/bin/gatewayd" ./cmd/gatewayd && go build -o "$tmp/app/backend" ./tests/bench/backend)

hap_port=$(free_port)
be_port=$(free_port)
gw_port=$(free_port)
hap="http://127.0.0.1:$hap_port"
be="http://127.0.0.1:$be_port"
gw="http://127.0.0.1:$gw_port"

# HAProxy: one thread, no logging, one server it does not start, session
# stickiness by an inserted cookie, keep-alive connections to the server.
cat >"$tmp/haproxy.cfg" <<EOF
global
	nbthread 1
	maxconn 4096

defaults
	mode http
	option http-keep-alive
	timeout connect 5s
	timeout client 60s
	timeout server 60s
	timeout http-keep-alive 60s

frontend fe
	bind 127.0.0.1:$hap_port
	default_backend app

backend app
	cookie SRV insert indirect nocache
	http-reuse always
	server app1 127.0.0.1:$be_port cookie app1
EOF
haproxy -c -q -f "$tmp/haproxy.cfg"

# gatewayd: one worker per generation on a socket passed as fd 3, child
# processes (not systemd scopes), no admin listener.
bench_gateway_toml "$gw_port" "$tmp" >"$tmp/gateway.toml"
"$tmp/bin/gatewayd" --check-config "$tmp/gateway.toml" >/dev/null

# --- start the servers, all on CPU 1 -----------------------------------------

echo "== starting the backend for HAProxy on $be (CPU 1)"
taskset -c 1 "$tmp/app/backend" -addr "127.0.0.1:$be_port" >"$tmp/backend.log" 2>&1 &
be_pid=$!
pids+=("$be_pid")
wait_http "$be/healthz" 10 "$be_pid"

echo "== starting HAProxy on $hap (CPU 1)"
taskset -c 1 haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
hap_pid=$!
pids+=("$hap_pid")
wait_http "$hap/healthz" 10 "$hap_pid"

echo "== starting gatewayd on $gw (CPU 1, 1 worker, socket fd)"
taskset -c 1 "$tmp/bin/gatewayd" --config "$tmp/gateway.toml" >"$tmp/gatewayd.log" 2>&1 &
gw_pid=$!
wait_http "$gw/healthz" 30 "$gw_pid"
keeper_pid=$(pgrep -P "$gw_pid" | head -n 1)
[[ -n $keeper_pid ]] || { echo "peers.sh: gatewayd has no worker process" >&2; exit 1; }
# The process runner's worker is a keeper (internal/shim) with the app as
# its child: the backend's CPU is the app's.
worker_pid=$(pgrep -P "$keeper_pid" | head -n 1)
[[ -n $worker_pid ]] || { echo "peers.sh: gatewayd's worker $keeper_pid has no app process" >&2; exit 1; }

# --- check that both proxies serve the backend's body, get the cookies --------

want=$(curl -fsS --max-time 5 "$be/")
((${#want} == 99)) || { echo "peers.sh: the backend answered ${#want}+1 bytes, want 100" >&2; exit 1; }
for url in "$hap/" "$gw/"; do
	got=$(curl -fsS --max-time 5 "$url")
	[[ $got == "$want" ]] || { echo "peers.sh: $url answered \"$got\", want the backend's body" >&2; exit 1; }
done
for pid in "$be_pid" "$hap_pid" "$gw_pid" "$worker_pid"; do
	aff=$(taskset -pc "$pid" | sed 's/.*: //')
	[[ $aff == 1 ]] || { echo "peers.sh: pid $pid runs on CPUs $aff, want 1" >&2; exit 1; }
done

hap_cookie=$(login "$hap")
gw_cookie=$(login "$gw")
[[ $hap_cookie =~ (^|; )SID=[0-9a-f]+(;|$) && $hap_cookie =~ (^|; )SRV=app1(;|$) ]] ||
	{ echo "peers.sh: login through HAProxy set \"$hap_cookie\", want SID and SRV" >&2; exit 1; }
[[ $gw_cookie =~ (^|; )SID=[0-9a-f]+(;|$) && $gw_cookie =~ (^|; )GATEWAY_AFFINITY= ]] ||
	{ echo "peers.sh: login through gatewayd set \"$gw_cookie\", want SID and GATEWAY_AFFINITY" >&2; exit 1; }
# A pinned request through HAProxy gets no new SRV cookie (indirect).
if curl -fsS -o /dev/null -D - -H "Cookie: $hap_cookie" "$hap/" | grep -qi '^set-cookie:'; then
	echo "peers.sh: HAProxy sets a cookie on a request that has SRV" >&2
	exit 1
fi

# --- wrk runs -----------------------------------------------------------------

tck=$(getconf CLK_TCK)

# ticks prints the CPU time (utime + stime, clock ticks, all threads) a
# process has used so far. The command name (field 2) has no spaces here.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# us_of converts a wrk duration (850.00us, 1.23ms, 1.02s, 2.00m) to µs.
us_of() {
	awk -v d="$1" 'BEGIN {
		n = d + 0; u = d; sub(/^[0-9.]+/, "", u)
		f = (u == "us") ? 1 : (u == "ms") ? 1e3 : (u == "s") ? 1e6 : (u == "m") ? 6e7 : -1
		if (d == "" || f < 0) print "?"; else printf "%.0f", n * f
	}'
}

# wrk_cmd URL COOKIE SECONDS: runs wrk against URL/ (with COOKIE if not
# empty) on CPU 0, killed if it overruns by 20 seconds.
wrk_cmd() {
	local cmd=(timeout $(($3 + 20)) taskset -c 0 wrk -t"$THREADS" -c"$CONNS" -d"${3}s" --latency)
	[[ -z $2 ]] || cmd+=(-H "Cookie: $2")
	"${cmd[@]}" "$1/"
}

declare -A url cookie proxy_pid backend_pid
url[haproxy]=$hap url[gatewayd]=$gw
cookie[haproxy/pinned]=$hap_cookie cookie[gatewayd/pinned]=$gw_cookie
cookie[haproxy/anonymous]="" cookie[gatewayd/anonymous]=""
proxy_pid[haproxy]=$hap_pid proxy_pid[gatewayd]=$gw_pid
backend_pid[haproxy]=$be_pid backend_pid[gatewayd]=$worker_pid

# Results by "round/proxy/kind".
declare -A R_RPS R_P50 R_P99 R_CPU R_ERR
runs=()

# run ROUND PROXY KIND: one measured wrk run.
run() {
	local round=$1 p=$2 kind=$3 key="$1/$2/$3" f="$tmp/wrk-$1-$2-$3.txt"
	local p0 b0 p1 b1 rps reqs p50 p99 non2xx sock cpu be_cpu pid
	for pid in "${proxy_pid[$p]}" "${backend_pid[$p]}"; do
		kill -0 "$pid" 2>/dev/null || { echo "peers.sh: $p's process $pid is gone" >&2; exit 1; }
	done
	p0=$(ticks "${proxy_pid[$p]}")
	b0=$(ticks "${backend_pid[$p]}")
	wrk_cmd "${url[$p]}" "${cookie[$p/$kind]}" "$DURATION" >"$f" 2>&1 ||
		{ echo "peers.sh: wrk failed ($key):" >&2; cat "$f" >&2; exit 1; }
	p1=$(ticks "${proxy_pid[$p]}")
	b1=$(ticks "${backend_pid[$p]}")
	rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$f")
	reqs=$(awk '/requests in/ {print $1}' "$f")
	p50=$(us_of "$(awk '$1 == "50%" {print $2}' "$f")")
	p99=$(us_of "$(awk '$1 == "99%" {print $2}' "$f")")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$f")
	sock=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$f")
	cpu=$(awk -v t=$((p1 - p0)) -v n="${reqs:-0}" -v hz="$tck" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "?" }')
	be_cpu=$(awk -v t=$((b1 - b0)) -v n="${reqs:-0}" -v hz="$tck" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "?" }')
	R_RPS[$key]=${rps:-0} R_P50[$key]=$p50 R_P99[$key]=$p99 R_CPU[$key]=$cpu
	R_ERR[$key]=$((${non2xx:-0} + ${sock:-0}))
	runs+=("| $round | $p | $kind | ${rps:-?} | $(ms "$p50") | $(ms "$p99") | ${reqs:-?} | $cpu | $be_cpu | ${non2xx:-0} | ${sock:-0} |")
	printf '   %-2s %-8s %-9s %7s req/s  p50 %6s ms  p99 %6s ms  proxy CPU %5s µs/req  backend %5s µs/req  errors %s\n' \
		"$round" "$p" "$kind" "${rps:-?}" "$(ms "$p50")" "$(ms "$p99")" "$cpu" "$be_cpu" "${R_ERR[$key]}"
}

ms() { awk -v u="$1" 'BEGIN { if (u == "?") print "?"; else printf "%.2f", u / 1000 }'; }

# median FORMAT NUMBERS...: the median of the numbers ("?" skipped), printed
# with the printf FORMAT, or "?".
median() {
	local fmt=$1
	shift
	printf '%s\n' "$@" | { grep -v '^?$' || true; } | sort -g |
		awk -v f="$fmt" '{ v[NR] = $1 } END { if (NR == 0) print "?"; else printf f, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')

echo "== warm-up: ${WARMUP}s of wrk per proxy and kind"
for p in haproxy gatewayd; do
	for kind in pinned anonymous; do
		wrk_cmd "${url[$p]}" "${cookie[$p/$kind]}" "$WARMUP" >"$tmp/warmup-$p-$kind.txt" 2>&1 ||
			{ echo "peers.sh: warm-up wrk failed ($p $kind):" >&2; cat "$tmp/warmup-$p-$kind.txt" >&2; exit 1; }
	done
done

echo "== $ROUNDS rounds of {haproxy, gatewayd} x {pinned, anonymous}, wrk -t$THREADS -c$CONNS -d${DURATION}s"
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order=(haproxy gatewayd); else order=(gatewayd haproxy); fi
	for kind in pinned anonymous; do
		for p in "${order[@]}"; do run "$r" "$p" "$kind"; done
	done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -------------------------------------------------------------------

cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "?")
if [[ -n $(git -C "$root" status --porcelain 2>/dev/null) ]]; then rev+=" (with uncommitted changes)"; fi

echo
echo "## gatewayd vs HAProxy, $started"
echo
echo "- command: \`$cmdline\` (from the repository root, commit $rev)"
echo "- wrk: \`taskset -c 0 wrk -t$THREADS -c$CONNS -d${DURATION}s --latency [-H 'Cookie: ...'] http://127.0.0.1:PORT/\`, ${WARMUP}s warm-up per proxy and kind"
echo "- machine: $(nproc) CPUs, $cpu_model, $(uname -sr); load average $load_start at the start, $load_end at the end"
echo "- $(haproxy -v | head -n 1 | awk '{print "HAProxy", $3}') (nbthread 1); wrk $(wrk -v 2>&1 | head -n 1 | awk '{print $2}'); $(go version | awk '{print $3}')"
echo "- wrk on CPU 0; each proxy and its backend on CPU 1; gatewayd: 1 worker (socket fd), HAProxy: \`cookie SRV insert indirect nocache\`, \`http-reuse always\`"
echo
echo "### Runs"
echo
echo "| round | proxy | kind | req/s | p50 ms | p99 ms | requests | proxy CPU µs/req | backend CPU µs/req | non-2xx/3xx | socket errors |"
echo "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${runs[@]}"
echo
echo "### Summary (medians over $ROUNDS rounds)"
echo
echo "| proxy | kind | req/s | req/s min–max | p50 ms | p99 ms | proxy CPU µs/req | gatewayd/HAProxy req/s | errors |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
errors=0
for kind in pinned anonymous; do
	for p in haproxy gatewayd; do
		rps=() p50=() p99=() cpu=() ratio=() err=0
		for ((r = 1; r <= ROUNDS; r++)); do
			k="$r/$p/$kind"
			rps+=("${R_RPS[$k]}") p50+=("${R_P50[$k]}") p99+=("${R_P99[$k]}") cpu+=("${R_CPU[$k]}")
			err=$((err + ${R_ERR[$k]}))
			ratio+=("$(awk -v g="${R_RPS[$r/gatewayd/$kind]}" -v h="${R_RPS[$r/haproxy/$kind]}" 'BEGIN { if (h > 0) printf "%.4f", g / h; else print "?" }')")
		done
		errors=$((errors + err))
		range="$(printf '%s\n' "${rps[@]}" | sort -n | head -n 1)–$(printf '%s\n' "${rps[@]}" | sort -n | tail -n 1)"
		if [[ $p == gatewayd ]]; then
			rat=$(median '%.2fx' "${ratio[@]}")
		else
			rat="–"
		fi
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$p" "$kind" "$(median %.0f "${rps[@]}")" "$range" \
			"$(ms "$(median %.0f "${p50[@]}")")" "$(ms "$(median %.0f "${p99[@]}")")" "$(median %.1f "${cpu[@]}")" "$rat" "$err"
	done
done
echo
if ((errors > 0)); then
	echo "FAIL: $errors errors (non-2xx/3xx or socket errors) in the runs; wrk output in $tmp" >&2
	KEEP=1
	exit 1
fi
