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
