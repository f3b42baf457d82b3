#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/overload-report.sh RAW RESULTS - turns bench/overload.sh's raw
# lines (build/bench/overload/raw.txt) into the "Overload" section of
# RESULTS.md (bench/RESULTS.md): tables, and text whose every figure and
# verdict comes from RAW.  The section sits between two marker comments;
# it replaces the previous one, or is appended.  bench/report.sh keeps it
# when it rewrites the rest of the file.
set -eu
raw=$1 results=$2
begin='<!-- overload.sh: begin -->'
end='<!-- overload.sh: end -->'

# value KEY: the value of KEY=... in each line of stdin
value() { sed -n "s/.*\(^\| \)$1=\([^ ]*\).*/\2/p"; }
lines() { grep -E "^scenario=$1 server=$2 " "$raw" | grep -E "${3:-.}" || true; }
med() {
	sort -n | awk '{ v[NR] = $1 }
	    END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'
}
param() { sed -n 's/^params //p' "$raw" | value "$1"; }
calc() { awk "BEGIN { $1 }" </dev/null; }
num() { [ -n "$1" ] && [ "$1" != "-" ]; }

machine=$(grep '^machine ' "$raw" || true)
m() { echo "$machine" | value "$1" | tr '_' ' '; }
tmo_ms=$(calc "print $(param probe_tmo) * 1000")
fixed=$(lines fast 'preforkd-w[0-9]+' | value server | sort -t w -k 2 -n -u)
unsupported=$(grep '^unsupported server=preforkd-default ' "$raw" | value reason | tr '_' ' ' || true)

# ms VALUE: a probe figure; at the timeout it means "no answer".
ms() {
	if ! num "$1"; then echo "-"
	else calc "v = $1; if (v >= $tmo_ms) print \"≥ $tmo_ms\"; else printf \"%.1f\", v"; fi
}
verdict() {
	v=$(calc "print ($1) ? \"met\" : \"missed\"" 2>/dev/null || true)
	echo "${v:-not measured}"
}
# ratio A B [FORMAT]: A / B, or "-" when either is missing or B is 0.
ratio() {
	if num "$1" && num "$2" && calc "exit !($2 != 0)"; then
		calc "printf \"${3:-%.2f}\", $1 / $2"
	else
		echo "-"
	fi
}

# wrap: joins the lines of each paragraph and wraps them at 76 columns.
wrap() {
	awk 'function flush(   n, i, w, line) {
		if (buf == "") return
		n = split(buf, w, " "); line = ""
		for (i = 1; i <= n; i++)
			if (line != "" && length(line) + 1 + length(w[i]) > 76) {
				print line; line = w[i]
			} else
				line = line == "" ? w[i] : line " " w[i]
		print line; buf = ""
	}
	/^$/ { flush(); print ""; next }
	{ buf = buf " " $0 }
	END { flush() }'
}

fast_med() { lines fast "$1" | value "$2" | med; }

