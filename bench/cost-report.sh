#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/cost-report.sh RAW REPORT - turns bench/cost.sh's measurements
# (build/bench/cost-raw.txt) into bench/COST.md.  Every figure and every
# verdict in the text is computed here from RAW; the environment carries
# the run's parameters (COST_PAIRS, COST_SECS, COST_WARM, COST_CONC,
# COST_NSRC, COST_MODES, COST_LABEL, COST_BEFORE_LABEL).  What preforkd
# ran with is read from etc/preforkd.conf, which cost.sh ran as shipped.
set -eu
raw=$1
report=$2
top=$(cd "$(dirname "$0")/.." && pwd)
pairs=${COST_PAIRS:-?}
secs=${COST_SECS:-?}
warm=${COST_WARM:-?}
conc=${COST_CONC:-64}
nsrc=${COST_NSRC:-8}
modes=${COST_MODES:-pinned unpinned}
label=${COST_LABEL:-}
logto=${COST_LOGTO:-stderr}
before_label=${COST_BEFORE_LABEL:-an earlier build}

field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p"; }
med() { grep -v '^-$' | sort -g | awk '{ v[NR] = $1 } END {
	if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
	else printf "%.4g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
	END { if (NR) printf "%s-%s", lo, hi; else print "-" }'; }
# of SERVER MODE KEY: the values of one server's runs in one mode.
of() { grep "^server=$1 mode=$2 " "$raw" | field "$3"; }
median() { of "$1" "$2" "$3" | med; }
# ratios SERVER MODE KEY: per pair, SERVER / reference, one per line.
ratios() {
	awk -v s="$1" -v m="$2" -v k="$3" '/^server=/ {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		if (f["mode"] != m) next
		if (f["server"] == s) a[f["pair"]] = f[k]
		if (f["server"] == "reference") b[f["pair"]] = f[k] }
	    END { for (p in a) if ((p in b) && b[p] > 0)
		printf "%d %.3f\n", p, a[p] / b[p] }' "$raw" | sort -n |
	    cut -d' ' -f2
}
yesno() { awk "BEGIN { print ($1) ? \"yes\" : \"no\" }"; }
has() { grep -q "^server=$1 " "$raw"; }
# conf GROUP KEY: a value from the shipped configuration.
conf() { sed -n "/^$1 = {/,/^};/s/^[[:space:]]*$2 = \"*\([^\";]*\)\"*;.*/\1/p" \
	"$top/etc/preforkd.conf" | head -n 1; }

servers="preforkd"
has preforkd-before && servers="$servers preforkd-before"
has preforkd-ps0 && servers="$servers preforkd-ps0"
servers="$servers reference"
run_modes=
for m in $modes; do grep -q "^server=[^ ]* mode=$m " "$raw" &&
	run_modes="$run_modes $m"; done
