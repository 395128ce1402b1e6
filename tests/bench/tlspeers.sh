#!/usr/bin/env bash
# TLS and HTTP/2 side by side with HAProxy (issue 13): peers.sh's bench
# (same backend, same pinning to CPUs, interleaved rounds, the proxy's own
# CPU per request) with both proxies terminating TLS on one ECDSA P-256
# self-signed certificate, offering h2 and http/1.1 by ALPN, and speaking
# plain HTTP/1.1 to the backend. Everything listens on 127.0.0.1; every
# load run is at most 30 seconds; the whole run takes about 7 minutes at
# the defaults.
#
# Pinning: the load tools run on CPU 0; HAProxy (nbthread 1), its backend,
# gatewayd and its worker on CPU 1 (gatewayd's GOMAXPROCS follows its CPU
# affinity: 1). All are plain background children of this script (not
# setsid, see peers.sh), stopped by PID when it exits.
#
# Each round runs {haproxy, gatewayd} x these kinds, the proxy that goes
# first alternating between rounds:
#   h1-pinned     HTTPS, HTTP/1.1 keep-alive, wrk -t2 -cCONNS, the session
#                 cookie of one login and the proxy's own (as peers.sh)
#   h1-anonymous  the same without a cookie
#   h2-pinned     HTTP/2, h2load -t2 -cH2CONNS -mH2STREAMS (streams in flight
#                 per connection), with the cookies
#   h2-anonymous  the same without a cookie
#   resumed       a new connection per request: wrk with "Connection: close";
#                 wrk keeps the TLS session of the connection before, so
#                 these are TLS 1.3 resumptions (PSK with ECDHE: no
#                 certificate signature)
#   handshake     full TLS handshakes and no request: 2 x openssl s_time -new
#                 (a new session every time); req/s is handshakes a second,
#                 bound by the client's CPU 0, not the proxy's
# For each run: req/s, p50 and p99 latency (h2load: from its per-request
# log), errors, and the proxy's CPU µs per request (per handshake): utime +
# stime of the proxy process only (/proc/PID/stat) over the requests done.
# The summary takes medians over the rounds; the ratios are medians of the
# per-round ratios.
#
#   bash tests/bench/tlspeers.sh
#
# Environment (all optional):
#   ROUNDS     rounds (default 3, at most 9)
#   DURATION   seconds per run (default 10, at most 30)
#   CONNS      wrk connections (default 64)
#   H2CONNS    h2load connections (default 16)
#   H2STREAMS  h2load streams in flight per connection (default 10)
#   KINDS      the kinds to run, space-separated (default: all six)
#   KEEP=1     keep the temporary directory (binaries, configs, logs, output)
#
# Needs go, haproxy (Debian 12's 2.6), wrk, h2load (nghttp2-client),
# openssl, curl, taskset and at least 2 CPUs; as root it installs the
# missing packages with apt-get.
set -euo pipefail

ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10} CONNS=${CONNS:-64} H2CONNS=${H2CONNS:-16} H2STREAMS=${H2STREAMS:-10}
KINDS=${KINDS:-h1-pinned h1-anonymous h2-pinned h2-anonymous resumed handshake}
THREADS=2
WARMUP=2 # seconds of load per proxy and kind before the first round
read -r -a kinds <<<"$KINDS"
for kind in "${kinds[@]}"; do
	[[ " h1-pinned h1-anonymous h2-pinned h2-anonymous resumed handshake " == *" $kind "* ]] ||
		{ echo "tlspeers.sh: KINDS: unknown kind $kind" >&2; exit 2; }
done
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cmdline="ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS H2CONNS=$H2CONNS H2STREAMS=$H2STREAMS bash tests/bench/tlspeers.sh"
[[ $KINDS == "h1-pinned h1-anonymous h2-pinned h2-anonymous resumed handshake" ]] || cmdline="KINDS=\"$KINDS\" $cmdline"

export PATH="/usr/local/go/bin:/usr/lib/go-1.23/bin:$HOME/go/bin:$PATH"
# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
in_range ROUNDS:1:9 DURATION:1:30 CONNS:2:4000 H2CONNS:2:1000 H2STREAMS:1:100 || exit 2
peers_prepare "$root" haproxy wrk h2load:nghttp2-client openssl curl

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gateway-tlspeers.XXXXXX")
pids=()   # processes this script started, stopped in reverse order
gw_pid="" # gatewayd, whose worker is stopped by gatewayd itself

trap peers_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- build, certificate, configure -------------------------------------------

echo "== building gatewayd and the backend into $tmp"
mkdir -p "$tmp/bin" "$tmp/app" "$tmp/run" "$tmp/state" "$tmp/tls"
(cd "$root" && go build -o "$tmp/bin/gatewayd" ./cmd/gatewayd && go build -o "$tmp/app/backend" ./tests/bench/backend)