section() {
echo "$begin"
echo "## Overload: fast clients, slowloris, and the pool"
echo
cat <<HEAD | wrap
Produced by \`bench/overload.sh\` on $(m date): $(m cpus) CPUs
($(m model)), Linux $(m kernel), $(m mem_gib) GiB; the preforkd under test
says \`$(m preforkd)\` ($(m label)); the load average was $(m loadavg) when
the run began and $(sed -n 's/^elapsed //p' "$raw" | value loadavg) when it ended (anything above
about 1 is other work on the machine, and the figures move with it). Servers are pinned to CPU 0 and every client to CPU 1, over
loopback. Apache is 2.4 prefork + mod_echo with
Debian's defaults (Timeout 300, mod_reqtimeout, 5..10 spare children, up to
150). The text below is generated from this run's figures
(\`build/bench/overload/raw.txt\`, rewritten by
\`bench/overload-report.sh\`).
HEAD
echo
if [ -n "$unsupported" ]; then
	printf '**The default (dynamic) pool is not supported by this build**: `preforkd -t` rejects a file with the `pool` and `limits` keys (%s). Its rows are missing, and the targets that concern it are not measured in this run.\n\n' "$unsupported" | wrap
fi

# --- fast ---------------------------------------------------------------
cat <<FAST
### Fast clients: 64 closed-loop greeting clients

From 64 addresses (127.0.1.1..64), one client each, so that a per-source
limit sees 64 clients. Each row: medians of $(param rounds) interleaved rounds of $(param fast_secs) s after
$(param fast_warm) s of warm-up. CPU is utime + stime of the server's own processes
(master, workers, and the workers it reaped) per connection.

| server | conns/s | p99 µs | CPU µs/conn | errors | workers at the end |
|---|---|---|---|---|---|
FAST
best= bcps=0
for s in preforkd-default $fixed; do
	[ -n "$(lines fast "$s")" ] || continue
	cps=$(fast_med "$s" cps)
	printf '| %s | %s | %s | %s | %s | %s |\n' "$s" "$cps" \
	    "$(fast_med "$s" p99_us)" "$(fast_med "$s" cpu_us)" \
	    "$(lines fast "$s" | value errors | awk '{ s += $1 } END { print s + 0 }')" \
	    "$(fast_med "$s" workers_after)"
	case $s in preforkd-w*)
		if calc "exit !($cps > $bcps)"; then best=$s bcps=$cps; fi ;;
	esac
done
echo
{
if [ -n "$(lines fast preforkd-default)" ] && [ -n "$best" ]; then
	dc=$(fast_med preforkd-default cps) dp=$(fast_med preforkd-default p99_us)
	du=$(fast_med preforkd-default cpu_us)
	bp=$(fast_med "$best" p99_us) bu=$(fast_med "$best" cpu_us)
	rc=$(ratio "$dc" "$bcps")
	rp=$(ratio "$dp" "$bp")
	ru=$(ratio "$du" "$bu")
	echo "**(a)** The best fixed pool for this load was ${best#preforkd-w} workers"
	echo "($bcps conns/s). The default pool served ${rc}× its connections per"
	echo "second (target ≥ 0.90×: $(verdict "$rc >= 0.9")) with ${rp}× its p99 ($dp against"
	echo "$bp µs; target ≤ 1.5×: $(verdict "$rp <= 1.5")), at ${ru}× its CPU per connection."
elif [ -n "$best" ]; then
	echo "**(a)** not measured: no default (dynamic) pool in this build. The best"
	echo "fixed pool for this load was ${best#preforkd-w} workers ($bcps conns/s)."
fi
if [ -n "$(lines fast preforkd-w4)" ] && [ -n "$(lines fast preforkd-w64)" ]; then
	echo "Against 4 workers, 64 workers served"
	echo "$(ratio "$(fast_med preforkd-w64 cps)" "$(fast_med preforkd-w4 cps)")× the"
	echo "connections per second with $(ratio "$(fast_med preforkd-w64 p99_us)" "$(fast_med preforkd-w4 p99_us)")× the p99 and"
	echo "$(ratio "$(fast_med preforkd-w64 cpu_us)" "$(fast_med preforkd-w4 cpu_us)")× the CPU per connection."
fi
} | wrap
echo

# --- attacks --------------------------------------------------------------
att() {	# scenario server sent key
	lines "$1" "$2" " sent=$3 phase=attack" | head -n 1 | value "$4"
}
base() { lines single "$1" " sent=$2 phase=baseline" | head -n 1 | value "$3"; }
svc() { case $1 in *-echo|apache-*) echo echo ;; *) echo greeting ;; esac; }
sent_text() { [ "$1" = 0 ] && echo "nothing" || echo "$1 byte"; }
targets=$(grep -E '^scenario=(distributed|single) .* phase=attack ' "$raw" |
    sed 's/^scenario=[^ ]* server=\([^ ]*\) sent=\([^ ]*\) .*/\1:\2/' |
    awk '!seen[$0]++')

cat <<DIST
### Distributed slowloris: 60 connections from 30 addresses

$(param dist_secs) s of probes after $(param ramp) s of attack alone. The attack: 60
connections from 127.0.0.2..31 (two each), each opened again as soon as the
server closes it, plus $(param fast_clients) closed-loop clients from 127.0.0.64. The probe:
a new connection from 127.0.0.1 every $(param probe_ms) ms, timed to the first byte of
the reply (greeting: the banner; echo: the echo of a line it sends at
once); none within $(param probe_tmo) s, or a close before it, is a failure and counts
as $(param probe_tmo) s in the percentiles. The probe has more than 8 connections open
(a per-source limit's default) only when each waits over $((8 * $(param probe_ms))) ms. Peak
workers: the master's children, sampled every 0.5 s.

| server | service | attackers send | probes failed | p50 ms | p99 ms | max ms | fast clients conns/s | peak workers |
|---|---|---|---|---|---|---|---|---|
DIST
for t in $targets; do
	s=${t%:*} b=${t#*:}
	[ -n "$(att distributed "$s" "$b" probes)" ] || continue
	printf '| %s | %s | %s | %s of %s | %s | %s | %s | %s | %s |\n' "$s" \
	    "$(svc "$s")" "$(sent_text "$b")" "$(att distributed "$s" "$b" failed)" \
	    "$(att distributed "$s" "$b" probes)" \
	    "$(ms "$(att distributed "$s" "$b" p50_ms)")" \
	    "$(ms "$(att distributed "$s" "$b" p99_ms)")" \
	    "$(ms "$(att distributed "$s" "$b" max_ms)")" \
	    "$(att distributed "$s" "$b" fast_cps)" \
	    "$(att distributed "$s" "$b" peak_workers)"
done
echo
{
p=$(att distributed preforkd-default 0 p99_ms)
if num "$p"; then
	echo "**(b)** With the default pool a fresh greeting client got its banner"
	echo "within $(ms "$p") ms at p99 (target ≤ 200 ms: $(verdict "$p <= 200")),"
	echo "$(att distributed preforkd-default 0 failed) of $(att distributed preforkd-default 0 probes) probes failing, the pool peaking at"
	echo "$(att distributed preforkd-default 0 peak_workers) workers."
else
	echo "**(b)** not measured: no default (dynamic) pool in this build."
fi
f=$(att distributed preforkd-w4 0 failed)
if num "$f"; then
	n=$(att distributed preforkd-w4 0 probes)
	echo "With a fixed pool of 4 workers, $f of $n probes"
	echo "($(ratio "$((100 * f))" "$n" %.0f) %) got no banner within $(param probe_tmo) s; the median probe"
	echo "waited $(ms "$(att distributed preforkd-w4 0 p50_ms)") ms and the fast clients completed"
	echo "$(att distributed preforkd-w4 0 fast_cps) connections per second."
fi
a0=$(att distributed apache-prefork 0 peak_workers)
if num "$a0"; then
	echo "Apache prefork, silent attackers: p99 $(ms "$(att distributed apache-prefork 0 p99_ms)") ms,"
	echo "$(att distributed apache-prefork 0 failed) failed, at most $a0 children."
	if calc "exit !($a0 < $(att distributed apache-prefork 0 attack))"; then
		echo "Fewer children than silent connections: they were not being"
		echo "served. On Linux Apache defers accept (TCP_DEFER_ACCEPT, its"
		echo "default AcceptFilter) until a client sends data."
	fi
fi
a1=$(att distributed apache-prefork 1 peak_workers)
if num "$a1"; then
	echo "With one byte from each attacker: p99 $(ms "$(att distributed apache-prefork 1 p99_ms)") ms,"
	echo "$(att distributed apache-prefork 1 failed) failed, $a1 children at the peak."
fi
} | wrap
echo
for s in preforkd-default preforkd-default-echo; do
	rec=$(lines recovery "$s" " after=distributed ")
	[ -n "$rec" ] || continue
	pk=$(echo "$rec" | value peak_workers) n=$(echo "$rec" | value workers)
	secs=$(echo "$rec" | value secs) ok=$(echo "$rec" | value settled)
	bound=$(echo "$rec" | value bound) lim=$(param settled)
	if [ "$ok" = yes ] && calc "exit !($pk <= $lim)"; then
		echo "**(c)** $s: never above $lim workers (peak $pk): nothing to shrink (target ≤ 30 s: met)."
	elif [ "$ok" = yes ]; then
		echo "**(c)** $s: back to $n workers (≤ $lim: pool.min + pool.idle_max) ${secs} s after the attack, from a peak of $pk (target ≤ 30 s: $(verdict "$secs <= 30"))."
	else
		echo "**(c)** $s: still $n workers (above $lim) $bound s after the attack, from a peak of $pk (target ≤ 30 s: missed)."
	fi
	echo
done | wrap
[ -n "$(lines recovery preforkd-default)" ] || {
	echo "**(c)** not measured: no default (dynamic) pool in this build."
	echo
}

cat <<SINGLE
### Single-source slowloris: 500 connections from 127.0.0.2

The same probe, first $(param base_secs) s alone (baseline), then $(param single_secs) s after $(param ramp) s of
attack, on the same server. Added delay: p99 under attack minus p99 alone.
Closed by the server: how many attack connections per second the server
ended (and the attacker opened again).

| server | service | attackers send | p99 alone ms | p99 under attack ms | added delay ms | probes failed | closed by the server /s | peak workers |
|---|---|---|---|---|---|---|---|---|
SINGLE
for t in $targets; do
	s=${t%:*} b=${t#*:}
	pa=$(att single "$s" "$b" p99_ms)
	num "$pa" || continue
	pb=$(base "$s" "$b" p99_ms)
	if num "$pb"; then
		add=$(calc "printf \"%.1f\", $pa - $pb")
		calc "exit !($pa >= $tmo_ms)" && add="≥ $add"
	else
		add=-
	fi
	printf '| %s | %s | %s | %s | %s | %s | %s of %s | %s | %s |\n' "$s" \
	    "$(svc "$s")" "$(sent_text "$b")" "$(ms "$pb")" "$(ms "$pa")" \
	    "$add" "$(att single "$s" "$b" failed)" \
	    "$(att single "$s" "$b" probes)" \
	    "$(ratio "$(att single "$s" "$b" reopens)" "$(att single "$s" "$b" secs)" %.0f)" \
	    "$(att single "$s" "$b" peak_workers)"
done
echo
{
pa=$(att single preforkd-default 0 p99_ms)
pb=$(base preforkd-default 0 p99_ms)
if num "$pa" && num "$pb"; then
	d=$(calc "printf \"%.1f\", $pa - $pb")
	echo "**Per-source limit:** 500 silent connections from one address added"
	echo "$d ms to the p99 of a client from another (target ≤ 100 ms:"
	echo "$(verdict "$d <= 100")), with $(att single preforkd-default 0 failed) of $(att single preforkd-default 0 probes) probes failing."
else
	echo "**Per-source limit:** not measured: no default (dynamic) pool in this build."
fi
pa=$(att single preforkd-w4 0 p99_ms) pb=$(base preforkd-w4 0 p99_ms)
if num "$pa" && num "$pb"; then
	f=$(att single preforkd-w4 0 failed) n=$(att single preforkd-w4 0 probes)
	echo "A fixed pool of 4 workers: $f of $n probes"
	echo "($(ratio "$((100 * f))" "$n" %.0f) %) failed, p99 $(ms "$pa") ms against $(ms "$pb") ms alone."
fi
for b in 0 1; do
	pa=$(att single apache-prefork $b p99_ms) pb=$(base apache-prefork $b p99_ms)
	num "$pa" && num "$pb" || continue
	echo "Apache prefork, attackers sending $(sent_text $b):"
	echo "$(att single apache-prefork $b failed) of $(att single apache-prefork $b probes) probes failed, p99 $(ms "$pa") ms against"
	echo "$(ms "$pb") ms alone, $(att single apache-prefork $b peak_workers) children at the peak."
done
} | wrap
echo
notes=$(sed -n 's/^note //p' "$raw")
if [ -n "$notes" ]; then
	echo "Notes from the run:"
	echo
	echo "$notes" | sed 's/^/- /'
	echo
fi
echo "The run took $(sed -n 's/^elapsed //p' "$raw" | value secs) s."
echo "$end"
}

section > "$raw.md"
if [ -f "$results" ] && grep -qF "$begin" "$results"; then
	awk -v b="$begin" -v e="$end" -v f="$raw.md" '
	    $0 == b { while ((getline l < f) > 0) print l; skip = 1; next }
	    $0 == e { skip = 0; next }
	    !skip' "$results" > "$results.tmp"
else
	{ [ -f "$results" ] && { cat "$results"; echo; }; cat "$raw.md"; } \
	    > "$results.tmp"
fi
mv "$results.tmp" "$results"
echo "wrote $results"
