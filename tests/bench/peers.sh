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
# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
peers_prepare "$root" haproxy wrk curl

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gateway-peers.XXXXXX")
pids=()   # processes this script started, stopped in reverse order
gw_pid="" # gatewayd, whose worker is stopped by gatewayd itself

trap peers_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

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
haproxy_cfg "127.0.0.1:$hap_port" "$be_port" >"$tmp/haproxy.cfg"
haproxy -c -q -f "$tmp/haproxy.cfg"

# gatewayd: one worker per generation on a socket passed as fd 3, child
# processes (not systemd scopes), no admin listener.
bench_gateway_toml "$gw_port" "$tmp" >"$tmp/gateway.toml"
"$tmp/bin/gatewayd" --check-config "$tmp/gateway.toml" >/dev/null

# --- start the servers, all on CPU 1 -----------------------------------------

start_peers

# --- check that both proxies serve the backend's body, get the cookies --------

want=$(curl -fsS --max-time 5 "$be/")
((${#want} == 99)) || { echo "peers.sh: the backend answered ${#want}+1 bytes, want 100" >&2; exit 1; }
for url in "$hap/" "$gw/"; do
	got=$(curl -fsS --max-time 5 "$url")
	[[ $got == "$want" ]] || { echo "peers.sh: $url answered \"$got\", want the backend's body" >&2; exit 1; }
done

peer_logins
# A pinned request through HAProxy gets no new SRV cookie (indirect).
if curl -fsS -o /dev/null -D - -H "Cookie: $hap_cookie" "$hap/" | grep -qi '^set-cookie:'; then
	echo "peers.sh: HAProxy sets a cookie on a request that has SRV" >&2
	exit 1
fi

# --- wrk runs -----------------------------------------------------------------

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
		for p in "${order[@]}"; do
			measure "$r" "$p" "$kind" parse_wrk wrk_cmd "${url[$p]}" "${cookie[$p/$kind]}" "$DURATION"
		done
	done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -------------------------------------------------------------------

echo
echo "## gatewayd vs HAProxy, $started"
echo
echo "- command: \`$cmdline\` (from the repository root, commit $(commit_of "$root"))"
echo "- wrk: \`taskset -c 0 wrk -t$THREADS -c$CONNS -d${DURATION}s --latency [-H 'Cookie: ...'] http://127.0.0.1:PORT/\`, ${WARMUP}s warm-up per proxy and kind"
echo "- machine: $(machine); load average $load_start at the start, $load_end at the end"
echo "- $(haproxy -v | head -n 1 | awk '{print "HAProxy", $3}') (nbthread 1); wrk $(wrk -v 2>&1 | head -n 1 | awk '{print $2}'); $(go version | awk '{print $3}')"
echo "- wrk on CPU 0; each proxy and its backend on CPU 1; gatewayd: 1 worker (socket fd), HAProxy: \`cookie SRV insert indirect nocache\`, \`http-reuse always\`"
echo
report "$ROUNDS" pinned anonymous
