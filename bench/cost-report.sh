#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/cost-report.sh RAW REPORT - turns bench/cost.sh's measurements
# (build/bench/cost-raw.txt) into bench/COST.md.  Every figure and every
# verdict in the text is computed here from RAW; the environment carries
# the run's parameters (COST_PAIRS, COST_SECS, COST_WARM, COST_CONC,
# COST_WORKERS, COST_LABEL, COST_BEFORE_LABEL).
set -eu
raw=$1
report=$2
pairs=${COST_PAIRS:-?}
secs=${COST_SECS:-?}
warm=${COST_WARM:-?}
conc=${COST_CONC:-64}
workers=${COST_WORKERS:-8}
label=${COST_LABEL:-}
before_label=${COST_BEFORE_LABEL:-an earlier build}

field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p"; }
med() { sort -g | awk '{ v[NR] = $1 } END {
	if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
	else printf "%.4g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
	END { if (NR) printf "%s-%s", lo, hi; else print "-" }'; }
of() { grep "^server=$1 " "$raw" | field "$2"; }
median() { of "$1" "$2" | med; }
# ratios SERVER KEY: per pair, SERVER / reference, one per line.
ratios() {
	awk -v s="$1" -v k="$2" '/^server=/ {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		if (f["server"] == s) a[f["pair"]] = f[k]
		if (f["server"] == "reference") b[f["pair"]] = f[k] }
	    END { for (p in a) if ((p in b) && b[p] > 0)
		printf "%d %.3f\n", p, a[p] / b[p] }' "$raw" | sort -n |
	    cut -d' ' -f2
}
yesno() { awk "BEGIN { print ($1) ? \"yes\" : \"no\" }"; }
has() { grep -q "^server=$1 " "$raw"; }

servers="preforkd"
has preforkd-before && servers="$servers preforkd-before"
servers="$servers reference"

# Per server: medians and, against the reference, ratios and verdicts.
declare -A M
for s in $servers; do
	for k in cps p50_us p99_us cpu_us cpu0_us ctxsw ictxsw; do
		M[$s.$k]=$(median "$s" "$k")
	done
	M[$s.errors]=$(of "$s" errors | awk '{ s += $1 } END { print s + 0 }')
done
for s in $servers; do
	[ "$s" = reference ] && continue
	M[$s.cps_r]=$(ratios "$s" cps | med)
	M[$s.cps_rr]=$(ratios "$s" cps | range)
	M[$s.cpu_r]=$(ratios "$s" cpu_us | med)
	M[$s.cpu_rr]=$(ratios "$s" cpu_us | range)
	M[$s.ok_cps]=$(yesno "\"${M[$s.cps_r]}\" != \"-\" && ${M[$s.cps_r]} >= 0.95")
	M[$s.ok_cpu]=$(yesno "\"${M[$s.cpu_r]}\" != \"-\" && ${M[$s.cpu_r]} <= 1.10")
	M[$s.ok_p99]=$(yesno "${M[$s.p99_us]} <= ${M[reference.p99_us]}")
done
tracer=$(sed -n 's/^tracer //p' "$raw")
sys() { grep "^syscalls server=$1 " "$raw" | field "$2"; }

