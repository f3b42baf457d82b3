#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/cost.sh - preforkd's cost per connection against the
# single-process epoll reference (bench/reference.c), in one run.
#
#   bench/cost.sh [PAIRS]      (default 5)
#
# The greeting protocol, 64 closed-loop clients from 8 addresses
# (127.0.0.1 to 127.0.0.8, 8 each: every source at the shipped
# per-source limit, never over it).  preforkd runs as shipped: the
# settings of etc/preforkd.conf (a dynamic pool, per_source = 8, log
# level info: a line per connection, within the greeting's budget), the
# port alone changed.  Its lines go to syslog, as shipped: as root, the
# daemon runs in a mount namespace of its own whose /dev/log is read by
# bench/devlog.c (on the load generator's CPU when pinned; its CPU is
# not the daemon's, as journald's would not be); otherwise to stderr
# (-e) into a file, one writev() a line for one sendmsg().  Then the
# same with per_source = 0, to show what the limit costs.  Each is
# interleaved with the reference PAIRS times, first with the servers
# pinned to CPU 0 and the load generator and this script to CPU 1, then
# again unpinned (every process free to run on any CPU).
#
# Per run: connections per second and p99 (bench/loadgen.c), and the CPU
# time of the servers' own processes per connection.  That CPU time is
# utime + stime of every thread of the server: the master and its workers
# for preforkd, read as the run time in nanoseconds that the kernel splits
# into utime and stime (the first field of /proc/PID/task/TID/schedstat;
# /proc/PID/stat has the same sum in 10 ms ticks only), plus the master's
# cutime + cstime for any worker that exited and was reaped meanwhile.
# Taken over the measured window only (after the warm-up), and divided by
# the wall time of that window and by the connections per second.
#
# Then, outside the measured runs: system calls per connection of each
# server (perf stat on the system call tracepoints that perf trace -s
# finds in use, or strace -c when perf cannot trace), and a CPU profile
# of the servers' CPU (perf record -a -g), split by server; pinned.
#
# Writes build/bench/cost-raw.txt and bench/COST.md (bench/cost-report.sh).
# Environment: PREFORKD, the binary under test (default: built in
# build-cost/, configured with defaults: optimised); COST_BEFORE, another
# preforkd binary measured in the same pairs as "preforkd-before" (a
# change's before and after in one run, as shipped), which
# COST_BEFORE_LABEL describes in the report, as COST_LABEL describes
# PREFORKD; COST_SECS (4), COST_WARM (1), COST_PORT (first port, 19601);
# COST_MODES ("pinned unpinned"); COST_PS0=0 leaves the per_source = 0
# runs out; COST_PROFILE=0 skips the system call count and the profile.
# Loopback only; every step bounded.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
pairs=${1:-5}
secs=${COST_SECS:-4}
warm=${COST_WARM:-1}
port=${COST_PORT:-19601}
profile=${COST_PROFILE:-1}
modes=${COST_MODES:-pinned unpinned}
ps0=${COST_PS0:-1}
conc=64
nsrc=8
out=$top/build/bench
work=$out/cost
raw=$out/cost-raw.txt
report=$top/bench/COST.md
mkdir -p "$work"
: > "$raw"