echo "== one ECDSA P-256 certificate for both proxies"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/tls/site.key" -out "$tmp/tls/site.crt" 2>"$tmp/openssl.log"
cat "$tmp/tls/site.crt" "$tmp/tls/site.key" >"$tmp/tls/site.pem" # HAProxy's: both in one file
export CURL_CA_BUNDLE=$tmp/tls/site.crt                           # curl trusts it, and only it

hap_port=$(free_port)
be_port=$(free_port)
gw_port=$(free_port)
gws_port=$(free_port)
hap="https://127.0.0.1:$hap_port"
be="http://127.0.0.1:$be_port"
gw="https://127.0.0.1:$gws_port"

# HAProxy: peers.sh's, with TLS on the frontend.
haproxy_cfg "127.0.0.1:$hap_port ssl crt $tmp/tls/site.pem alpn h2,http/1.1" "$be_port" >"$tmp/haproxy.cfg"
haproxy -c -q -f "$tmp/haproxy.cfg"

# gatewayd: peers.sh's, with a TLS listener (h2 and http/1.1) beside the
# plain one, which the load does not use.
{
	bench_gateway_toml "$gw_port" "$tmp"
	printf '\n[listeners.https]\naddress = "127.0.0.1:%s"\ncertificates = [{cert = "%s", key = "%s"}]\n' \
		"$gws_port" "$tmp/tls/site.crt" "$tmp/tls/site.key"
} >"$tmp/gateway.toml"
"$tmp/bin/gatewayd" --check-config "$tmp/gateway.toml" >/dev/null

# --- start the servers, all on CPU 1 -----------------------------------------

start_peers

# --- check: the body over h1 and h2, the certificate, the cookies ------------

want=$(curl -fsS --max-time 5 "$be/")
((${#want} == 99)) || { echo "tlspeers.sh: the backend answered ${#want}+1 bytes, want 100" >&2; exit 1; }
declare -A tls_params
for url in "$hap" "$gw"; do
	for v in 1.1 2; do
		got=$(curl -fsS --max-time 5 "--http$v" -o "$tmp/body" -w '%{http_version}' "$url/")
		[[ $got == "$v" && $(<"$tmp/body") == "$want" ]] ||
			{ echo "tlspeers.sh: $url over HTTP/$v answered \"$(<"$tmp/body")\" over HTTP/$got, want the backend's body" >&2; exit 1; }
	done
	# What the load tools' OpenSSL negotiates: protocol, cipher, key exchange.
	tls_params[$url]=$(openssl s_client -connect "${url#https://}" -alpn h2 -brief </dev/null 2>&1 |
		awk -F': ' '/^Protocol version|^Ciphersuite|^Signature type|^Peer signature type|^Server Temp Key|^ALPN/ {printf "%s%s", sep, $2; sep = ", "}')
	[[ ${tls_params[$url]} == *ECDSA* ]] || { echo "tlspeers.sh: $url: no ECDSA signature: ${tls_params[$url]}" >&2; exit 1; }
done

peer_logins

# --- the loads ----------------------------------------------------------------

# wrk_cmd URL COOKIE SECONDS [HEADER]: wrk against URL/ on CPU 0 (with
# COOKIE if not empty, HEADER if given), killed if it overruns by 20 s.
wrk_cmd() {
	local cmd=(timeout $(($3 + 20)) taskset -c 0 wrk -t"$THREADS" -c"$CONNS" -d"${3}s" --latency)
	[[ -z $2 ]] || cmd+=(-H "Cookie: $2")
	[[ -z ${4:-} ]] || cmd+=(-H "$4")
	"${cmd[@]}" "$1/"
}

# h2_cmd URL COOKIE SECONDS: h2load over h2 against URL/ on CPU 0, each
# request's time in $out.log (measure's $out).
h2_cmd() {
	local cmd=(timeout $(($3 + 20)) taskset -c 0 h2load -t"$THREADS" -c"$H2CONNS" -m"$H2STREAMS" -D"$3" --npn-list=h2 --log-file="$out.log")
	[[ -z $2 ]] || cmd+=(-H "Cookie: $2")
	"${cmd[@]}" "$1/"
}

# handshake_cmd URL COOKIE SECONDS: 2 openssl s_time -new (full handshakes,
# no request) side by side on CPU 0; prints their output and the seconds
# they took.
handshake_cmd() {
	local t0 t1 i rc=0 st=()
	t0=$(date +%s.%N)
	for i in 1 2; do
		timeout $(($3 + 20)) taskset -c 0 openssl s_time -connect "${1#https://}" -new -time "$3" >"$out.$i" 2>&1 &
		st+=($!)
	done
	for i in 0 1; do wait "${st[i]}" || rc=1; done
	t1=$(date +%s.%N)
	cat "$out.1" "$out.2"
	echo "elapsed: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
	return "$rc"
}

# parse_h2load FILE: as parse_wrk, for h2load's output and $FILE.log
# (p50 and p99 of the requests' times). Requests that failed without an
# HTTP status count as socket errors.
parse_h2load() {
	local f=$1 pct
	pct=$(cut -f3 "$f.log" | sort -n | awk '{ v[NR] = $1 }
		END { if (NR == 0) { print "? ?"; exit } a = int(NR * 0.5); b = int(NR * 0.99); print v[a < 1 ? 1 : a], v[b < 1 ? 1 : b] }')
	awk -v pct="$pct" '
		/^finished in/ { rps = $4 + 0 }
		/^requests:/ { done = $6; failed = $10 }
		/^status codes:/ { bad = $7 + $9 }
		END { printf "%.0f %d %s %d %d\n", rps, done, pct, bad, failed - bad }' "$f"
}

# parse_stime FILE: as parse_wrk, for handshake_cmd's output: handshakes a
# second over the wall time, no latency.
parse_stime() {
	awk '/connections in [0-9]+ real seconds/ { n += $1 } /^elapsed:/ { s = $2 } END { printf "%.0f %d ? ? 0 0\n", (s > 0 ? n / s : 0), n }' "$1"
}

# load ROUND PROXY KIND SECONDS: one measured run of KIND.
load() {
	local p=$2 kind=$3 secs=$4 c=""
	[[ $kind != *-pinned ]] || c=${cookie[$p]}
	case $kind in
	h1-*) measure "$1" "$p" "$kind" parse_wrk wrk_cmd "${url[$p]}" "$c" "$secs" ;;
	h2-*) measure "$1" "$p" "$kind" parse_h2load h2_cmd "${url[$p]}" "$c" "$secs" ;;
	resumed) measure "$1" "$p" "$kind" parse_wrk wrk_cmd "${url[$p]}" "" "$secs" "Connection: close" ;;
	handshake) measure "$1" "$p" "$kind" parse_stime handshake_cmd "${url[$p]}" "" "$secs" ;;
	esac
}