{
cat <<HEAD
# Cost per connection: preforkd against the single-process reference

Produced by \`bench/cost.sh $pairs\`$(has preforkd-before && echo " (and a second binary as COST_BEFORE)") on $(date -u +%Y-%m-%d): $(nproc --all) CPUs
($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)), Linux $(uname -r),
$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo).${label:+ preforkd: $label.} Every figure and verdict
below is computed from that run by \`bench/cost-report.sh\`.

The greeting protocol, $conc closed-loop clients (\`bench/loadgen.c\`, one
thread) from 127.0.0.1. **preforkd**: a fixed pool of $workers workers, log
level notice (no line per connection), no per-source limit.
**reference**: \`bench/reference.c\`, one process, one epoll loop, no
logging.
HEAD
has preforkd-before && cat <<BEFORE
**preforkd-before**: the same configuration, $before_label, measured
in the same pairs: the changes' before and after in one run.
BEFORE
cat <<SETUP
$pairs interleaved pairs (the order alternates), each run ${secs} s measured
after ${warm} s of warm-up. Servers pinned to CPU 0, the load generator to
CPU 1.

**CPU per connection** is the CPU time of the server's own processes
(preforkd: the master and every worker) over the measured window, divided
by the connections served in it. It is utime + stime, read as the run
time in nanoseconds of every thread that the kernel splits into the two
(\`/proc/PID/task/TID/schedstat\`, first field; \`/proc/PID/stat\` gives the
same sum in 10 ms ticks), plus the master's cutime + cstime for workers
reaped meanwhile. "CPU 0 busy" is the busy time of the servers' whole
CPU from /proc/stat (user, system, interrupts, softirqs and steal,
whoever ran), for comparison. Context switches are the servers' voluntary and
involuntary ones (/proc/PID/task/TID/status), the involuntary shown apart.

## Runs

| pair | server | conns/s | p50 µs | p99 µs | CPU µs/conn | CPU 0 busy µs/conn | switches/conn | of which involuntary | errors |
|---|---|---|---|---|---|---|---|---|---|
SETUP
grep '^server=' "$raw" | sort -t= -k3,3n -s | awk '{
	for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	mark = crowded(f["cpu_us"], f["cpu0_us"]) ? " †" : ""
	printf "| %s | %s | %s | %s | %s | %s | %s%s | %s | %s | %s |\n",
	    f["pair"], f["server"], f["cps"], f["p50_us"], f["p99_us"],
	    f["cpu_us"], f["cpu0_us"], mark, f["ctxsw"], f["ictxsw"],
	    f["errors"] }
    function crowded(own, all) { return all - own > 0.25 * own }'
for s in $servers; do
	echo "| median | $s | ${M[$s.cps]} | ${M[$s.p50_us]} | ${M[$s.p99_us]} | ${M[$s.cpu_us]} | ${M[$s.cpu0_us]} | ${M[$s.ctxsw]} | ${M[$s.ictxsw]} | ${M[$s.errors]} (sum) |"
done
echo
crowded=$(grep '^server=' "$raw" | awk '{
	for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	n++; if (f["cpu0_us"] - f["cpu_us"] > 0.25 * f["cpu_us"]) c++ }
    END { printf "%d %d", c, n }')
if [ "${crowded% *}" -gt 0 ]; then
	echo "† ${crowded% *} of ${crowded#* } runs shared CPU 0 with other work: its busy time exceeded the server's own CPU time by more than a quarter (softirqs alone account for a few µs per connection). Such runs are noisier; they are counted like the others."
	echo
fi
for s in $servers; do
	[ "$s" = reference ] && continue
	echo "Per pair, $s / reference: conns/s $(ratios "$s" cps | paste -sd, | sed 's/,/, /g'); CPU per connection $(ratios "$s" cpu_us | paste -sd, | sed 's/,/, /g')."
	echo
done
cat <<TGT
## Against the targets

Judged on the median of the per-pair ratios (each pair ran back to back,
so slow drifts of the machine cancel out) and on the median p99s.

| target | server | measured | met |
|---|---|---|---|
TGT
for s in $servers; do
	[ "$s" = reference ] && continue
	echo "| conns/s ≥ 0.95× the reference | $s | ${M[$s.cps_r]}× (pairs: ${M[$s.cps_rr]}) | ${M[$s.ok_cps]} |"
	echo "| CPU per connection ≤ 1.10× the reference | $s | ${M[$s.cpu_r]}× (pairs: ${M[$s.cpu_rr]}); ${M[$s.cpu_us]} against ${M[reference.cpu_us]} µs | ${M[$s.ok_cpu]} |"
	echo "| p99 no worse than the reference's | $s | ${M[$s.p99_us]} against ${M[reference.p99_us]} µs | ${M[$s.ok_p99]} |"
done
echo

# The prose: stated from the same numbers.
for s in $servers; do
	[ "$s" = reference ] && continue
	awk -v s="$s" -v r="${M[$s.cps_r]}" -v c="${M[$s.cpu_r]}" \
	    -v p="${M[$s.p99_us]}" -v q="${M[reference.p99_us]}" \
	    -v cp="${M[$s.cpu_us]}" -v cq="${M[reference.cpu_us]}" \
	    -v bp="${M[$s.cpu0_us]}" -v bq="${M[reference.cpu0_us]}" \
	    -v sp="${M[$s.ctxsw]}" -v sq="${M[reference.ctxsw]}" 'BEGIN {
	printf "**%s** served %.2f× the reference'\''s connections per second ", s, r
	printf "and spent %.2f× its CPU per connection (%+.1f µs: %.1f against %.1f µs). ", c, cp - cq, cp, cq
	if (p <= q) printf "Its p99 was no worse (%d against %d µs). ", p, q
	else printf "Its p99 was %.2f× the reference'\''s (%d against %d µs). ", p / q, p, q
	printf "Counted as the busy time of the servers'\'' CPU, %.2f× (%.1f against %.1f µs). ", bp / bq, bp, bq
	printf "Its processes switched context %.2f times per connection, the reference %.2f times.\n\n", sp, sq
	}'
done
if has preforkd-before; then
	awk -v a="${M[preforkd.cpu_us]}" -v b="${M[preforkd-before.cpu_us]}" \
	    -v ra="${M[preforkd.cpu_r]}" -v rb="${M[preforkd-before.cpu_r]}" \
	    -v ca="${M[preforkd.cps_r]}" -v cb="${M[preforkd-before.cps_r]}" \
	    -v pa="${M[preforkd.p99_us]}" -v pb="${M[preforkd-before.p99_us]}" \
	    -v sa="$(sys preforkd total)" -v sb="$(sys preforkd-before total)" \
	    'BEGIN {
	printf "Before and after: CPU per connection %.1f → %.1f µs (%+.0f %%), ", b, a, (a - b) * 100 / b
	printf "%.2f× → %.2f× the reference'\''s; conns/s %.2f× → %.2f× the reference'\''s; p99 %d → %d µs", rb, ra, cb, ca, pb, pa
	if (sa != "" && sb != "") printf "; system calls per connection %.2f → %.2f", sb, sa
	printf ".\n\n"
	}'
fi

if grep -q '^syscalls ' "$raw"; then
	how="perf stat on the system call tracepoints (the calls in use found with perf trace -s)"
	[ "$tracer" = strace ] && how="strace -c -f"
	cat <<SYS
## System calls per connection

Counted with $how on every process of the server for 2 s under the same
load, outside the measured runs, and divided by the connections accepted
meanwhile (accept4 calls that returned a descriptor). Calls that failed
(an accept4 or recvfrom that would block) are included.

SYS
	hdr="| system call |"; sep="|---|"
	for s in $servers; do hdr="$hdr $s |"; sep="$sep---|"; done
	echo "$hdr"; echo "$sep"
	names=$(grep '^syscalls ' "$raw" | tr ' ' '\n' | grep '=' |
	    cut -d= -f1 | grep -v -e '^server$' -e '^conns$' -e '^total$' |
	    sort -u)
	for k in $names total; do
		line="$k"
		for s in $servers; do
			v=$(sys "$s" "$k"); line="$line ${v:-0}"
		done
		echo "$line"
	done | sort -k2,2gr | awk '{ keep = 0
		for (i = 2; i <= NF; i++) if ($i >= 0.01) keep = 1
		row = "| " ($1 == "total" ? "**total**" : $1) " |"
		for (i = 2; i <= NF; i++)
			row = row " " ($1 == "total" ? "**" $i "**" : $i) " |"
		if ($1 == "total") t = row; else if (keep) print row }
	    END { print t }'
	echo
elif [ "$tracer" = none ]; then
	printf 'No system call count: neither perf trace nor strace could run here.\n\n'
fi

if grep -q '^profile server=' "$raw"; then
	sp=$(grep '^cpushare server=preforkd ' "$raw" | field share)
	ip=$(grep '^cpushare server=preforkd ' "$raw" | field idle)
	sq=$(grep '^cpushare server=reference ' "$raw" | field share)
	iq=$(grep '^cpushare server=reference ' "$raw" | field idle)
	up=$(grep '^userspace server=preforkd ' "$raw" | field user)
	uq=$(grep '^userspace server=reference ' "$raw" | field user)
	cat <<PROF
## Where the CPU goes

\`perf record -a -g\` on CPU 0 (cpu-clock samples) for 3 s under the same
load, outside the measured runs, split by the server's processes
afterwards (sampling the processes themselves would restart the sampling
timer at every switch and over-count the switch). preforkd's processes
took ${sp:-?} % of CPU 0's samples and the idle task ${ip:-?} %; the reference
${sq:-?} % and ${iq:-?} %. In user space (the daemon and libc): ${up:-?} % of
preforkd's samples, ${uq:-?} % of the reference's; the rest is the kernel.

Self time by symbol (\`[k]\` kernel, \`[.]\` user space), as a share of
each server's samples, entries of 1 % and more. A virtual machine's
cpu-clock samples taken with interrupts masked land where they are
unmasked again: \`_raw_spin_unlock_irqrestore\` and \`finish_task_switch\`
stand for the wake-ups and the context switch around them, and the
samples of a user space symbol just after a system call (\`ppoll\`) most
likely for the end of that call.

| preforkd | % | reference | % |
|---|---|---|---|
PROF
	awk '/^profile server=(preforkd|reference) / {
		split($2, a, "="); p = $3; sub(/self=/, "", p)
		$1 = $2 = $3 = ""; s = $0; sub(/^ *sym=/, "", s)
		if (a[2] == "preforkd") { l[++nl] = s; lp[nl] = p }
		else { r[++nr] = s; rp[nr] = p } }
	    END { n = nl > nr ? nl : nr
		for (i = 1; i <= n; i++)
			printf "| %s | %s | %s | %s |\n", (i <= nl ? l[i] : ""),
			    (i <= nl ? lp[i] : ""), (i <= nr ? r[i] : ""),
			    (i <= nr ? rp[i] : "") }' "$raw"
	if grep -q '^inclusive ' "$raw"; then
		cat <<INC

Time inside each system call, in the scheduler and in softirqs (the
loopback's packet processing, run by whoever sends), children included,
as a share of each server's samples; 1 % and more:

| entry | preforkd % | reference % |
|---|---|---|
INC
		for s in $(grep '^inclusive ' "$raw" | field sym | sort -u); do
			a=$(grep "^inclusive server=preforkd .* sym=$s\$" "$raw" |
			    field total | head -n 1)
			b=$(grep "^inclusive server=reference .* sym=$s\$" "$raw" |
			    field total | head -n 1)
			echo "$s ${a:--} ${b:--}"
		done | sort -k2,2gr | awk '($2 != "-" && $2 >= 1) ||
		    ($3 != "-" && $3 >= 1) { printf "| %s | %s | %s |\n", $1, $2, $3 }'
	fi
	echo
elif grep -q '^profile none' "$raw"; then
	printf 'No profile: perf record could not run here.\n\n'
fi

# What remains, from the figures above.
incl() { grep "^inclusive server=$1 .* sym=$2\$" "$raw" | field total |
	head -n 1; }
echo "## What remains"
echo
awk -v cp="${M[preforkd.cpu_us]}" -v cq="${M[reference.cpu_us]}" \
    -v sp="$(sys preforkd total)" -v sq="$(sys reference total)" \
    -v xp="${M[preforkd.ctxsw]}" -v xq="${M[reference.ctxsw]}" \
    -v ip="${M[preforkd.ictxsw]}" \
    -v hp="$(incl preforkd schedule)" -v hq="$(incl reference schedule)" \
    -v pp="$(incl preforkd __x64_sys_ppoll)" \
    -v wq="$(incl reference __x64_sys_epoll_wait)" \
    -v n="$conc" 'BEGIN {
	d = cp - cq
	if (d > 0) printf "preforkd spends %.1f µs more CPU per connection than the reference (%.1f against %.1f). ", d, cp, cq
	else printf "preforkd spends %.1f µs less CPU per connection than the reference (%.1f against %.1f): within this machine'\''s noise, the two cost the same. ", -d, cp, cq
	if (sp != "" && sq != "") {
		printf "It makes %.2f system calls per connection, the reference %.2f", sp, sq
		if (sp - sq < 0.5 && sq - sp < 0.5) printf ": the same work asked of the kernel. "
		else printf ". "
	}
	printf "What differs is when each goes to sleep. A worker serves one connection at a time: having sent the banner, it has nothing else to do, "
	printf "and it sleeps in ppoll() until its client answers while another worker runs. "
	printf "The reference sleeps in epoll_wait() only when none of its %d connections has anything to do. ", n
	printf "Switches per connection: %.2f against %.2f", xp, xq
	if (ip != "") printf " (%.2f of preforkd'\''s involuntary: a woken worker preempting the one on the CPU)", ip
	printf ". "
	if (hp != "" && hq != "") printf "The scheduler took %.1f %% of preforkd'\''s samples against %.1f %% of the reference'\''s", hp, hq
	if (pp != "" && wq != "") printf "; waiting, all told, %.1f %% (ppoll) against %.1f %% (epoll_wait)", pp, wq
	if (hp != "" && hq != "") printf ". "
	printf "That sleep per connection is the price of one connection per process, which is what buys the isolation of a pre-fork server; "
	printf "the rest of both profiles is the kernel'\''s TCP work (accept, send, receive, close), the same for both.\n"
}'
} > "$report"
echo "wrote $report"
