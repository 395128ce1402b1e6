# shellcheck shell=bash
# Helpers the load scripts of tests/bench share; sourced, not run. Messages
# name the script that sources it ($me).
me=$(basename "$0")

# stop_pid sends SIGTERM to one process the script started, waits up to $2
# seconds (default 5), then SIGKILLs it.
# shellcheck disable=SC2317 # called from the EXIT traps
stop_pid() {
	local pid=$1 grace=${2:-5} i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < grace * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
		sleep 0.1
	done
	echo "$me: pid $pid did not stop within ${grace}s of SIGTERM, killing it" >&2
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# free_port prints a TCP port in 20000-59999 that nothing on 127.0.0.1
# answers on (bash's /dev/tcp: no extra tool needed) and that this script
# has not handed out yet.
used_ports=" "
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		[[ $used_ports == *" $p "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			used_ports+="$p "
			echo "$p"
			return 0
		fi
	done
	echo "$me: no free port found" >&2
	return 1
}

# wait_http waits up to $2 seconds for URL $1 to answer 200; $3, if set, is
# a PID that must stay alive meanwhile.
wait_http() {
	local url=$1 secs=$2 pid=${3:-} i
	for ((i = 0; i < secs * 10; i++)); do
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			echo "$me: pid $pid exited while waiting for $url" >&2
			return 1
		fi
		curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$me: $url did not answer 200 within ${secs}s" >&2
	return 1
}

# cookies reads an HTTP answer's head on stdin and prints the Cookie header
# value a browser would send next: every cookie it set, "a=1; b=2".
cookies() {
	tr -d '\r' |
		sed -n 's/^[Ss]et-[Cc]ookie: *\([^;]*\).*/\1/p' |
		paste -sd ';' - | sed 's/;/; /g'
}

# stop_gatewayd stops a gatewayd this script started (SIGTERM, SIGKILL after
# $2 seconds, default 20); gatewayd stops its workers itself. Their PIDs are
# noted first, so that they are stopped all the same should gatewayd have to
# be killed.
# shellcheck disable=SC2317 # called from the EXIT traps
stop_gatewayd() {
	local pid=$1 grace=${2:-20} w workers=()
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
	mapfile -t workers < <(pgrep -P "$pid" || true)
	stop_pid "$pid" "$grace"
	for w in "${workers[@]}"; do stop_pid "$w" 2; done
}

# remove_tmp removes the script's $tmp, unless KEEP=1 or the script failed
# (its exit status is $1): then it says where it is.
# shellcheck disable=SC2317,SC2154 # called from the EXIT traps; $tmp is the sourcing script's
remove_tmp() {
	if [[ ${KEEP:-} == 1 || $1 != 0 ]]; then
		echo "$me: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}

# bench_gateway_toml PORT DIR prints the gatewayd config of the benchmarks
# that put gatewayd in front of tests/bench/backend (app "bench", in
# $tmp/app): the process runner, one worker on a socket passed as fd 3,
# runtime and state directories under DIR.
# shellcheck disable=SC2154 # $tmp is the sourcing script's
bench_gateway_toml() {
	cat <<TOML
[gateway]
listen = ["127.0.0.1:$1"]
runtime_directory = "$2/run"
state_directory = "$2/state"
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
TOML
}

# --- side-by-side runs (peers.sh, tlspeers.sh) ---------------------------------

# ensure_tools CMD[:PACKAGE]...: as root, apt-get installs the Debian package
# of each command that is missing (PACKAGE, default CMD); otherwise it says
# what to install and fails.
ensure_tools() {
	local t missing=()
	for t in "$@"; do command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}"); done
	((${#missing[@]} > 0)) || return 0
	if ((EUID != 0)); then
		echo "$me: missing ${missing[*]}: apt-get install -y ${missing[*]} (or run as root)" >&2
		return 1
	fi
	echo "== installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq "${missing[@]}" >/dev/null; then
		apt-get update -qq
		apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

# app_pid GATEWAYD_PID prints the PID of the app under gatewayd's one
# worker: the process runner's worker is a keeper (internal/shim) with the
# app as its child, and the backend's CPU is the app's.
app_pid() {
	local keeper app
	keeper=$(pgrep -P "$1" | head -n 1)
	[[ -n $keeper ]] || { echo "$me: gatewayd has no worker process" >&2; return 1; }
	app=$(pgrep -P "$keeper" | head -n 1)
	[[ -n $app ]] || { echo "$me: gatewayd's worker $keeper has no app process" >&2; return 1; }
	echo "$app"
}

# on_cpu1 PID...: fails unless every PID may run on CPU 1 only.
on_cpu1() {
	local pid aff
	for pid in "$@"; do
		aff=$(taskset -pc "$pid" | sed 's/.*: //')
		[[ $aff == 1 ]] || { echo "$me: pid $pid runs on CPUs $aff, want 1" >&2; return 1; }
	done
}

# ticks prints the CPU time (utime + stime, clock ticks, all threads) a
# process has used so far. The command name (field 2) has no spaces here.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# us_per TICKS N prints TICKS of CPU time per N events in µs, one decimal.
us_per() {
	awk -v t="$1" -v n="${2:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "?" }'
}

# us_of converts a wrk duration (850.00us, 1.23ms, 1.02s, 2.00m) to µs.
us_of() {
	awk -v d="$1" 'BEGIN {
		n = d + 0; u = d; sub(/^[0-9.]+/, "", u)
		f = (u == "us") ? 1 : (u == "ms") ? 1e3 : (u == "s") ? 1e6 : (u == "m") ? 6e7 : -1
		if (d == "" || f < 0) print "?"; else printf "%.0f", n * f
	}'
}

# ms prints µs as ms with two decimals ("?" stays).
ms() { awk -v u="$1" 'BEGIN { if (u == "?") print "?"; else printf "%.2f", u / 1000 }'; }

# median FORMAT NUMBERS...: the median of the numbers ("?" skipped), printed
# with the printf FORMAT, or "?".
median() {
	local fmt=$1
	shift
	printf '%s\n' "$@" | { grep -v '^?$' || true; } | sort -g |
		awk -v f="$fmt" '{ v[NR] = $1 } END { if (NR == 0) print "?"; else printf f, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# parse_wrk FILE prints "req/s requests p50-µs p99-µs non-2xx/3xx
# socket-errors" of wrk's --latency output.
parse_wrk() {
	local f=$1
	printf '%s %s %s %s %s %s\n' \
		"$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$f")" "$(awk '/requests in/ {print $1}' "$f")" \
		"$(us_of "$(awk '$1 == "50%" {print $2}' "$f")")" "$(us_of "$(awk '$1 == "99%" {print $2}' "$f")")" \
		"$(awk '/Non-2xx or 3xx responses:/ {n = $NF} END {print n + 0}' "$f")" \
		"$(awk '/Socket errors:/ {gsub(",", ""); n = $4 + $6 + $8 + $10} END {print n + 0}' "$f")"
}

# The results of measure, by "ROUND/PROXY/KIND", and its rows for report.
declare -A R_RPS R_P50 R_P99 R_CPU R_ERR
runs=()

# measure ROUND PROXY KIND PARSER CMD...: one measured run. It runs CMD
# (output to $tmp/load-ROUND-PROXY-KIND.txt, which CMD may read as $out),
# reads the CPU time of ${proxy_pid[PROXY]} and ${backend_pid[PROXY]}
# around it, and PARSER FILE prints what parse_wrk prints. The results go
# to R_RPS, R_P50, R_P99, R_CPU and R_ERR by "ROUND/PROXY/KIND", a row to
# runs, a line to stdout. The sourcing script declares proxy_pid and
# backend_pid (associative, by PROXY).
# shellcheck disable=SC2154 # proxy_pid, backend_pid are the sourcing script's
measure() {
	local round=$1 p=$2 kind=$3 parser=$4 key="$1/$2/$3" pid p0 b0 p1 b1 rps reqs p50 p99 non2xx sock cpu be_cpu
	shift 4
	out="$tmp/load-$round-$p-$kind.txt"
	for pid in "${proxy_pid[$p]}" "${backend_pid[$p]}"; do
		kill -0 "$pid" 2>/dev/null || { echo "$me: $p's process $pid is gone" >&2; exit 1; }
	done
	p0=$(ticks "${proxy_pid[$p]}")
	b0=$(ticks "${backend_pid[$p]}")
	"$@" >"$out" 2>&1 || { echo "$me: $1 failed ($key):" >&2; cat "$out" >&2; exit 1; }
	p1=$(ticks "${proxy_pid[$p]}")
	b1=$(ticks "${backend_pid[$p]}")
	read -r rps reqs p50 p99 non2xx sock < <("$parser" "$out")
	cpu=$(us_per $((p1 - p0)) "$reqs")
	be_cpu=$(us_per $((b1 - b0)) "$reqs")
	R_RPS[$key]=${rps:-0} R_P50[$key]=$p50 R_P99[$key]=$p99 R_CPU[$key]=$cpu
	R_ERR[$key]=$((${non2xx:-0} + ${sock:-0}))
	runs+=("| $round | $p | $kind | ${rps:-?} | $(ms "$p50") | $(ms "$p99") | ${reqs:-?} | $cpu | $be_cpu | ${non2xx:-0} | ${sock:-0} |")
	printf '   %-2s %-8s %-11s %7s req/s  p50 %6s ms  p99 %6s ms  proxy CPU %6s µs/req  backend %5s µs/req  errors %s\n' \
		"$round" "$p" "$kind" "${rps:-?}" "$(ms "$p50")" "$(ms "$p99")" "$cpu" "$be_cpu" "${R_ERR[$key]}"
}

# report ROUNDS KIND...: the tables of the runs measure made, per round and
# as medians over the rounds for each KIND; "gatewayd/HAProxy" is the
# median of the per-round ratios. Fails if any run had errors. The two
# proxies are "haproxy" and "gatewayd" unless the sourcing script sets
# BASE_PROXY and BASE_LABEL (ab.sh: another build of gatewayd).
report() {
	local rounds=$1 kind p r k rps p50 p99 cpu ratio cratio err errors=0 range rat crat
	shift
	echo "### Runs"
	echo
	echo "| round | proxy | kind | req/s | p50 ms | p99 ms | requests | proxy CPU µs/req | backend CPU µs/req | non-2xx/3xx | socket errors |"
	echo "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	printf '%s\n' "${runs[@]}"
	echo
	echo "### Summary (medians over $rounds rounds)"
	echo
	local base=${BASE_PROXY:-haproxy} label=${BASE_LABEL:-HAProxy}
	echo "| proxy | kind | req/s | req/s min–max | p50 ms | p99 ms | proxy CPU µs/req | gatewayd/$label req/s | gatewayd/$label CPU µs/req | errors |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for kind in "$@"; do
		for p in "$base" gatewayd; do
			rps=() p50=() p99=() cpu=() ratio=() cratio=() err=0
			for ((r = 1; r <= rounds; r++)); do
				k="$r/$p/$kind"
				rps+=("${R_RPS[$k]}") p50+=("${R_P50[$k]}") p99+=("${R_P99[$k]}") cpu+=("${R_CPU[$k]}")
				err=$((err + ${R_ERR[$k]}))
				ratio+=("$(awk -v g="${R_RPS[$r/gatewayd/$kind]}" -v h="${R_RPS[$r/$base/$kind]}" 'BEGIN { if (h > 0) printf "%.4f", g / h; else print "?" }')")
				cratio+=("$(awk -v g="${R_CPU[$r/gatewayd/$kind]}" -v h="${R_CPU[$r/$base/$kind]}" 'BEGIN { if (g != "?" && h > 0) printf "%.4f", g / h; else print "?" }')")
			done
			errors=$((errors + err))
			range="$(printf '%s\n' "${rps[@]}" | sort -n | head -n 1)–$(printf '%s\n' "${rps[@]}" | sort -n | tail -n 1)"
			rat="–" crat="–"
			if [[ $p == gatewayd ]]; then
				rat=$(median '%.2fx' "${ratio[@]}")
				crat=$(median '%.2fx' "${cratio[@]}")
			fi
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$p" "$kind" "$(median %.0f "${rps[@]}")" "$range" \
				"$(ms "$(median %.0f "${p50[@]}")")" "$(ms "$(median %.0f "${p99[@]}")")" "$(median %.1f "${cpu[@]}")" "$rat" "$crat" "$err"
		done
	done
	echo
	if ((errors > 0)); then
		echo "FAIL: $errors errors (non-2xx/3xx or socket errors) in the runs; the load tools' output in $tmp" >&2
		KEEP=1
		return 1
	fi
}

# commit_of DIR prints the short commit DIR's work tree is at, noting
# uncommitted changes.
commit_of() {
	local rev
	rev=$(git -C "$1" rev-parse --short HEAD 2>/dev/null || echo "?")
	[[ -z $(git -C "$1" status --porcelain 2>/dev/null) ]] || rev+=" (with uncommitted changes)"
	echo "$rev"
}

# machine prints the CPUs, their model and the kernel.
machine() { echo "$(nproc) CPUs, $(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr)"; }

# peers_prepare ROOT CMD[:PACKAGE]...: what peers.sh and tlspeers.sh need
# before they start: the commands (installed with ensure_tools as root), go
# (tests/ensure-go.sh as root), taskset and 2 CPUs.
peers_prepare() {
	local root=$1 t
	shift
	ensure_tools "$@"
	if ! command -v go >/dev/null && ((EUID == 0)); then
		# shellcheck source=/dev/null # tests/ensure-go.sh
		. "$root/tests/ensure-go.sh"
	fi
	for t in go taskset getconf "${@%%:*}"; do
		command -v "$t" >/dev/null || { echo "$me: $t not found" >&2; return 1; }
	done
	(($(nproc) >= 2)) || { echo "$me: needs 2 CPUs (the load on CPU 0, the proxies on CPU 1), this machine has $(nproc)" >&2; return 1; }
}

# peers_cleanup, the EXIT trap of peers.sh and tlspeers.sh: stops gatewayd
# ($gw_pid) and then $pids in reverse order, shows the logs' last lines if
# the script failed, removes $tmp.
# shellcheck disable=SC2317,SC2154 # the EXIT trap; $gw_pid, $pids are the sourcing script's
peers_cleanup() {
	local rc=$? i f
	trap - EXIT INT TERM
	stop_gatewayd "$gw_pid" 15
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}" 5; done
	if ((rc != 0)); then
		for f in gatewayd haproxy backend; do
			[[ -s $tmp/$f.log ]] || continue
			echo "$me: failed (exit $rc); last lines of $f.log:" >&2
			tail -n 20 "$tmp/$f.log" >&2
		done
	fi
	remove_tmp "$rc"
	exit "$rc"
}

# start_peers starts, all on CPU 1: the backend for HAProxy on $be (port
# $be_port), HAProxy on $hap ($tmp/haproxy.cfg), gatewayd on $gw
# ($tmp/gateway.toml, binaries in $tmp), and waits for each to answer
# /healthz. It sets be_pid, hap_pid, gw_pid and worker_pid (gatewayd's app)
# and adds the first two to pids.
# shellcheck disable=SC2154 # $be, $be_port, $hap, $gw are the sourcing script's
start_peers() {
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
	worker_pid=$(app_pid "$gw_pid")
	on_cpu1 "$be_pid" "$hap_pid" "$gw_pid" "$worker_pid"
}

# peer_logins GETs /login through $hap and $gw and sets hap_cookie and
# gw_cookie to the cookies each set (the backend's SID and the proxy's own),
# failing if one is missing.
peer_logins() {
	hap_cookie=$(curl -fsS -o /dev/null -D - --max-time 5 "$hap/login" | cookies)
	gw_cookie=$(curl -fsS -o /dev/null -D - --max-time 5 "$gw/login" | cookies)
	[[ $hap_cookie =~ (^|; )SID=[0-9a-f]+(;|$) && $hap_cookie =~ (^|; )SRV=app1(;|$) ]] ||
		{ echo "$me: login through HAProxy set \"$hap_cookie\", want SID and SRV" >&2; return 1; }
	[[ $gw_cookie =~ (^|; )SID=[0-9a-f]+(;|$) && $gw_cookie =~ (^|; )GATEWAY_AFFINITY= ]] ||
		{ echo "$me: login through gatewayd set \"$gw_cookie\", want SID and GATEWAY_AFFINITY" >&2; return 1; }
}

# haproxy_cfg BIND BACKEND_PORT prints the HAProxy config of peers.sh and
# tlspeers.sh: one thread, no logging, "bind BIND", one server it does not
# start, session stickiness by an inserted cookie, keep-alive connections
# to the server.
haproxy_cfg() {
	cat <<CFG
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
	bind $1
	default_backend app

backend app
	cookie SRV insert indirect nocache
	http-reuse always
	server app1 127.0.0.1:$2 cookie app1
CFG
}

# in_range NAME:LO:HI...: fails, saying so, unless each variable NAME holds
# a whole number from LO to HI.
in_range() {
	local v name lo hi val
	for v in "$@"; do
		IFS=: read -r name lo hi <<<"$v"
		val=${!name}
		if ! [[ $val =~ ^[0-9]+$ ]] || ((val < lo || val > hi)); then
			echo "$me: $name=$val: want $lo to $hi" >&2
			return 1
		fi
	done
}