run_modes=${run_modes# }
# What each is, in the tables' prose.
declare -A NAME=([preforkd]="preforkd as shipped"
    [preforkd-before]="preforkd-before as shipped"
    [preforkd-ps0]="preforkd with per_source = 0")

# Per server and mode: medians and, against the reference, ratios and
# verdicts.
declare -A M
for m in $run_modes; do
	for s in $servers; do
		for k in cps p50_us p99_us cpu_us cpu0_us ctxsw ictxsw; do
			M[$s.$m.$k]=$(median "$s" "$m" "$k")
		done
		M[$s.$m.errors]=$(of "$s" "$m" errors |
		    awk '{ s += $1 } END { print s + 0 }')
	done
	for s in $servers; do
		[ "$s" = reference ] && continue
		M[$s.$m.cps_r]=$(ratios "$s" "$m" cps | med)
		M[$s.$m.cps_rr]=$(ratios "$s" "$m" cps | range)
		M[$s.$m.cpu_r]=$(ratios "$s" "$m" cpu_us | med)
		M[$s.$m.cpu_rr]=$(ratios "$s" "$m" cpu_us | range)
		M[$s.$m.ok_cps]=$(yesno "\"${M[$s.$m.cps_r]}\" != \"-\" && ${M[$s.$m.cps_r]} >= 0.95")
		M[$s.$m.ok_cpu]=$(yesno "\"${M[$s.$m.cpu_r]}\" != \"-\" && ${M[$s.$m.cpu_r]} <= 1.10")
		M[$s.$m.ok_p99]=$(yesno "${M[$s.$m.p99_us]} <= ${M[reference.$m.p99_us]}")
	done
done
tracer=$(sed -n 's/^tracer //p' "$raw")
sys() { grep "^syscalls server=$1 " "$raw" | field "$2"; }
pmin=$(conf pool min); pmax=$(conf pool max)
psrc=$(conf limits per_source); plevel=$(conf log level)

{
cat <<HEAD
# Cost per connection: preforkd as shipped against the single-process reference

Produced by \`bench/cost.sh $pairs\`$(has preforkd-before && echo " (and a second binary as COST_BEFORE)") on $(date -u +%Y-%m-%d): $(nproc --all) CPUs
($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)), Linux $(uname -r),
$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo).${label:+ preforkd: $label.} Every figure and verdict
below is computed from that run by \`bench/cost-report.sh\`.

The greeting protocol, $conc closed-loop clients (\`bench/loadgen.c\`, one
thread) from $nsrc addresses, 127.0.0.1 and up, $((conc / nsrc)) clients each.
**preforkd**: the defaults, as \`etc/preforkd.conf\` ships them, the port
alone changed: a dynamic pool of ${pmin:-?} to ${pmax:-?} workers, \`per_source = ${psrc:-?}\`
(each address has at most $((conc / nsrc)) connections in service: all admitted, each
admission counting the others), log level ${plevel:-?}: a line per connection,
within the greeting's budget of lines a second (1000 per worker, 200 per
address).
HEAD
if [ "$logto" = syslog ]; then cat <<SYSLOG
The lines go to syslog, as shipped: one \`sendmsg()\` datagram each to a
/dev/log of the daemon's own (a mount namespace), read and counted by
\`bench/devlog.c\`, as journald or rsyslog would read them; the reader's
CPU is not counted as the daemon's (journald's would not be either).
SYSLOG
else cat <<STDERR
The lines go to stderr (\`-e\`) into a file, not to syslog (that needs
root here, for a mount namespace with a /dev/log of its own): one
\`writev()\` a line where syslog would take one \`sendmsg()\` datagram.
STDERR
fi
has preforkd-ps0 && cat <<PS0
**preforkd-ps0**: the same binary and configuration but \`per_source = 0\`
(no limit): what the limit costs.
PS0
has preforkd-before && cat <<BEFORE
**preforkd-before**: the shipped configuration too, $before_label, measured
in the same pairs: the changes' before and after in one run.
BEFORE
cat <<SETUP
**reference**: \`bench/reference.c\`, one process, one epoll loop, no
logging.

$pairs interleaved pairs (the order alternates), each run ${secs} s measured
after ${warm} s of warm-up, in each of these modes: **pinned**, the servers on
CPU 0 and the load generator on CPU 1; **unpinned**, every process free to
run on either CPU.

**CPU per connection** is the CPU time of the server's own processes
(preforkd: the master and every worker) over the measured window, divided
by the connections served in it. It is utime + stime, read as the run
time in nanoseconds of every thread that the kernel splits into the two
(\`/proc/PID/task/TID/schedstat\`, first field; \`/proc/PID/stat\` gives the
same sum in 10 ms ticks), plus the master's cutime + cstime for workers
reaped meanwhile. "CPU 0 busy" (pinned only) is the busy time of the
servers' whole CPU from /proc/stat (user, system, interrupts, softirqs and
steal, whoever ran), for comparison. Context switches are the servers'
voluntary and involuntary ones (/proc/PID/task/TID/status), the
involuntary shown apart.

## Against the targets

Judged on the median of the per-pair ratios (each pair ran back to back,
so slow drifts of the machine cancel out) and on the median p99s. The
shipped defaults first.

| target | mode | server | measured | met |
|---|---|---|---|---|
SETUP
for s in $servers; do
	[ "$s" = reference ] && continue
	for m in $run_modes; do
		echo "| CPU per connection ≤ 1.10× the reference | $m | $s | ${M[$s.$m.cpu_r]}× (pairs: ${M[$s.$m.cpu_rr]}); ${M[$s.$m.cpu_us]} against ${M[reference.$m.cpu_us]} µs | ${M[$s.$m.ok_cpu]} |"
		echo "| conns/s ≥ 0.95× the reference | $m | $s | ${M[$s.$m.cps_r]}× (pairs: ${M[$s.$m.cps_rr]}) | ${M[$s.$m.ok_cps]} |"
		echo "| p99 no worse than the reference's | $m | $s | ${M[$s.$m.p99_us]} against ${M[reference.$m.p99_us]} µs | ${M[$s.$m.ok_p99]} |"
	done
done
echo

# The prose: stated from the same numbers.
for s in $servers; do
	[ "$s" = reference ] && continue
	for m in $run_modes; do
	awk -v s="${NAME[$s]}" -v m="$m" -v r="${M[$s.$m.cps_r]}" \
	    -v c="${M[$s.$m.cpu_r]}" \
	    -v p="${M[$s.$m.p99_us]}" -v q="${M[reference.$m.p99_us]}" \
	    -v cp="${M[$s.$m.cpu_us]}" -v cq="${M[reference.$m.cpu_us]}" \
	    -v bp="${M[$s.$m.cpu0_us]}" -v bq="${M[reference.$m.cpu0_us]}" \
	    -v sp="${M[$s.$m.ctxsw]}" -v sq="${M[reference.$m.ctxsw]}" \
	    -v e="${M[$s.$m.errors]}" 'BEGIN {
	printf "**%s**, %s: %.2f× the reference'\''s connections per second ", s, m, r
	printf "and %.2f× its CPU per connection (%+.1f µs: %.1f against %.1f µs). ", c, cp - cq, cp, cq
	if (p <= q) printf "Its p99 was no worse (%d against %d µs). ", p, q
	else printf "Its p99 was %.2f× the reference'\''s (%d against %d µs). ", p / q, p, q
	if (bp != "-" && bq != "-" && bq > 0)
		printf "Counted as the busy time of the servers'\'' CPU, %.2f× (%.1f against %.1f µs). ", bp / bq, bp, bq
	printf "Its processes switched context %.2f times per connection, the reference %.2f times", sp, sq
	if (e > 0) printf "; %d connections failed (all runs together)", e
	printf ".\n\n"
	}'
	done
done
for m in $run_modes; do
	if has preforkd-ps0; then
		awk -v m="$m" -v a="${M[preforkd.$m.cpu_us]}" \
		    -v b="${M[preforkd-ps0.$m.cpu_us]}" \
		    -v ra="${M[preforkd.$m.cpu_r]}" \
		    -v rb="${M[preforkd-ps0.$m.cpu_r]}" 'BEGIN {
		printf "The per-source limit, %s: %.2f× the reference'\''s CPU with it, %.2f× without (medians: %.1f against %.1f µs per connection)", m, ra, rb, a, b
		if (ra < rb) printf ": without the limit costing more than with it is this run'\''s noise, a difference of this size is not resolved"
		printf ".\n\n" }'
	fi
	if has preforkd-before; then
		awk -v m="$m" -v a="${M[preforkd.$m.cpu_us]}" \
		    -v b="${M[preforkd-before.$m.cpu_us]}" \
		    -v ra="${M[preforkd.$m.cpu_r]}" \
		    -v rb="${M[preforkd-before.$m.cpu_r]}" \
		    -v ca="${M[preforkd.$m.cps_r]}" \
		    -v cb="${M[preforkd-before.$m.cps_r]}" \
		    -v pa="${M[preforkd.$m.p99_us]}" \
		    -v pb="${M[preforkd-before.$m.p99_us]}" \
		    -v sa="$(sys preforkd total)" \
		    -v sb="$(sys preforkd-before total)" 'BEGIN {
		printf "Before and after, %s: CPU per connection %.1f → %.1f µs (%+.0f %%), ", m, b, a, (a - b) * 100 / b
		printf "%.2f× → %.2f× the reference'\''s; conns/s %.2f× → %.2f× the reference'\''s; p99 %d → %d µs", rb, ra, cb, ca, pb, pa
		if (sa != "" && sb != "") printf "; system calls per connection %.2f → %.2f", sb, sa
		printf ".\n\n" }'
	fi
done

for m in $run_modes; do
	cat <<RUNS
## Runs, $m

| pair | server | conns/s | p50 µs | p99 µs | CPU µs/conn | CPU 0 busy µs/conn | switches/conn | of which involuntary | errors |
|---|---|---|---|---|---|---|---|---|---|
RUNS
	grep "^server=[^ ]* mode=$m " "$raw" | sort -t= -k4,4n -s | awk '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		mark = crowded(f["cpu_us"], f["cpu0_us"]) ? " †" : ""
		printf "| %s | %s | %s | %s | %s | %s | %s%s | %s | %s | %s |\n",
		    f["pair"], f["server"], f["cps"], f["p50_us"], f["p99_us"],
		    f["cpu_us"], f["cpu0_us"], mark, f["ctxsw"], f["ictxsw"],
		    f["errors"] }
	    function crowded(own, all) { return all != "-" && all - own > 0.25 * own }'
	for s in $servers; do
		echo "| median | $s | ${M[$s.$m.cps]} | ${M[$s.$m.p50_us]} | ${M[$s.$m.p99_us]} | ${M[$s.$m.cpu_us]} | ${M[$s.$m.cpu0_us]} | ${M[$s.$m.ctxsw]} | ${M[$s.$m.ictxsw]} | ${M[$s.$m.errors]} (sum) |"
	done
	echo
	crowded=$(grep "^server=[^ ]* mode=$m " "$raw" | awk '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		n++; if (f["cpu0_us"] != "-" && f["cpu0_us"] - f["cpu_us"] > 0.25 * f["cpu_us"]) c++ }
	    END { printf "%d %d", c, n }')
	if [ "${crowded% *}" -gt 0 ]; then
		echo "† ${crowded% *} of ${crowded#* } runs shared CPU 0 with other work: its busy time exceeded the server's own CPU time by more than a quarter (softirqs alone account for a few µs per connection). Such runs are noisier; they are counted like the others."
		echo
	fi
	for s in $servers; do
		[ "$s" = reference ] && continue
		echo "Per pair, $s / reference: conns/s $(ratios "$s" "$m" cps | paste -sd, | sed 's/,/, /g'); CPU per connection $(ratios "$s" "$m" cpu_us | paste -sd, | sed 's/,/, /g')."
		echo
	done
done

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
# The log's system call: writev() to a file, sendmsg() to syslog, or
# sendmmsg() for the lines a worker sends several at a time.
logcall=writev
[ "$logto" = syslog ] && logcall=sendmsg
[ -n "$(sys preforkd sendmmsg)" ] && logcall=sendmmsg
echo "## What remains"
echo
awk -v cp="${M[preforkd.pinned.cpu_us]}" -v cq="${M[reference.pinned.cpu_us]}" \
    -v sp="$(sys preforkd total)" -v sq="$(sys reference total)" \
    -v xp="${M[preforkd.pinned.ctxsw]}" -v xq="${M[reference.pinned.ctxsw]}" \
    -v ip="${M[preforkd.pinned.ictxsw]}" \
    -v hp="$(incl preforkd schedule)" -v hq="$(incl reference schedule)" \
    -v pp="$(incl preforkd __x64_sys_ppoll)" \
    -v wq="$(incl reference __x64_sys_epoll_wait)" \
    -v lw="$(sys preforkd $logcall)" -v lp="$(incl preforkd __x64_sys_$logcall)" \
    -v lc="$logcall" \
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
	if (hp != "" && hq != "") printf "The scheduler took %.1f %% of preforkd'\''s samples against %.1f %% of the reference'\''s. ", hp, hq
	if (pp != "" && wq != "") printf "Waiting, all told (the system call with the switch away and back), took %.1f %% of preforkd'\''s samples (ppoll) against %.1f %% of the reference'\''s (epoll_wait). ", pp, wq
	printf "That sleep per connection is the price of one connection per process, which is what buys the isolation of a pre-fork server; "
	printf "the rest of both profiles is the kernel'\''s TCP work (accept, send, receive, close), the same for both"
	if (lw != "") {
		if (lc == "sendmmsg") printf ", and preforkd'\''s log: %.2f sendmmsg() per connection (up to 8 lines each)", lw
		else printf ", and preforkd'\''s log: %.2f lines written (%s()) per connection", lw, lc
		if (lp != "") printf ", %.1f %% of its samples", lp
	}
	printf ".\n"
}'
} > "$report"
echo "wrote $report"
