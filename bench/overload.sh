#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/overload.sh - the pool under overload, in one run: fast clients,
# a distributed slowloris and a single-source slowloris, against
# preforkd's default (dynamic) pool, fixed pools and Apache 2.4 prefork
# with Debian's defaults; then bench/overload-report.sh writes the
# figures and the text that states them into bench/RESULTS.md.
#
#   bench/overload.sh
#
# Environment: PREFORKD, the binary under test (default build/preforkd,
# built first as bench/run.sh does); OVERLOAD_LABEL, how RESULTS.md describes it;
# OVERLOAD_RESULTS, the file to write (default bench/RESULTS.md);
# OVERLOAD_BUDGET, OVERLOAD_PORT, OVERLOAD_SETTLED (below).
#
# Scenarios (servers pinned to CPU 0, every client to CPU 1):
#   fast         64 closed-loop greeting clients (loadgen) from 64
#                addresses, 127.0.1.1..64, interleaved rounds over the
#                default pool and workers = 4, 8, 16, 64: conns/s, p99
#                and the servers' CPU per connection.
#   distributed  60 attack connections from 127.0.0.2..31 (2 each),
#                sustained, 4 fast clients, and a probe every 50 ms from
#                127.0.0.1 timing its first reply byte; then, for the
#                default pool, the time until it is back within its idle
#                bounds.
#   single       500 attack connections from 127.0.0.2; the probe's p99
#                against its p99 without the attack on the same server.
# The default pool needs a preforkd that accepts the pool keys (checked
# with -t); otherwise it is reported as not supported by this build.
# Loopback only.  Every step is bounded; the whole run stops starting new
# measurements once OVERLOAD_BUDGET seconds (default 450) could be passed.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
preforkd=${PREFORKD:-$top/build/preforkd}
out=$top/build/bench/overload
raw=$out/raw.txt
budget=${OVERLOAD_BUDGET:-450}
results=${OVERLOAD_RESULTS:-$top/bench/RESULTS.md}
if [ -n "${PREFORKD:-}" ]; then
	label=${OVERLOAD_LABEL:-given by PREFORKD}
else
	label=${OVERLOAD_LABEL:-built from the tree at $(git describe --always --dirty 2>/dev/null || echo unknown)}
fi

rounds=3		# fast: interleaved rounds, medians reported
fast_secs=2		# fast: measured seconds per run
fast_warm=1		# fast: warm-up seconds (the pool may adapt)
fixed="4 8 16 64"	# fast: fixed pool sizes
dist_secs=20		# distributed: probe window
single_secs=15		# single source: probe window
base_secs=4		# single source: probe alone, before the attack
ramp=1			# attack alone before the probe starts
probe_ms=50		# probe interval
probe_tmo=10		# probe timeout (a failure)
fast_clients=4		# distributed: closed-loop clients during the attack
recover_max=60		# bound on waiting for the pool to shrink
# The default pool's bounds (pool.min + pool.idle_max): the observable
# for "back within the idle bounds" is a worker count at or below it.
settled=${OVERLOAD_SETTLED:-12}

mkdir -p "$out"
: > "$raw"
start_time=$SECONDS
say() { printf '==> %s\n' "$*" >&2; }
note() { echo "note $*" >> "$raw"; say "$*"; }
# fits SECONDS: whether a step that may take that long fits the budget.
fits() { [ $((SECONDS - start_time + $1)) -le "$budget" ]; }

# --- build ---------------------------------------------------------------
[ -n "${PREFORKD:-}" ] || ./bootstrap.sh build >/dev/null
[ -x "$preforkd" ] || { echo "overload.sh: no preforkd at $preforkd" >&2; exit 1; }
cc -O2 -Wall -Wextra -pthread -o "$out/loadgen" bench/loadgen.c
cc -O2 -Wall -Wextra -o "$out/slowloris" bench/slowloris.c