say() { printf '==> %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

# --- build -------------------------------------------------------------
label=${COST_LABEL:-}
if [ -n "${PREFORKD:-}" ]; then
	preforkd=$PREFORKD
else
	if [ -z "$label" ] && have git && git rev-parse -q HEAD >/dev/null 2>&1
	then
		label="built from $(git rev-parse --short HEAD)"
		git diff --quiet HEAD -- src 2>/dev/null ||
		    label="$label with uncommitted changes"
	fi
	mkdir -p "$top/build-cost"
	(cd "$top/build-cost" && { [ -f Makefile ] || ../configure -q; } &&
	    make -s -j2 preforkd >/dev/null)
	preforkd=$top/build-cost/preforkd
fi
[ -x "$preforkd" ] || { echo "cost.sh: no binary $preforkd" >&2; exit 1; }
before=${COST_BEFORE:-}
[ -z "$before" ] || [ -x "$before" ] ||
    { echo "cost.sh: no binary $before" >&2; exit 1; }
cc -O2 -Wall -Wextra -pthread -o "$work/loadgen" bench/loadgen.c
cc -O2 -Wall -Wextra -o "$work/reference" bench/reference.c
cc -O2 -Wall -Wextra -o "$work/devlog" bench/devlog.c
# Where the lines go: syslog in a mount namespace, as tests/daemon.c
# does it (a tmpfs on /dev: /dev/log may not exist to bind over, and
# making it would make it on the host).
logto=stderr
if [ "$(id -u)" -eq 0 ] && have unshare && unshare --mount true 2>/dev/null
then
	logto=syslog
fi
devlog_script='set -e
D=$0
mount --make-rprivate /
mkdir -p "$D/olddev"
mount --rbind /dev "$D/olddev"
mount -t tmpfs tmpfs /dev
for n in null zero random urandom; do
  touch /dev/$n; mount --bind "$D/olddev/$n" /dev/$n
done
touch /dev/log; mount --bind "$D/log" /dev/log
umount -l "$D/olddev"
exec "$@"'

ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then srv_cpu=0; gen_cpu=1; else srv_cpu=0; gen_cpu=0; fi
all_cpus=0-$((ncpu - 1))
# This script samples /proc during the runs: it stays off the servers'
# CPU (pinned), and its children are given every CPU explicitly
# (unpinned).
taskset -cp "$gen_cpu" $$ >/dev/null
mode=pinned
srv_cpus() { [ "$mode" = pinned ] && echo $srv_cpu || echo "$all_cpus"; }
gen_cpus() { [ "$mode" = pinned ] && echo $gen_cpu || echo "$all_cpus"; }
if [ "$(id -u)" -eq 0 ]; then
	sysctl -q -w net.ipv4.ip_local_port_range="20000 65000" || true
	sysctl -q -w net.ipv4.tcp_tw_reuse=1 || true
fi
hz=$(getconf CLK_TCK)

# --- servers -----------------------------------------------------------
pid=
port_busy() { (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }
wait_port() {
	local i=0
	while ! port_busy "$1"; do
		i=$((i + 1)); [ $i -lt 200 ] || return 1; sleep 0.05
	done
}
next_port() {
	local i=0
	port=$((port + 1))
	while port_busy $port && [ $i -lt 50 ]; do
		port=$((port + 1)); i=$((i + 1))
	done
}
# etc/preforkd.conf as shipped, on this run's port; with per_source =
# 0 for the second comparison.
shipped=$top/etc/preforkd.conf
make_conf() {	# FILE PER_SOURCE(or "")
	sed -e "/^listen = {/,/^};/s/^\([[:space:]]*port = \)[0-9]*;/\1$port;/" \
	    ${2:+-e "s/^\([[:space:]]*per_source = \)[0-9]*;/\1$2;/"} \
	    "$shipped" > "$1"
	grep -q "^[[:space:]]*port = $port;" "$1" || {
		echo "cost.sh: no listen port to set in $shipped" >&2; exit 1; }
	[ -z "$2" ] || grep -q "^[[:space:]]*per_source = $2;" "$1" || {
		echo "cost.sh: no per_source to set in $shipped" >&2; exit 1; }
}
devlog=
start_preforkd() {	# [binary [per_source]]
	local i=0
	make_conf "$work/preforkd.conf" "${2:-}"
	if [ "$logto" = stderr ]; then
		taskset -c "$(srv_cpus)" "${1:-$preforkd}" -f -e \
		    -c "$work/preforkd.conf" 2>"$work/preforkd.log" &
		pid=$!
		return
	fi
	rm -f "$work/log"
	taskset -c "$(gen_cpus)" "$work/devlog" "$work/log" \
	    > "$work/devlog.out" & devlog=$!
	while [ ! -S "$work/log" ] && [ $i -lt 100 ]; do
		sleep 0.05; i=$((i + 1))
	done
	# unshare and sh exec: $pid is the master's.
	taskset -c "$(srv_cpus)" unshare --mount sh -c "$devlog_script" \
	    "$work" "${1:-$preforkd}" -f -c "$work/preforkd.conf" \
	    2>"$work/preforkd.log" &
	pid=$!
}
start_preforkd-ps0() { start_preforkd "$preforkd" 0; }
start_preforkd-before() { start_preforkd "$before"; }
start_reference() {
	taskset -c "$(srv_cpus)" "$work/reference" $port & pid=$!
}
stop() {
	local i=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
	if [ -n "$devlog" ]; then
		kill -TERM "$devlog" 2>/dev/null || true
		wait "$devlog" 2>/dev/null || true
		devlog=
	fi
	next_port
}
trap 'stop' EXIT

# The server's processes: the one started and its children.
procs() {
	local kids
	if [ -e /proc/"$1"/task/"$1"/children ]; then
		kids=$(cat /proc/"$1"/task/*/children 2>/dev/null || true)
	else
		kids=$(ps -o pid= --ppid "$1" 2>/dev/null || true)
	fi
	echo "$1" $kids
}
# CPU ns of the servers' processes so far, and their context switches:
# "ns voluntary involuntary".
cpu_sample() {
	local p ps="" ticks
	for p in $(procs "$1"); do ps="$ps /proc/$p/task/*/schedstat"; done
	# shellcheck disable=SC2086
	ticks=$(sed 's/^.*) //' /proc/"$1"/stat | awk '{ print $14 + $15 }')
	# shellcheck disable=SC2086
	{ cat $ps 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
	  for p in $(procs "$1"); do cat /proc/"$p"/task/*/status 2>/dev/null
	  done | awk '/^voluntary_ctxt_switches:/ { v += $2 }
	      /^nonvoluntary_ctxt_switches:/ { n += $2 }
	      END { print v + 0, n + 0 }'
	} | paste -sd' ' | awk -v t="$ticks" -v hz="$hz" \
	    '{ printf "%.0f %d %d\n", $1 + t * 1e9 / hz, $2, $3 }'
}
cpu0_busy() {	# busy ticks of the servers' CPU (steal included)
	awk -v c="cpu$srv_cpu" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' \
	    /proc/stat
}
now_ns() { date +%s%N; }

# run TAG PAIR: one measured run against the server started as $pid.
run() {
	local tag=$1 r=$2 lg line a b t0 t1 b0 b1
	wait_port $port || { say "$tag did not start"; return 1; }
	sleep 0.3
	taskset -c "$(gen_cpus)" "$work/loadgen" -p $port -c $conc -d "$secs" \
	    -w "$warm" -s 127.0.0.1 -n $nsrc > "$work/loadgen.out" & lg=$!
	sleep "$warm"
	a=$(cpu_sample "$pid"); b0=$(cpu0_busy); t0=$(now_ns)
	sleep "$secs"
	b=$(cpu_sample "$pid"); b1=$(cpu0_busy); t1=$(now_ns)
	# Unpinned, the servers' CPU is every CPU, the load generator's too.
	[ "$mode" = pinned ] || b1=$b0
	wait $lg
	line=$(grep '^RESULT' "$work/loadgen.out")
	echo "$line" | awk -v tag="$tag" -v r="$r" -v a="$a" -v b="$b" -v m="$mode" \
	    -v t0="$t0" -v t1="$t1" -v b0="$b0" -v b1="$b1" -v hz="$hz" '{
		for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		split(a, x, " "); split(b, y, " ")
		wall = (t1 - t0) / 1e9
		cps = f["cps"]
		n = cps * wall
		cpu = n > 0 ? (y[1] - x[1]) / 1e3 / n : 0
		busy = n > 0 && b1 > b0 ? sprintf("%.2f", (b1 - b0) * 1e6 / hz / n) : "-"
		cs = n > 0 ? (y[2] - x[2] + y[3] - x[3]) / n : 0
		ics = n > 0 ? (y[3] - x[3]) / n : 0
		printf "server=%s mode=%s pair=%d cps=%s p50_us=%s p99_us=%s " \
		    "errors=%s cpu_us=%.2f cpu0_us=%s ctxsw=%.2f " \
		    "ictxsw=%.2f wall=%.3f\n", tag, m, r, cps, f["p50_us"],
		    f["p99_us"], f["errors"], cpu, busy, cs, ics, wall }' \
	    >> "$raw"
	say "$mode pair $r $tag: $(tail -n 1 "$raw" | cut -d' ' -f4,6,8,9,11)"
}

# --- the pairs ---------------------------------------------------------
# First, an unmeasured run: the kernel's TIME_WAIT table fills within
# seconds at these rates and stays full while the load lasts; no pair
# should pay for filling it.
start_reference
if wait_port $port; then
	taskset -c $gen_cpu "$work/loadgen" -p $port -c $conc -d 3 -w 0 \
	    -s 127.0.0.1 -n $nsrc > /dev/null || true
fi
stop
for mode in $modes; do
	r=1
	while [ $r -le "$pairs" ]; do
		# Alternate which goes first, so that neither always follows
		# the other's TIME_WAIT sockets.  preforkd as shipped runs
		# next to the reference, the comparisons further off: the
		# headline ratio spans the shortest time.
		order="${before:+preforkd-before }"
		[ "$ps0" = 0 ] || order="$order preforkd-ps0"
		order="$order preforkd reference"
		[ $((r % 2)) -eq 1 ] ||
		    order=$(echo $order | tr ' ' '\n' | tac | paste -sd' ')
		for s in $order; do
			"start_$s"
			run "$s" $r || true
			stop
		done
		r=$((r + 1))
	done
done
mode=pinned

# --- system calls and profile ------------------------------------------
# Both under the same load as the pairs, outside the measured runs.
# load SECONDS: the load generator in the background ($lg), after the
# server started as $pid is up.
load() {
	wait_port $port || return 1
	sleep 0.3
	taskset -c $gen_cpu "$work/loadgen" -p $port -c $conc -d "$1" -w 0.2 \
	    -s 127.0.0.1 -n $nsrc > /dev/null & lg=$!
	sleep 0.7
}
# syscalls TAG: calls per accepted connection, by system call, into the
# raw file as "syscalls server=TAG conns=N NAME=X ... total=X".  perf
# trace -s (which slows every call down) only finds the calls in use;
# perf stat then counts them on their tracepoints, which costs the
# servers next to nothing.  Connections are the accept4() calls that
# returned a descriptor.  strace -c (slow, but counts) otherwise.
syscalls() {
	local tag=$1 pids names ev="" p args=""
	load 5 || return 0
	pids=$(procs "$pid" | tr ' ' ',')
	if [ "$tracer" = perf ]; then
		timeout -s INT 1 perf trace -s -p "$pids" \
		    > "$work/trace-$tag.txt" 2>&1 || true
		names=$(awk '/^ +[a-z_0-9]+ +[0-9]+ +[0-9]+ / { print $1 }' \
		    "$work/trace-$tag.txt" | sort -u)
		for p in $names; do
			[ -d /sys/kernel/tracing/events/syscalls/sys_enter_$p ] ||
			    [ -d /sys/kernel/debug/tracing/events/syscalls/sys_enter_$p ] ||
			    continue
			ev="$ev -e syscalls:sys_enter_$p"
		done
		# shellcheck disable=SC2086
		perf stat -x, $ev -e syscalls:sys_exit_accept4 --filter 'ret >= 0' \
		    -p "$pids" -- sleep 2 2> "$work/stat-$tag.txt" >/dev/null ||
		    true
		awk -F, '$3 ~ /^syscalls:sys_enter_/ { n = $3;
			sub(/^syscalls:sys_enter_/, "", n); print n, $1 + 0 }
		    $3 == "syscalls:sys_exit_accept4" { print "CONNS", $1 + 0 }' \
		    "$work/stat-$tag.txt" > "$work/sys-$tag.txt"
	elif [ "$tracer" = strace ]; then
		for p in ${pids//,/ }; do args="$args -p $p"; done
		# shellcheck disable=SC2086
		timeout -s INT 2 strace -c -f $args \
		    > "$work/trace-$tag.txt" 2>&1 || true
		awk '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
			print $NF, $4; if ($NF == "accept4")
			    print "CONNS", $4 - (NF == 6 ? $5 : 0) }' \
		    "$work/trace-$tag.txt" > "$work/sys-$tag.txt"
	fi
	wait $lg || true
	[ -s "$work/sys-$tag.txt" ] || return 0
	awk -v tag="$tag" '$1 == "CONNS" { n = $2; next } { c[$1] = $2 }
	    END { if (n <= 0) exit
		line = "syscalls server=" tag " conns=" n
		for (k in c) { t += c[k]; line = line " " k "=" sprintf("%.2f", c[k] / n) }
		printf "%s total=%.2f\n", line, t / n }' \
	    "$work/sys-$tag.txt" >> "$raw"
}
# prof TAG: 3 s of perf record -g on the servers' CPU as a whole (not on
# the processes: per-task sampling restarts its timer at every switch in,
# which over-counts the switch itself), split by the server's pids.
prof() {
	local tag=$1 pids
	load 5 || return 0
	pids=$(procs "$pid" | tr ' ' ',')
	perf record -q -a -C $srv_cpu -g -o "$work/perf-$tag.data" \
	    -- sleep 3 > /dev/null 2>&1 || true
	wait $lg || true
	[ -s "$work/perf-$tag.data" ] || return 0
	# The server's share of the CPU's samples, the idle task's.
	perf report -i "$work/perf-$tag.data" --stdio --no-children \
	    --sort pid -g none 2>/dev/null | awk -v pids=",$pids," -v tag="$tag" '
	    /^ +[0-9.]+%/ { p = $1; sub(/%/, "", p); id = $2; sub(/:.*/, "", id)
		if (index(pids, "," id ",")) s += p
		else if ($2 ~ /^0:/) idle += p }
	    END { printf "cpushare server=%s share=%.1f idle=%.1f\n", tag, s,
		idle }' >> "$raw"
	# Self time by symbol, as a share of the server's samples.
	perf report -i "$work/perf-$tag.data" --stdio --no-children \
	    --pid "$pids" --percentage relative --sort sym -g none \
	    --percent-limit 1 2>/dev/null |
	    awk -v tag="$tag" '/^ +[0-9.]+%/ { p = $1; sub(/%/, "", p);
		$1 = ""; sub(/^ +/, "");
		print "profile server=" tag " self=" p " sym=" $0 }' |
	    head -n 20 >> "$raw"
	# Time inside each system call and in the scheduler, children
	# included.
	perf report -i "$work/perf-$tag.data" --stdio --children \
	    --pid "$pids" --percentage relative --sort sym -g none \
	    2>/dev/null |
	    awk -v tag="$tag" '/^ +[0-9.]+% +[0-9.]+%/ &&
		$NF ~ /^__x64_sys_|^schedule$|^handle_softirqs$/ {
		p = $1; sub(/%/, "", p);
		print "inclusive server=" tag " total=" p " sym=" $NF }' |
	    head -n 20 >> "$raw"
	# User space (the daemon and libc) against the kernel.
	perf report -i "$work/perf-$tag.data" --stdio --no-children \
	    --sort pid,dso -g none 2>/dev/null | awk -v pids=",$pids," \
	    -v tag="$tag" '/^ +[0-9.]+%/ { p = $1; sub(/%/, "", p); id = $2
		sub(/:.*/, "", id); if (!index(pids, "," id ",")) next
		if ($NF ~ /kernel/) k += p; else u += p }
	    END { t = u + k; if (t > 0) printf "userspace server=%s " \
		"user=%.1f kernel=%.1f\n", tag, u * 100 / t, k * 100 / t }' \
	    >> "$raw"
}
tracer=none
if [ "$profile" != 0 ]; then
	if have perf && perf trace -s -- true >/dev/null 2>&1; then
		tracer=perf
	elif have strace; then
		tracer=strace
	fi
	echo "tracer $tracer" >> "$raw"
	others=${before:+preforkd-before}
	[ "$ps0" = 0 ] || others="$others preforkd-ps0"
	for s in preforkd $others reference; do
		"start_$s"; syscalls "$s"; stop
	done
	if have perf && perf record -q -o "$work/perf-test.data" -- true \
	    >/dev/null 2>&1; then
		for s in preforkd reference; do
			"start_$s"; prof "$s"; stop
		done
	else
		echo "profile none" >> "$raw"
	fi
	rm -f "$work/perf-test.data"
fi
trap - EXIT

# --- the report ---------------------------------------------------------
COST_PAIRS=$pairs COST_SECS=$secs COST_WARM=$warm COST_CONC=$conc \
COST_NSRC=$nsrc COST_MODES=$modes COST_LABEL=$label COST_LOGTO=$logto \
COST_BEFORE_LABEL=${COST_BEFORE_LABEL:-} exec "$top/bench/cost-report.sh" "$raw" "$report"
