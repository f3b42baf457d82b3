#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/report.sh FIGURES - turns bench/run.sh's measurements into
# RESULTS.md and plot.png.  FIGURES (build/bench/figures) holds run.sh's
# figures one per line; the raw per-run lines are in the file it names.
set -eu
{
	read -r raw; read -r results; read -r rounds; read -r secs
	read -r mem_pre; read -r mem_apache; read -r mem_nginx
	read -r respawn; read -r reload; read -r stream; read -r iperf
	read -r notes || true
} < "$1"
dir=$(dirname "$raw")

field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p"; }

# median SERVER CONC KEY: median over rounds
median() {
	grep "^server=$1 " "$raw" | grep " conc=$2 " | field "$3" | sort -n |
	    awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'
}
sum_errors() {
	grep "^server=$1 " "$raw" | grep " conc=$2 " | field errors |
	    awk '{ s += $1 } END { print s + 0 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

servers=$(sed -n 's/^server=\([^ ]*\) .*/\1/p' "$raw" | grep -v -- '-w[0-9]' | sort -u)

# Data for the plot: one file per server, "conc cps p99_ms".
for s in $servers; do
	for c in 1 16 64 256 1024; do
		m=$(median "$s" "$c" cps)
		[ "$m" = "-" ] && continue
		echo "$c $m $(median "$s" "$c" p99_us | awk '{ print $1 / 1000 }') $(median "$s" "$c" cpu_us)"
	done > "$dir/plot-$s.dat"
done
if command -v gnuplot >/dev/null 2>&1; then
	plots= plots99= plotscpu=
	for s in $servers; do
		plots="$plots${plots:+, }'$dir/plot-$s.dat' using 1:2 with linespoints title '$s'"
		plots99="$plots99${plots99:+, }'$dir/plot-$s.dat' using 1:3 with linespoints title '$s'"
		plotscpu="$plotscpu${plotscpu:+, }'$dir/plot-$s.dat' using 1:4 with linespoints title '$s'"
	done
	gnuplot <<GP
set terminal pngcairo size 1400,420 font ",10"
set output '$(dirname "$results")/plot.png'
set multiplot layout 1,3 title "preforkd and peers, medians of $rounds rounds (loopback, server on CPU 0, load on CPU 1)"
set logscale x 2
set xlabel "concurrent clients"
set key bottom right
set ylabel "connections / s"
set yrange [0:*]
plot $plots
set ylabel "p99 latency (ms)"
set logscale y 10
set yrange [*:*]
set key top left
plot $plots99
set ylabel "servers' CPU per connection (µs)"
unset logscale y
set yrange [0:*]
plot $plotscpu
unset multiplot
GP
fi

# bench/overload.sh's section, between its markers, survives a rewrite.
overload=$(sed -n '/^<!-- overload.sh: begin -->$/,/^<!-- overload.sh: end -->$/p' \
    "$results" 2>/dev/null || true)

row() {	# server conc
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" \
	    "$(median "$1" "$2" cps)" "$(median "$1" "$2" p50_us)" \
	    "$(median "$1" "$2" p99_us)" "$(median "$1" "$2" cpu_us)" \
	    "$(sum_errors "$1" "$2")"
}

{
cat <<HEAD
# Benchmark results

Produced by \`bench/run.sh $rounds\` (also \`make bench\`) on
$(date -u +%Y-%m-%d): $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)),
Linux $(uname -r), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo).
Servers run pinned to CPU 0 and the load generator (\`bench/loadgen.c\`,
closed loop, one epoll thread) to CPU 1, over loopback; each cell is the
median of $rounds interleaved rounds of ${secs} s after a warm-up. Absolute
numbers belong to this machine; the ratios are what carries over.

- **preforkd**: default configuration (4 workers, backlog 128), greeting.
- **reference**: \`bench/reference.c\`, one process, one epoll loop, the
  greeting protocol with no logging: the speed of light here.
- **preforkd-echo** / **apache-prefork**: echo (send "ping\\n", read it
  back, close); Apache 2.4 mpm_prefork + mod_echo with Debian's prefork
  defaults (5..10 spare children, up to 150).
- **nginx-return**: nginx stream \`return\` of the banner, one worker: it
  sends and closes, it never reads a message (client mode \`banner\`).

preforkd logs one line per connection (\`-e\` into a file); the reference,
nginx and Apache log nothing per connection.

"server CPU µs/conn" is the busy time of the servers' CPU (user, system,
interrupts) divided by the connections served. On this 2-CPU machine a
single load-generator core saturates before the servers' core does (it
does as much kernel work per connection as the server, and more), so
conns/s converge for every server; CPU per connection is the figure that
tells the servers apart, and the targets below are judged on both.

## Connections per second and latency (µs)

| server | clients | conns/s | p50 | p99 | server CPU µs/conn | errors |
|---|---|---|---|---|---|---|
HEAD
for s in $servers; do
	for c in 1 16 64 256 1024; do row "$s" "$c"; done
done
echo
echo '![conns/s, p99 and CPU per connection against concurrency](plot.png)'
echo
echo "## Against the targets"
echo
echo "| target | measured | met |"
echo "|---|---|---|"
for c in 16 64; do
	r=$(ratio "$(median preforkd $c cps)" "$(median reference $c cps)")
	e=$(ratio "$(median reference $c cpu_us)" "$(median preforkd $c cpu_us)")
	p=$(median preforkd $c p99_us); q=$(median reference $c p99_us)
	ok=$(awk -v r="$r" -v e="$e" -v p="$p" -v q="$q" 'BEGIN { print ((r >= 1.05 || e >= 1.05) && p <= q) ? "yes" : "no" }')
	echo "| greeting c=$c: ≥ 1.05× reference (conns/s or conns per CPU second), p99 no worse | ${r}× conns/s, ${e}× per CPU, p99 $p vs $q µs | $ok |"
done
if grep -q '^server=apache-prefork ' "$raw"; then
	r=$(ratio "$(median preforkd-echo 64 cps)" "$(median apache-prefork 64 cps)")
	e=$(ratio "$(median apache-prefork 64 cpu_us)" "$(median preforkd-echo 64 cpu_us)")
	p=$(ratio "$(median preforkd-echo 64 p99_us)" "$(median apache-prefork 64 p99_us)")
	ok=$(awk -v r="$r" -v e="$e" -v p="$p" 'BEGIN { print ((r >= 1.2 || e >= 1.2) && p <= 0.5) ? "yes" : "no" }')
	echo "| echo c=64: ≥ 1.2× Apache prefork (conns/s or per CPU), p99 ≤ 0.5× | ${r}× conns/s, ${e}× per CPU, p99 ${p}× | $ok |"
fi
pre_pss=${mem_pre%% *}
ok=$(awk -v p="${pre_pss:-999999}" 'BEGIN { print (p <= 100) ? "yes" : "no" }')
echo "| idle worker PSS ≤ 100 KiB | ${pre_pss:-?} KiB | $ok |"
m=$(echo "$respawn" | field median_ms); x=$(echo "$respawn" | field max_ms)
ok=$(awk -v m="$x" 'BEGIN { print (m <= 5) ? "yes" : "no" }')
echo "| dead worker replaced and accepting ≤ 5 ms | median $m ms, max $x ms | $ok |"
m=$(echo "$reload" | field median_ms); x=$(echo "$reload" | field max_ms)
ok=$(awk -v m="$x" 'BEGIN { print (m <= 100) ? "yes" : "no" }')
echo "| HUP replaces 16 workers ≤ 100 ms | median $m ms, max $x ms | $ok |"
e=$(sum_errors preforkd 1024)
r=$(ratio "$(median preforkd 1024 cps)" "$(median preforkd 64 cps)")
ok=$(awk -v e="$e" -v r="$r" 'BEGIN { print (e == 0 && r >= 0.9) ? "yes" : "no" }')
echo "| c=1024, default config: 0 errors, ≥ 0.9× c=64 conns/s | $e errors, ${r}× | $ok |"
sm=$(echo "$stream" | field mbps)
if [ -n "$iperf" ]; then
	ib=$(awk -v m="$iperf" 'BEGIN { printf "%.1f", m / 8 }')
	r=$(ratio "$sm" "$ib")
	ok=$(awk -v r="$r" 'BEGIN { print (r >= 0.5) ? "yes" : "no" }')
	echo "| echo stream ≥ 0.5× iperf3 loopback | $sm MB/s vs $ib MB/s: ${r}× | $ok |"
fi
cat <<MORE

## Memory per idle worker (KiB, from /proc/PID/smaps_rollup)

| server | PSS | private |
|---|---|---|
| preforkd worker | ${mem_pre% *} | ${mem_pre#* } |
MORE
[ -n "$mem_apache" ] && echo "| Apache prefork child | ${mem_apache% *} | ${mem_apache#* } |"
[ -n "$mem_nginx" ] && echo "| nginx worker | ${mem_nginx% *} | ${mem_nginx#* } |"
cat <<MORE

## Pool size: 64 workers against 4, 64 clients, greeting

| workers | conns/s | p99 µs |
|---|---|---|
| 4 | $(grep '^server=preforkd-w4 ' "$raw" | field cps) | $(grep '^server=preforkd-w4 ' "$raw" | field p99_us) |
| 64 | $(grep '^server=preforkd-w64 ' "$raw" | field cps) | $(grep '^server=preforkd-w64 ' "$raw" | field p99_us) |
MORE
if [ -n "$notes" ]; then
	printf '\n## Notes\n\n%b' "$notes"
fi
analysis=$(dirname "$results")/ANALYSIS.md
[ -f "$analysis" ] && { echo; cat "$analysis"; }
if [ -n "$overload" ]; then echo; echo "$overload"; fi
} > "$results"
echo "wrote $results"