declare -A url cookie proxy_pid backend_pid
url[haproxy]=$hap url[gatewayd]=$gw
cookie[haproxy]=$hap_cookie cookie[gatewayd]=$gw_cookie
proxy_pid[haproxy]=$hap_pid proxy_pid[gatewayd]=$gw_pid
backend_pid[haproxy]=$be_pid backend_pid[gatewayd]=$worker_pid

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')

echo "== warm-up: ${WARMUP}s per proxy and kind"
for p in haproxy gatewayd; do
	for kind in "${kinds[@]}"; do
		load 0 "$p" "$kind" "$WARMUP" >/dev/null
	done
done
runs=()

echo "== $ROUNDS rounds of {haproxy, gatewayd} x {${kinds[*]}}, ${DURATION}s each"
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order=(haproxy gatewayd); else order=(gatewayd haproxy); fi
	for kind in "${kinds[@]}"; do
		for p in "${order[@]}"; do load "$r" "$p" "$kind" "$DURATION"; done
	done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -------------------------------------------------------------------

echo
echo "## gatewayd vs HAProxy over TLS and HTTP/2, $started"
echo
echo "- command: \`$cmdline\` (from the repository root, commit $(commit_of "$root"))"
echo "- loads on CPU 0, ${WARMUP}s warm-up per proxy and kind: h1 \`wrk -t$THREADS -c$CONNS -d${DURATION}s --latency [-H 'Cookie: ...'] https://127.0.0.1:PORT/\`;" \
	"h2 \`h2load -t$THREADS -c$H2CONNS -m$H2STREAMS -D$DURATION --npn-list=h2 [-H 'Cookie: ...']\`; resumed: h1's wrk with \`-H 'Connection: close'\`;" \
	"handshake: 2 x \`openssl s_time -new -time $DURATION\`"
echo "- machine: $(machine); load average $load_start at the start, $load_end at the end"
echo "- $(haproxy -v | head -n 1 | awk '{print "HAProxy", $3}') (nbthread 1); wrk $(wrk -v 2>&1 | head -n 1 | awk '{print $2}'); $(h2load --version | head -n 1); $(openssl version | awk '{print "OpenSSL", $2}'); $(go version | awk '{print $3}')"
echo "- each proxy and its backend on CPU 1; one ECDSA P-256 certificate; gatewayd: \`[listeners.https]\`, 1 worker (socket fd); HAProxy: \`ssl crt ... alpn h2,http/1.1\`, \`cookie SRV insert indirect nocache\`, \`http-reuse always\`"
echo "- negotiated by OpenSSL's client: HAProxy ${tls_params[$hap]}; gatewayd ${tls_params[$gw]}"
echo
report "$ROUNDS" "${kinds[@]}"
