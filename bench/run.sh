#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/run.sh - preforkd against its peers, in one run, on this machine.
#
#   bench/run.sh [ROUNDS]      (also: make bench)
#
# Builds preforkd (build/) and the bench tools, starts each server in
# turn - preforkd, the single-process epoll reference, nginx stream
# "return", Apache 2.4 prefork + mod_echo - pinned to CPU 0 with the load
# generator on CPU 1, interleaves them round by round over concurrency
# 1, 16, 64, 256, 1024, and writes bench/RESULTS.md and bench/plot.png.
# Peers that are not installed are installed from Debian when root, and
# skipped with a note otherwise.  Loopback only; every run is bounded.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
rounds=${1:-3}
secs=2
warm=0.5
concs="1 16 64 256 1024"
out=$top/build/bench
results=$top/bench/RESULTS.md
raw=$out/raw.txt
mkdir -p "$out"
: > "$raw"

say() { printf '==> %s\n' "$*" >&2; }

# --- build -----------------------------------------------------------------
./bootstrap.sh build >/dev/null
cc -O2 -Wall -Wextra -pthread -o "$out/loadgen" bench/loadgen.c
cc -O2 -Wall -Wextra -o "$out/reference" bench/reference.c
cc -O2 -Wall -Wextra -o "$out/lifecycle" bench/lifecycle.c
notes=

peers="nginx-light libnginx-mod-stream apache2 gnuplot-nox iperf3"
missing=
for p in $peers; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		say "installing:$missing"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		    --no-install-recommends $missing >/dev/null
	else
		notes="$notes- not installed, skipped:$missing (run as root to install)\n"
	fi
fi
have() { command -v "$1" >/dev/null 2>&1; }

# More ports for the closed loop; TIME_WAIT reuse on loopback.
if [ "$(id -u)" -eq 0 ]; then
	sysctl -q -w net.ipv4.ip_local_port_range="20000 65000" || true
	sysctl -q -w net.ipv4.tcp_tw_reuse=1 || true
fi

ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then
	srv_cpu=0; gen_cpu=1
else
	srv_cpu=0; gen_cpu=0
	notes="$notes- one CPU: servers and load generator share it\n"
fi

# Busy clock ticks of the servers' CPU so far (user..softirq+steal).
hz=$(getconf CLK_TCK)
cpu_busy() {
	awk -v c="cpu$srv_cpu" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' \
	    /proc/stat
}

# --- servers -----------------------------------------------------------
port=19101
wait_port() {
	i=0
	while ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || return 1; sleep 0.05
	done
}

# start_NAME: starts the server on $port, sets $pid (the process to stop).
start_preforkd() {	# $1: service, $2: workers
	cat > "$out/preforkd.conf" <<CONF
listen = { address = "127.0.0.1"; port = $port; };
workers = $2;
service = "$1";
# Every client of the load generator has one address: no per-source
# limit, or a pool bigger than it would refuse them.
limits = { per_source = 0; };
CONF
	taskset -c $srv_cpu "$top/build/preforkd" -f -e \
	    -c "$out/preforkd.conf" 2>"$out/preforkd.log" &
	pid=$!
}
start_reference() {
	taskset -c $srv_cpu "$out/reference" $port & pid=$!
}
start_nginx() {
	mkdir -p "$out/nginx"
	cat > "$out/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $out/nginx/nginx.pid;
error_log $out/nginx/error.log;
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
events { worker_connections 4096; }
stream {
	server {
		listen 127.0.0.1:$port backlog=128;
		return "Welcome to Network Server!!";
	}
}
CONF
	taskset -c $srv_cpu nginx -p "$out/nginx" -c "$out/nginx/nginx.conf" \
	    -e "$out/nginx/error.log" & pid=$!
}
start_apache() {
	mkdir -p "$out/apache"
	cat > "$out/apache/apache.conf" <<CONF
ServerRoot $out/apache
DefaultRuntimeDir $out/apache
PidFile $out/apache/apache.pid
ErrorLog $out/apache/error.log
ServerName localhost
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule echo_module /usr/lib/apache2/modules/mod_echo.so
User nobody
Group nogroup
Listen 127.0.0.1:$port
ListenBacklog 128
ProtocolEcho On
# Debian's prefork defaults
StartServers 5
MinSpareServers 5
MaxSpareServers 10
MaxRequestWorkers 150
MaxConnectionsPerChild 0
CONF
	# Its own session: on TERM, Apache signals its whole process group.
	setsid taskset -c $srv_cpu apache2 -f "$out/apache/apache.conf" \
	    -DFOREGROUND & pid=$!
}
stop() {
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	port=$((port + 1))
}

