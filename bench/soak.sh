#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/soak.sh MINUTES - the daemon under mixed load for MINUTES, with
# reloads, upgrades in place and killed workers on a schedule: does
# anything grow?  Samples over time, a plot and a verdict generated from
# the run's own numbers.
#
#   bench/soak.sh 60
#
# Two daemons of this build, from a copy in the run's directory (which an
# upgrade re-executes): "greeting" (the greeting service) and "echo" (the
# echo service), each with its metrics endpoint, on loopback ports from
# SOAK_PORT (default 19401) up.  Their load, all of it for the whole run:
#   greeting  closed-loop greeting clients (bench/loadgen.c, 8), and
#             slow and silent clients (bench/slowloris.c: 8 that send one
#             byte and nothing more, 8 that send nothing), reopened as
#             the daemon drops them at its timeouts;
#   echo      closed-loop echo clients (bench/loadgen.c, 8).
# Each loadgen run lasts one sample (SOAK_SAMPLE seconds, default 5), and
# says its connections per second and p99 latency, as a client sees them.
# The schedule, in samples, for both daemons: a reload every 6th (a
# changed timeouts.read), an upgrade in place (USR2, the same binary)
# every 12th, a worker killed (KILL) every 4th.
#
# Every sample: each daemon's RSS (master alone and with its workers, in
# KiB, /proc), open descriptors (master, and with its workers: /proc/PID/fd,
# root only; -1 otherwise), workers, and its connections served per
# second (preforkd_connections_served_total from its /metrics).
#
# The verdict: for RSS and descriptors (the master's, and a worker's on
# average: the pool sizes itself), the median of the last fifth of
# the samples against the median of the first fifth; growth when the last
# exceeds the first by more than SOAK_TOLERANCE percent (default 10) and
# by more than a floor (1024 KiB of RSS, 4 descriptors), which keeps a
# page or a socket in flight from counting.  Also: failed client
# connections, the daemons alive at the end, their master PIDs unchanged.
#
# Output: build/bench/soak/ (samples, logs, soak.png, SOAK.md).  A run of
# 60 minutes or more writes its SOAK.md and soak.png into bench/ instead,
# or wherever SOAK_RESULTS names; a shorter one never touches bench/.
# Environment: PREFORKD, the binary (default build/preforkd, built first);
# SOAK_PORT, SOAK_SAMPLE, SOAK_TOLERANCE, SOAK_RESULTS.  Loopback only;
# every loop is bounded in count and in time.  gnuplot (Debian:
# gnuplot-nox) draws the plot; without it the rest is done.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
usage() { echo "usage: bench/soak.sh MINUTES (1..1440)" >&2; exit 64; }
[ $# -eq 1 ] || usage
minutes=$1
case $minutes in ''|*[!0-9]*) usage ;; esac
[ "$minutes" -ge 1 ] && [ "$minutes" -le 1440 ] || usage

sample=${SOAK_SAMPLE:-5}
tolerance=${SOAK_TOLERANCE:-10}
port=${SOAK_PORT:-19401}
out=$top/build/bench/soak
if [ -n "${SOAK_RESULTS:-}" ]; then
	results=$SOAK_RESULTS
elif [ "$minutes" -ge 60 ]; then
	results=$top/bench/SOAK.md
else
	results=$out/SOAK.md
fi
plot=$(dirname "$results")/soak.png
samples=$((minutes * 60 / sample))
say() { printf '==> %s\n' "$*" >&2; }