# Apache from Debian when root, as bench/run.sh does.
have() { command -v "$1" >/dev/null 2>&1; }
if ! have apache2 && [ "$(id -u)" -eq 0 ]; then
	say "installing apache2"
	inst() {
		DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install \
		    -y -q --no-install-recommends apache2 >/dev/null 2>&1
	}
	inst || { timeout 300 apt-get update -q >/dev/null 2>&1 && inst; } ||
	    true
fi
have apache2 || note "apache2 not installed: no Apache figures (run as root to install)"

if [ "$(id -u)" -eq 0 ]; then
	sysctl -q -w net.ipv4.ip_local_port_range="20000 65000" || true
	sysctl -q -w net.ipv4.tcp_tw_reuse=1 || true
fi
if [ "$(nproc)" -ge 2 ]; then
	srv_cpu=0; gen_cpu=1
else
	srv_cpu=0; gen_cpu=0
	note "one CPU: servers and clients share it"
fi

echo "machine date=$(date -u +%Y-%m-%d) cpus=$(nproc) model=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1 | tr ' ' '_') kernel=$(uname -r) mem_gib=$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo) preforkd=$("$preforkd" -V 2>&1 | head -n 1 | tr ' ' '_') label=$(echo "$label" | tr ' ' '_') loadavg=$(cut -d' ' -f1 /proc/loadavg)" >> "$raw"
echo "params rounds=$rounds fast_secs=$fast_secs fast_warm=$fast_warm dist_secs=$dist_secs single_secs=$single_secs base_secs=$base_secs ramp=$ramp probe_ms=$probe_ms probe_tmo=$probe_tmo fast_clients=$fast_clients recover_max=$recover_max settled=$settled" >> "$raw"

# --- servers ---------------------------------------------------------------
port=${OVERLOAD_PORT:-19301}

# Does this build take the dynamic pool's keys?
cat > "$out/probe.conf" <<CONF
listen = { address = "127.0.0.1"; port = $port; };
pool = { min = 4; max = 64; idle_min = 2; idle_max = 8; };
limits = { per_source = 8; };
CONF
if why=$(timeout 10 "$preforkd" -t -c "$out/probe.conf" 2>&1); then
	dynamic=yes
else
	dynamic=no
	# The message without the file's name and line.
	echo "unsupported server=preforkd-default reason=$(echo "$why" | head -n 1 | sed 's/^.*:[0-9]*: //' | tr ' ' '_')" >> "$raw"
	say "default (dynamic) pool: not supported by this build ($why)"
fi

wait_port() {
	i=0
	while ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || return 1; sleep 0.05
	done
}