# run TAG START... : start a server, sweep, stop.  MODE comes from $mode.
sweep() {
	tag=$1; shift
	"$@"
	wait_port $port || { say "$tag did not start"; stop; return; }
	sleep 0.3
	for c in $concs; do
		b0=$(cpu_busy)
		line=$(taskset -c $gen_cpu "$out/loadgen" -p $port -m "$mode" \
		    -c "$c" -d $secs -w $warm | grep '^RESULT')
		b1=$(cpu_busy)
		# CPU time of the server's core per connection: comparable
		# even when the load generator is what saturates.
		cpu=$(echo "$line" | awk -v b=$((b1 - b0)) -v hz="$hz" \
		    -v t="$secs" -v w="$warm" '{
			split($0, f, "cps="); split(f[2], g, " ");
			n = g[1] * (t + w);
			printf "%.1f", (n > 0 ? b * 1e6 / hz / n : 0) }')
		echo "server=$tag round=$r $line cpu_us=$cpu" >> "$raw"
		say "round $r $tag c=$c: $(echo "$line" | cut -d' ' -f6,8,12) cpu_us=$cpu"
	done
	stop
}

r=1
while [ $r -le "$rounds" ]; do
	mode=greeting
	sweep preforkd start_preforkd greeting 4
	sweep reference start_reference
	mode=echo
	sweep preforkd-echo start_preforkd echo 4
	have apache2 && sweep apache-prefork start_apache
	mode=banner
	have nginx && sweep nginx-return start_nginx
	r=$((r + 1))
done
have apache2 || notes="$notes- Apache 2.4 not installed: no echo comparison\n"
have nginx || notes="$notes- nginx not installed: no stream return figures\n"

# 64 workers against 4, at c=64 (greeting).
for w in 4 64; do
	start_preforkd greeting $w
	wait_port $port; sleep 0.5
	taskset -c $gen_cpu "$out/loadgen" -p $port -c 64 -d 3 -w $warm |
	    grep '^RESULT' | sed "s/^/server=preforkd-w$w /" >> "$raw"
	stop
done

# --- memory of an idle worker (PSS and private, KiB) ---------------------
pss() {	# pids...: mean Pss and Private (clean + dirty) of the processes
	for p in "$@"; do cat /proc/"$p"/smaps_rollup; done | awk '
	    /^Pss:/ { pss += $2; n++ }
	    /^Private_(Clean|Dirty):/ { priv += $2 }
	    END { if (n) printf "%.0f %.0f\n", pss / n, priv / n }'
}
children() { ps -o pid= --ppid "$1" | tr -d ' ' | tr '\n' ' '; }
mem_pre=; mem_apache=; mem_nginx=
start_preforkd greeting 4; wait_port $port; sleep 1
mem_pre=$(pss $(children $pid)); stop
if have apache2; then
	start_apache; wait_port $port; sleep 2
	mem_apache=$(pss $(children "$(cat "$out/apache/apache.pid")")); stop
fi
if have nginx; then
	start_nginx; wait_port $port; sleep 1
	mem_nginx=$(pss $(children "$(cat "$out/nginx/nginx.pid")")); stop
fi

# --- supervisor timings ------------------------------------------------
start_preforkd greeting 1; wait_port $port
respawn=$("$out/lifecycle" respawn $pid $port 10 | grep '^RESULT'); stop
start_preforkd greeting 16; wait_port $port; sleep 0.5
reload=$("$out/lifecycle" reload $pid "$out/preforkd.log" 10 |
    grep '^RESULT'); stop

# --- bulk echo against iperf3's loopback figure ----------------------
# Interleaved, $rounds times each; the medians are reported.
med() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
streams= iperfs=
r=1
while [ $r -le "$rounds" ]; do
	start_preforkd echo 4; wait_port $port
	streams="$streams $(taskset -c $gen_cpu "$out/loadgen" -p $port \
	    -m stream -c 1 -d 3 -w $warm | sed -n 's/.*mbps=\([0-9.]*\).*/\1/p')"
	stop
	if have iperf3; then
		iperf3 -s -1 -p $port >/dev/null 2>&1 & ipid=$!
		sleep 0.5
		iperfs="$iperfs $(taskset -c $gen_cpu iperf3 -c 127.0.0.1 \
		    -p $port -t 3 -f m 2>/dev/null |
		    awk '/receiver/ { print $(NF-2) }')"
		wait $ipid 2>/dev/null || true
		port=$((port + 1))
	fi
	r=$((r + 1))
done
stream="RESULT mode=stream mbps=$(echo $streams | tr ' ' '\n' | med)"
iperf=
[ -n "$iperfs" ] && iperf=$(echo $iperfs | tr ' ' '\n' | med)

# The figures, one per line, so that report.sh can be run again alone
# (bench/report.sh build/bench/figures) after its text changes.
printf '%s\n' "$raw" "$results" "$rounds" "$secs" "$mem_pre" "$mem_apache" \
    "$mem_nginx" "$respawn" "$reload" "$stream" "$iperf" "$notes" \
    > "$out/figures"
exec "$top/bench/report.sh" "$out/figures"