# --- build -------------------------------------------------------------------
[ -n "${PREFORKD:-}" ] || ./bootstrap.sh build >/dev/null
src=${PREFORKD:-$top/build/preforkd}
[ -x "$src" ] || { echo "soak.sh: no preforkd at $src" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
cc -O2 -Wall -Wextra -pthread -o "$out/loadgen" bench/loadgen.c
cc -O2 -Wall -Wextra -o "$out/slowloris" bench/slowloris.c
# The daemons run this copy: an upgrade re-executes it.
cp "$src" "$out/preforkd"
preforkd=$out/preforkd

# --- the daemons -------------------------------------------------------------
names="greeting echo"
declare -A lport mport pid conf
i=0
for n in $names; do
	lport[$n]=$((port + 2 * i))
	mport[$n]=$((port + 2 * i + 1))
	conf[$n]=$out/$n.conf
	i=$((i + 1))
done
# write_conf NAME READ_TIMEOUT
write_conf() {
	cat > "${conf[$1]}.new" <<CONF
listen = { address = "127.0.0.1"; port = ${lport[$1]}; };
service = "$1";
metrics = { port = ${mport[$1]}; };
limits = { per_source = 0; };
timeouts = { read = $2; };
CONF
	mv "${conf[$1]}.new" "${conf[$1]}"
}
wait_port() {
	local i=0
	while ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || return 1; sleep 0.05
	done
}

bg=()		# every background process this run started
cleanup() {
	for p in "${bg[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for n in $names; do
		[ -n "${pid[$n]:-}" ] || continue
		kill -TERM "${pid[$n]}" 2>/dev/null || true
		local i=0
		while kill -0 "${pid[$n]}" 2>/dev/null && [ $i -lt 150 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -KILL "${pid[$n]}" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap cleanup EXIT

for n in $names; do
	write_conf "$n" 5
	"$preforkd" -t -c "${conf[$n]}" >/dev/null
	"$preforkd" -f -e -c "${conf[$n]}" 2> "$out/$n.log" &
	pid[$n]=$!
	wait_port "${lport[$n]}" || { echo "soak.sh: $n did not start" >&2; exit 1; }
	wait_port "${mport[$n]}" || { echo "soak.sh: $n has no metrics" >&2; exit 1; }
done

# --- the load ----------------------------------------------------------------
# load NAME MODE: closed-loop clients, one loadgen run per sample, each
# one's figures as "seconds_since_start cps p99_ms errors".
t0=$(date +%s.%N)
secs=$((samples * sample))
since() { awk -v t0="$t0" -v t="$(date +%s.%N)" 'BEGIN { printf "%.1f", t - t0 }'; }
load() {
	local n=$1 mode=$2 j r
	for ((j = 0; j < samples; j++)); do
		# Not past the run: the runs take a little more than a sample.
		awk -v e="$(since)" -v s="$secs" 'BEGIN { exit !(e < s - 1) }' ||
		    break
		r=$("$out/loadgen" -p "${lport[$n]}" -m "$mode" -c 8 -t 1 \
		    -d "$sample" 2>/dev/null | grep '^RESULT' || true)
		[ -n "$r" ] || { sleep 1; continue; }
		echo "$(since) $(echo "$r" | sed -n 's/.* cps=\([0-9.]*\) .* p99_us=\([0-9.]*\) .* errors=\([0-9]*\).*/\1 \2 \3/p' |
		    awk '{ printf "%s %.3f %s", $1, $2 / 1000, $3 }')"
	done > "$out/$n-load.dat"
}
load greeting greeting & bg+=($!)
load echo echo & bg+=($!)
"$out/slowloris" -p "${lport[greeting]}" -m greeting -a 8 -b 1 \
    -s 127.0.0.2 -n 8 -i 1000 -r 0 -d "$secs" > "$out/slow.txt" 2>&1 & bg+=($!)
"$out/slowloris" -p "${lport[greeting]}" -m greeting -a 8 -b 0 \
    -s 127.0.0.20 -n 8 -i 1000 -r 0 -d "$secs" > "$out/silent.txt" 2>&1 & bg+=($!)

# --- sampling and the schedule -----------------------------------------------
children() { cat /proc/"$1"/task/*/children 2>/dev/null || true; }
rss() { awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status 2>/dev/null || echo 0; }
fds() {
	if [ -r /proc/"$1"/fd ]; then ls /proc/"$1"/fd 2>/dev/null | wc -l
	else echo -1; fi
}
served() {
	local body
	body=$( (exec 3<>/dev/tcp/127.0.0.1/"$1" &&
	    printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 &&
	    timeout 5 cat <&3) 2>/dev/null || true)
	echo "$body" | awk '/^preforkd_connections_served_total / { print $2 }'
}
# sample NAME: "t rss_master rss_all fds_master fds_all workers served"
take() {
	local n=$1 p=${pid[$1]} rm ra fm fa w=0 c
	rm=$(rss "$p"); ra=$rm; fm=$(fds "$p"); fa=$fm
	for c in $(children "$p"); do
		grep -q worker /proc/"$c"/cmdline 2>/dev/null || continue
		w=$((w + 1))
		ra=$((ra + $(rss "$c")))
		[ "$fa" -lt 0 ] || fa=$((fa + $(fds "$c")))
	done
	echo "$(since) $rm $ra $fm $fa $w $(served "${mport[$n]}")"
}
kill_worker() {
	local c
	for c in $(children "${pid[$1]}"); do
		if grep -q worker /proc/"$c"/cmdline 2>/dev/null; then
			kill -KILL "$c" 2>/dev/null || true
			return
		fi
	done
}

say "soak: $minutes min, a sample every $sample s ($samples samples), in $out"
reloads=0 upgrades=0 kills=0
for ((s = 0; s < samples; s++)); do
	awk -v e="$(since)" -v s="$secs" 'BEGIN { exit !(e < s) }' || break
	due=$(awk -v t0="$t0" -v s="$s" -v d="$sample" 'BEGIN { printf "%.3f", t0 + (s + 1) * d }')
	for n in $names; do
		kill -0 "${pid[$n]}" 2>/dev/null || { say "$n is gone"; break 2; }
		take "$n" >> "$out/$n-samples.raw"
		if [ $((s % 6)) -eq 5 ]; then
			write_conf "$n" $((4 + (s / 6) % 2))
			kill -HUP "${pid[$n]}"
		fi
		[ $((s % 12)) -ne 8 ] || kill -USR2 "${pid[$n]}"
		[ $((s % 4)) -ne 1 ] || kill_worker "$n"
	done
	[ $((s % 6)) -ne 5 ] || reloads=$((reloads + 1))
	[ $((s % 12)) -ne 8 ] || upgrades=$((upgrades + 1))
	[ $((s % 4)) -ne 1 ] || kills=$((kills + 1))
	left=$(awk -v due="$due" -v now="$(date +%s.%N)" 'BEGIN { d = due - now; if (d < 0) d = 0; if (d > 60) d = 60; printf "%.3f", d }')
	sleep "$left"
done
alive=
for n in $names; do
	if kill -0 "${pid[$n]}" 2>/dev/null; then alive="$alive $n"; fi
done
for p in "${bg[@]}"; do wait "$p" 2>/dev/null || true; done
bg=()

# --- figures -----------------------------------------------------------------
# samples.dat: "t rss_master rss_all fds_master fds_all workers cps
# rss_per_worker fds_per_worker", cps from the served counter between
# samples; the pool sizes itself, so workers are compared one by one.
for n in $names; do
	awk 'NF >= 7 { if (seen && $1 > t) cps = ($7 - c) / ($1 - t); else cps = 0
		w = $6 > 0 ? $6 : 1
		if (seen) printf "%s %s %s %s %s %s %.1f %.0f %.2f\n", $1, $2, $3,
		    $4, $5, $6, (cps < 0 ? 0 : cps), ($3 - $2) / w,
		    ($4 < 0 ? -1 : ($5 - $4) / w)
		t = $1; c = $7; seen = 1 }' "$out/$n-samples.raw" > "$out/$n-samples.dat"
done
# fifth NAME COLUMN head|tail: the median of that fifth of the samples.
fifth() {
	local f=$out/$1-samples.dat total
	total=$(wc -l < "$f")
	[ "$total" -ge 5 ] || { echo -; return; }
	"$3" -n $((total / 5)) "$f" | awk -v col="$2" '{ print $col }' |
	    sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
# grows FIRST LAST FLOOR: "yes" when LAST exceeds FIRST by more than the
# tolerance and the floor.
grows() {
	awk -v a="$1" -v b="$2" -v floor="$3" -v tol="$tolerance" 'BEGIN {
		if (a == "-" || b == "-" || a < 0 || b < 0) { print "unknown"; exit }
		print (b - a > a * tol / 100 && b - a > floor) ? "yes" : "no" }'
}
verdict=no
rows=
for n in $names; do
	for m in "2 RSS of the master (KiB) 1024" "8 RSS per worker (KiB) 1024" \
	    "4 descriptors of the master 4" "9 descriptors per worker 4"; do
		col=${m%% *}; rest=${m#* }; floor=${rest##* }; what=${rest% *}
		a=$(fifth "$n" "$col" head); b=$(fifth "$n" "$col" tail)
		g=$(grows "$a" "$b" "$floor")
		[ "$g" != yes ] || verdict=yes
		[ "$g" != unknown ] || [ "$verdict" = yes ] || verdict=unknown
		rows="$rows| $n | $what | $a | $b | $g |"$'\n'
	done
done
errors=$(cat "$out"/*-load.dat 2>/dev/null | awk '{ s += $4 } END { print s + 0 }')
conns=$(for n in $names; do tail -n 1 "$out/$n-samples.raw" | awk '{ print $7 }'; done | awk '{ s += $1 } END { print s + 0 }')
probes=$(cat "$out/slow.txt" "$out/silent.txt" 2>/dev/null | sed -n 's/^RESULT .* probes=\([0-9]*\) failed=\([0-9]*\) .*/\1 \2/p' |
    awk '{ p += $1; f += $2 } END { printf "%d probes, %d failed", p, f }')
exits=$(cat "$out"/*.log | grep -c 'worker exited' || true)
samesame=yes
for n in $names; do
	c=$(grep -c 'started version=' "$out/$n.log" || true)
	s=$(grep -c "preforkd\[${pid[$n]}\]: started version=" "$out/$n.log" || true)
	[ "$c" = "$s" ] || samesame=no
done

# --- the plot ----------------------------------------------------------------
if command -v gnuplot >/dev/null 2>&1; then
	lines() {	# FILE COLUMN: one line per daemon
		local p= n
		for n in $names; do
			p="$p${p:+, }'$out/$n-$1' using (\$1/60):$2 with lines title '$n'"
		done
		echo "$p"
	}
	gnuplot <<GP
set terminal pngcairo size 1400,900 font ",10"
set output '$plot'
set multiplot layout 3,2 title "preforkd soak: $minutes min, reload every $((6 * sample)) s, upgrade every $((12 * sample)) s, a worker killed every $((4 * sample)) s"
set xlabel "minutes"
set key bottom right
set ylabel "RSS, master and workers (MiB)"
set yrange [0:*]
plot $(lines samples.dat '($3/1024)')
set ylabel "RSS, master (MiB)"
plot $(lines samples.dat '($2/1024)')
set ylabel "open descriptors, master and workers"
plot $(lines samples.dat 5)
set ylabel "workers"
plot $(lines samples.dat 6)
set ylabel "connections / s (served, daemon's count)"
plot $(lines samples.dat 7)
set ylabel "p99 latency, closed-loop clients (ms)"
plot $(lines load.dat 3)
unset multiplot
GP
else
	say "gnuplot not installed (Debian: gnuplot-nox): no plot"
	plot=
fi

# --- SOAK.md -----------------------------------------------------------------
case $verdict in
no) said="no growth: in every row the last fifth is within $tolerance% (or the floor) of the first" ;;
yes) said="growth: at least one row below grew by more than $tolerance% and its floor" ;;
*) said="unknown: some figures could not be read (descriptors need root)" ;;
esac
short=
[ "$minutes" -ge 60 ] || short="**A short run ($minutes min): not the soak's figures, only a check of the script.**"
{
cat <<HEAD
# Soak

Generated by \`bench/soak.sh $minutes\` on $(date -u +%Y-%m-%d) ($(nproc) CPUs,
$(uname -r), $("$preforkd" -V 2>&1 | head -n 1)); see
[docs/benchmarks.md](../docs/benchmarks.md). $short

**Verdict: $said.** Daemons alive at the end:${alive:- none}; master PIDs
unchanged across the upgrades: $samesame.

Two daemons, greeting and echo, $minutes min; a sample every $sample s
($(wc -l < "$out/greeting-samples.dat") kept). Load throughout: 8
closed-loop greeting clients and 16 slow or silent ones on the first, 8
closed-loop echo clients on the second. Schedule, on both: $reloads
reloads, $upgrades upgrades in place, $kills workers killed. Connections
served: $conns; failed closed-loop connections: $errors; a probe every
second beside the slow and silent clients: $probes; workers that exited,
logged: $exits.

Growth is the median of the last fifth of the samples against the median
of the first fifth, beyond $tolerance% and a floor (1024 KiB of RSS, 4
descriptors). The pool sizes itself with the load, so the workers are
compared one by one (their RSS and descriptors over their number); the
plot has their sum.

| daemon | figure | first fifth | last fifth | growth |
|---|---|---:|---:|---|
HEAD
printf '%s' "$rows"
[ -z "$plot" ] || printf '\n![soak](%s)\n' "$(basename "$plot")"
} > "$results"
say "$said"
say "wrote $results${plot:+ and $plot}"
