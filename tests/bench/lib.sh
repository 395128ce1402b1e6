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