# start NAME: starts the server that NAME describes on $port and sets
# $pid (its master).  NAME: preforkd-default[-echo], preforkd-wN[-echo],
# apache-prefork (echo).
start() {
	name=$1
	case $name in
	apache-prefork*) start_apache ;;
	preforkd-*)
		svc=greeting
		case $name in *-echo) svc=echo ;; esac
		pool=
		case $name in
		preforkd-w*) pool=${name#preforkd-w}; pool="workers = ${pool%-echo};" ;;
		esac
		# The default pool is the file without "workers": the shipped
		# defaults, whatever they are in this build.
		cat > "$out/$name.conf" <<CONF
listen = { address = "127.0.0.1"; port = $port; };
service = "$svc";
$pool
CONF
		taskset -c $srv_cpu "$preforkd" -f -e -c "$out/$name.conf" \
		    2>"$out/$name.log" &
		pid=$!
		;;
	esac
	wait_port $port || { say "$name did not start"; stop; return 1; }
	sleep 0.3
	# The master whose workers are counted (Apache's from its pid file).
	master=$pid
	case $name in apache-prefork*)
		i=0
		while [ ! -s "$out/apache/apache.pid" ] && [ $i -lt 50 ]; do
			sleep 0.1; i=$((i + 1))
		done
		master=$(cat "$out/apache/apache.pid" 2>/dev/null || echo $pid) ;;
	esac
}
start_apache() {
	mkdir -p "$out/apache"
	rm -f "$out/apache/apache.pid"
	# Debian's apache2.conf, mpm_prefork.conf and reqtimeout.conf values
	# (Debian enables mod_reqtimeout), with mod_echo as the protocol.
	cat > "$out/apache/apache.conf" <<CONF
ServerRoot $out/apache
DefaultRuntimeDir $out/apache
PidFile $out/apache/apache.pid
ErrorLog $out/apache/error.log
ServerName localhost
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule reqtimeout_module /usr/lib/apache2/modules/mod_reqtimeout.so
LoadModule echo_module /usr/lib/apache2/modules/mod_echo.so
User nobody
Group nogroup
Listen 127.0.0.1:$port
ProtocolEcho On
Timeout 300
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
RequestReadTimeout header=20-40,minrate=500
RequestReadTimeout body=10,minrate=500
StartServers 5
MinSpareServers 5
MaxSpareServers 10
MaxRequestWorkers 150
MaxConnectionsPerChild 0
CONF
	# Its own session: on TERM, Apache signals its process group.
	setsid taskset -c $srv_cpu apache2 -f "$out/apache/apache.conf" \
	    -DFOREGROUND & pid=$!
}
stop() {	# TERM, then KILL after 15 s; next server on the next port
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do
		sleep 0.1; i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		# Apache leads its own process group: its children too.
		case $name in apache-*) kill -KILL -- -"$pid" 2>/dev/null || true ;; esac
	fi
	wait "$pid" 2>/dev/null || true
	port=$((port + 1))
}
kids() { cat /proc/"$1"/task/*/children 2>/dev/null | wc -w; }
# Clock ticks of CPU used by a master and its workers: utime + stime of
# each, plus the master's cutime + cstime (its children already reaped).
ticks() {
	cat /proc/"$1"/stat $(sed 's|[0-9][0-9]*|/proc/&/stat|g' \
	    /proc/"$1"/task/*/children 2>/dev/null) 2>/dev/null | awk '{
		sub(/^.*\) /, ""); split($0, f, " ");
		t += f[12] + f[13]; if (NR == 1) t += f[14] + f[15] }
	    END { print t + 0 }'
}
hz=$(getconf CLK_TCK)

# --- fast ------------------------------------------------------------------
fast_servers=
[ $dynamic = yes ] && fast_servers=preforkd-default
for w in $fixed; do fast_servers="$fast_servers preforkd-w$w"; done
r=1
while [ $r -le $rounds ]; do
	for s in $fast_servers; do
		fits $((fast_secs + fast_warm + 20)) ||
		    { note "fast $s round $r skipped: time budget"; continue; }
		start "$s" || continue
		# 64 clients are 64 addresses to a per-source limit.
		taskset -c $gen_cpu timeout 30 "$out/loadgen" -p $port -c 64 \
		    -s 127.0.1.1 -n 64 -d $fast_secs -w $fast_warm \
		    > "$out/fast.out" & lg=$!
		sleep $fast_warm
		t0=$(ticks $master)
		wait $lg || true
		t1=$(ticks $master)
		n=$(kids $master)
		stop
		line=$(grep '^RESULT' "$out/fast.out" || true)
		[ -n "$line" ] || { note "fast $s round $r: no result"; continue; }
		cpu=$(echo "$line" | awk -v t=$((t1 - t0)) -v hz="$hz" '{
			split($0, f, " conns="); split(f[2], g, " ");
			printf "%.1f", (g[1] > 0 ? t * 1e6 / hz / g[1] : 0) }')
		echo "scenario=fast server=$s round=$r $line cpu_us=$cpu workers_after=$n" >> "$raw"
		say "fast round $r $s: $(echo "$line" | cut -d' ' -f6,8) cpu_us=$cpu workers=$n"
	done
	r=$((r + 1))
done

# --- attacks -------------------------------------------------------------
# attack SCENARIO NAME SENT ARGS...: one slowloris run against a fresh
# server; records the probe's figures and the peak worker count; for the
# default pool, then times the return within the idle bounds.
attack() {
	scen=$1 name=$2 sent=$3; shift 3
	mode=greeting
	case $name in *-echo|apache-*) mode=echo ;; esac
	worst=$((ramp + probe_tmo + 25))
	[ "$scen" = single ] && worst=$((worst + base_secs + single_secs + 2)) ||
	    worst=$((worst + dist_secs))
	case $scen:$name in
	distributed:preforkd-default*) worst=$((worst + recover_max)) ;;
	esac
	fits $worst || { note "$scen $name sent=$sent skipped: time budget"; return; }
	start "$name" || return 0
	if [ "$scen" = single ]; then
		taskset -c $gen_cpu timeout 60 "$out/slowloris" -p $port \
		    -m $mode -a 0 -r 0 -d $base_secs -i $probe_ms -T $probe_tmo \
		    > "$out/attack.out" || true
		line=$(grep '^RESULT' "$out/attack.out" || true)
		echo "scenario=$scen server=$name sent=$sent phase=baseline $line" >> "$raw"
	fi
	taskset -c $gen_cpu timeout 120 "$out/slowloris" -p $port -m $mode \
	    -b $sent -i $probe_ms -T $probe_tmo -r $ramp "$@" \
	    > "$out/attack.out" & sl=$!
	peak=0
	while kill -0 $sl 2>/dev/null; do
		n=$(kids $master); [ "$n" -gt $peak ] && peak=$n
		sleep 0.5
	done
	wait $sl || true
	line=$(grep '^RESULT' "$out/attack.out" || true)
	echo "scenario=$scen server=$name sent=$sent phase=attack $line peak_workers=$peak" >> "$raw"
	say "$scen $name sent=$sent: $(echo "$line" | cut -d' ' -f9-15) peak_workers=$peak"
	case $scen:$name in
	distributed:preforkd-default*)
		# Back within the idle bounds: poll every 0.5 s, bounded.
		i=0 n=$(kids $master)
		while [ "$n" -gt "$settled" ] && [ $i -lt $((recover_max * 2)) ]; do
			sleep 0.5; i=$((i + 1)); n=$(kids $master)
		done
		ok=yes; [ "$n" -gt "$settled" ] && ok=no
		echo "scenario=recovery server=$name after=$scen peak_workers=$peak workers=$n settled=$ok secs=$(awk -v i=$i 'BEGIN { printf "%.1f", i / 2 }') bound=$recover_max" >> "$raw"
		say "recovery $name: $n workers after $(awk -v i=$i 'BEGIN { print i / 2 }') s"
		;;
	esac
	stop
}

# Who is attacked, and how (NAME:BYTES each attacker sends).  Greeting
# speaks first, so its attackers are silent.  A silent echo client may
# never reach a worker (Apache defers accept on Linux, and so may
# preforkd's echo): Apache is attacked both ways, preforkd's echo with
# one byte, which gets past a deferred accept.
targets=
[ $dynamic = yes ] && targets="preforkd-default:0 preforkd-default-echo:1"
targets="$targets preforkd-w4:0"
have apache2 && targets="$targets apache-prefork:0 apache-prefork:1"

for t in $targets; do
	attack distributed "${t%:*}" "${t#*:}" -a 60 -s 127.0.0.2 -n 30 \
	    -f $fast_clients -F 127.0.0.64 -P 127.0.0.1 -d $dist_secs
done
for t in $targets; do
	attack single "${t%:*}" "${t#*:}" -a 500 -s 127.0.0.2 -n 1 \
	    -P 127.0.0.1 -d $single_secs
done

say "measured in $((SECONDS - start_time)) s"
echo "elapsed secs=$((SECONDS - start_time)) loadavg=$(cut -d' ' -f1 /proc/loadavg)" >> "$raw"
exec "$top/bench/overload-report.sh" "$raw" "$results"
