#!/bin/sh
# SPDX-License-Identifier: ISC
# scaleout.sh BUILDDIR [SRCDIR] - three preforkd hosts behind HAProxy,
# under continuous load: a rolling restart, a rolling reload, a host
# killed, a host overloaded.
#
# Four network namespaces, made here and removed on exit: "lb" holds
# HAProxy and the load generator, with the client address 10.99.0.1 on
# its loopback (HAProxy listens there, the load comes from there);
# h1..h3 each run the built preforkd at 10.77.N.2, linked to lb by a
# veth pair whose lb end, 10.77.N.1, is the address HAProxy connects
# from.  No packet leaves the machine.  HAProxy (tests/haproxy/
# haproxy.cfg) balances plain TCP over the three with the PROXY protocol
# v2 and preforkd's agent check; each host runs tests/haproxy/
# preforkd.conf.  tests/loadgen runs a closed loop of greeting exchanges
# through HAProxy during each phase; a failed connection is one that did
# not complete the exchange.
#
#   restart   each host in turn: SIGTERM with timeouts.drain, wait for
#             its exit, start it again, wait until HAProxy has it up:
#             0 failed, and every host logs the clients' address
#   reload    SIGHUP to each in turn, waiting for the reload to be
#             committed: 0 failed
#   kill      SIGKILL to h2's master: its workers die with it, HAProxy
#             marks it down, the load goes on on h1 and h3; failed <= the
#             connections h2 had in flight
#   overload  h3's pool held by slow clients connected to it directly:
#             its agent weight drops and HAProxy sends it a small share
#
# One line per check, "ok: ..." or "FAILED: ...", the figures, then
# "scaleout: N passed, N failed".  Exit 0 when all passed, 1 when not,
# 77 (with "SKIP: reason") when namespaces or HAProxy are not available.
#
# Environment: DURATION (whole seconds, default 1) is how long the load runs
# before and after each phase's actions, and the overload's measuring
# window; CONNS (default 12) the load's concurrency; FIGURES a file that
# gets the figures as "key=value" lines; KEEP=1 keeps the scratch
# directory (the hosts' and HAProxy's logs) and says where it is.
set -u
umask 022
exec < /dev/null

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 BUILDDIR [SRCDIR]" >&2
	exit 64
fi
build=$(cd "$1" && pwd) || exit 64
src=$(cd "${2:-$(dirname "$0")/../..}" && pwd) || exit 64
here=$src/tests/haproxy
preforkd=$build/preforkd
loadgen=$build/tests/loadgen
for f in "$preforkd" "$loadgen"; do
	if [ ! -x "$f" ]; then
		echo "$0: no $f (make, then make tests/loadgen)" >&2
		exit 64
	fi
done

duration=${DURATION:-1}
conns=${CONNS:-12}
case $duration$conns in
*[!0-9]*)
	echo "$0: DURATION and CONNS are whole numbers" >&2
	exit 64 ;;
esac
figures=${FIGURES:-}
drain=1.0		# timeouts.drain of each host
pool_max=8		# pool.max of each host (preforkd.conf)
held=$((pool_max + 2))	# slow clients on h3: its pool, and some queued
limit=$((120 + 12 * duration))	# seconds for the whole run
passed=0 failed=0
state= watchdog= t_lap= hapid= loadpid= holdpid=
h1pid= h2pid= h3pid=
sfx=$$
ns_lb=pfso-lb-$sfx
nss="$ns_lb pfso-h1-$sfx pfso-h2-$sfx pfso-h3-$sfx"

. "$src/tests/checks.sh"
# figure KEY VALUE: a figure for the report (and FIGURES).
figure() {
	printf '    %s=%s\n' "$1" "$2"
	[ -n "$figures" ] && printf '%s=%s\n' "$1" "$2" >> "$figures"
	:
}
summary() {
	_t=$(($(now) - t_start))
	echo "scaleout: $passed passed, $failed failed" \
	    "($((_t / 1000)).$((_t % 1000 / 100))s)"
}
abort() {
	fail "$1"
	summary
	exit 1
}
skip() {
	printf 'SKIP: %s\n' "$*"
	exit 77
}

# ---- teardown -----------------------------------------------------------

# stop_pid PID: TERM, then KILL after 5 s; reaped.
stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 50 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	:
}
teardown() {
	trap - EXIT INT TERM HUP ALRM
	if [ -n "$watchdog" ]; then
		kill -TERM "$watchdog" 2>/dev/null
		wait "$watchdog" 2>/dev/null
	fi
	for p in "$loadpid" "$holdpid" "$hapid" "$h1pid" "$h2pid" "$h3pid"
	do
		stop_pid "$p"
	done
	# Whatever is left in our namespaces (workers of a daemon that did
	# not stop) is ours: killed by pid, then the namespaces go.
	for n in $nss; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	done
	for n in $nss; do
		ip netns del "$n" 2>/dev/null
	done
	if [ -n "$state" ] && [ -z "${KEEP:-}" ]; then
		rm -rf "$state"
	elif [ -n "$state" ]; then
		echo "scaleout: logs kept in $state" >&2
	fi
}
trap 'teardown' EXIT
trap 'abort "interrupted"' INT TERM HUP
trap 'abort "time limit: still running after ${limit}s"' ALRM

# ---- what the test needs --------------------------------------------------

command -v ip > /dev/null 2>&1 || skip "no ip (iproute2)"
command -v haproxy > /dev/null 2>&1 || skip "no haproxy"
command -v perl > /dev/null 2>&1 || skip "no perl"
command -v nsenter > /dev/null 2>&1 || skip "no nsenter (util-linux)"
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
if ! err=$(ip netns add "$ns_lb" 2>&1); then
	skip "the kernel refuses network namespaces: $err"
fi
ip netns del "$ns_lb"

state=$(mktemp -d "${TMPDIR:-/tmp}/scaleout.XXXXXX") || abort "mktemp"
chmod 755 "$state"

# A bound on the whole run: a hung step ends in teardown, not in a hang.
(
	trap 'kill $s 2>/dev/null; wait $s; exit 0' TERM
	sleep "$limit" & s=$!
	wait $s && kill -ALRM $$
) 2> /dev/null &
watchdog=$!

# nsx NS COMMAND...: COMMAND in namespace NS (lb, h1, h2, h3).
nsx() {
	_n=$1; shift
	nsenter --net="/run/netns/pfso-$_n-$sfx" "$@"
}
# nsx_bg NS COMMAND... &: the same in the background, as the process
# whose pid $! is: the subshell execs nsenter, which execs COMMAND ("ip
# netns exec" forks and waits, so it would not do).
nsx_bg() {
	_n=$1; shift
	exec nsenter --net="/run/netns/pfso-$_n-$sfx" "$@"
}

# ---- the network --------------------------------------------------------

net() {
	for n in $nss; do
		ip netns add "$n" || return 1
		ip -n "$n" link set lo up || return 1
	done
	# The clients' addresses, on lb's loopback (a dummy interface
	# would do as well, where the kernel has the driver).
	ip -n "$ns_lb" addr add 10.99.0.1/32 dev lo &&
	ip -n "$ns_lb" addr add 10.99.0.2/32 dev lo || return 1
	for i in 1 2 3; do
		ip -n "$ns_lb" link add "h$i" type veth peer name eth0 \
		    netns "pfso-h$i-$sfx" &&
		ip -n "$ns_lb" addr add "10.77.$i.1/24" dev "h$i" &&
		ip -n "$ns_lb" link set "h$i" up &&
		ip -n "pfso-h$i-$sfx" addr add "10.77.$i.2/24" dev eth0 &&
		ip -n "pfso-h$i-$sfx" link set eth0 up || return 1
	done
	# Closed-loop load makes many short connections in lb.
	nsx lb sysctl -q -w net.ipv4.ip_local_port_range="10000 65000" \
	    net.ipv4.tcp_tw_reuse=1 > /dev/null
}
if ! err=$(net 2>&1); then
	printf '%s\n' "$err" | note
	abort "network: namespaces, veth pairs and addresses"
fi
ok "network: namespaces lb, h1, h2, h3 (suffix $sfx); clients 10.99.0.1-2 in lb, hosts 10.77.N.2 behind veth pairs"

# ---- the hosts ----------------------------------------------------------

# log_lines N: lines in host N's log so far (its "from here" mark).
log_lines() {
	if [ -f "$state/h$1.log" ]; then wc -l < "$state/h$1.log"
	else echo 0; fi
}
# wait_log N FROM TIMEOUT_MS TEXT: TEXT in host N's log after line FROM.
wait_log() {
	_d=$(($(now) + $3))
	while :; do
		tail -n "+$(($2 + 1))" "$state/h$1.log" 2>/dev/null |
		    grep -qF -- "$4" && return 0
		[ "$(now)" -lt "$_d" ] || return 1
		sleep 0.1
	done
}
hostpid() {
	eval "echo \${h$1pid}"
}
# start_host N: preforkd in hN, logging to hN.log; ready logged within 10 s.
start_host() {
	_from=$(log_lines "$1")
	nsx_bg "h$1" "$preforkd" -f -e -c "$state/h$1.conf" \
	    >> "$state/h$1.log" 2>&1 &
	eval "h$1pid=$!"
	wait_log "$1" "$_from" 10000 "ready generation="
}
# stop_host N SIGNAL TIMEOUT_MS: the signal, then wait for the exit;
# "said" gets what its agent answered right after the signal, "seen"
# each state HAProxy showed for the host meanwhile.
stop_host() {
	_p=$(hostpid "$1")
	kill "-$2" "$_p" 2>/dev/null
	_d=$(($(now) + $3))
	said=$(agent "$1")
	seen=
	while kill -0 "$_p" 2>/dev/null; do
		[ "$(now)" -lt "$_d" ] || return 1
		_s=$(field "h$1" status)
		case " $seen " in *" ${_s%% *} "*) ;; *) seen="$seen ${_s%% *}" ;; esac
		sleep 0.05
	done
	wait "$_p" 2>/dev/null
	eval "h$1pid="
}
# status N: preforkd -s status of host N; served N: its served count.
status() {
	"$preforkd" -c "$state/h$1.conf" -s status 2>&1
}
served() {
	status "$1" | sed -n 's/^connections: served=\([0-9]*\).*/\1/p'
}
generation() {
	status "$1" | sed -n 's/^generation: \([0-9]*\).*/\1/p'
}

# The hosts' TLS listener's certificate (every host serves the same).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 2 -subj /CN=preforkd-hosts -keyout "$state/tls-key.pem" \
    -out "$state/tls-cert.pem" > /dev/null 2>&1 ||
    abort "tls: openssl cannot make the hosts' certificate"
for i in 1 2 3; do
	sed -e "s|@N@|$i|g" -e "s|@STATE@|$state|g" -e "s|@DRAIN@|$drain|g" \
	    "$here/preforkd.conf" > "$state/h$i.conf"
done
if ! err=$(nsx h1 "$preforkd" -t -c "$state/h1.conf" 2>&1); then
	printf '%s\n' "$err" | note
	abort "configuration: preforkd -t refuses tests/haproxy/preforkd.conf"
fi
bad=
for i in 1 2 3; do
	start_host "$i" || bad="$bad h$i"
done
if [ -n "$bad" ]; then
	for i in 1 2 3; do tail -n 5 "$state/h$i.log" | note; done
	abort "hosts: preforkd did not start in:$bad"
fi
ok "hosts: preforkd ready in h1, h2, h3 (pids $h1pid $h2pid $h3pid)"

# ---- HAProxy ------------------------------------------------------------

sed -e "s|@STATE@|$state|g" "$here/haproxy.cfg" > "$state/haproxy.cfg"
# hastat: HAProxy's "show stat" as CSV.
hastat() {
	perl "$here/tool.pl" cli "$state/haproxy.sock" "show stat" 2>/dev/null
}
# field SERVER NAME [CSV]: one field of one server's row.
field() {
	printf '%s\n' "${3:-$(hastat)}" | awk -F, -v s="$1" -v f="$2" '
	    NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) c[$i] = i }
	    $1 == "preforkd" && $2 == s { print $c[f]; exit }'
}
# wait_status SERVER PATTERN TIMEOUT_MS: its status matches (case).
wait_status() {
	_d=$(($(now) + $3))
	while :; do
		_s=$(field "$1" status)
		case $_s in $2) return 0 ;; esac
		[ "$(now)" -lt "$_d" ] || return 1
		sleep 0.1
	done
}
# stots: "h1 h2 h3" sessions HAProxy has sent each so far.
stots() {
	_csv=$(hastat)
	echo "$(field h1 stot "$_csv") $(field h2 stot "$_csv")" \
	    "$(field h3 stot "$_csv")"
}
# agent N: what host N's agent port answers now.
agent() {
	nsx lb perl "$here/tool.pl" line "10.77.$1.2" 9100 2>&1
}
# servers: each host's state in HAProxy, its weight, its agent's answer.
servers() {
	_csv=$(hastat)
	for _i in 1 2 3; do
		printf 'h%s %s weight=%s agent="%s"; ' "$_i" \
		    "$(field h$_i status "$_csv")" \
		    "$(field h$_i weight "$_csv")" "$(agent $_i)"
	done
	echo
}

nsx_bg lb haproxy -db -f "$state/haproxy.cfg" -p "$state/haproxy.pid" \
    > "$state/haproxy.log" 2>&1 &
hapid=$!
up=
for h in h1 h2 h3; do
	wait_status "$h" 'UP*' 15000 || up="$up $h"
done
if [ -n "$up" ]; then
	tail -n 20 "$state/haproxy.log" | note
	servers | note
	abort "haproxy: not every host up:$up"
fi
hastat > "$state/stat-up.csv"
ok "haproxy: $(haproxy -v | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p') in lb, 10.99.0.1:8000 -> h1 h2 h3 all up: $(servers)"

# ---- the load -----------------------------------------------------------

# load_start NAME: the closed loop through HAProxy, until load_stop.
load_start() {
	t_load=$(now)
	load=$state/load-$1.out
	nsx_bg lb "$loadgen" -h 10.99.0.1 -p 8000 -s 10.99.0.1 -n 1 \
	    -c "$conns" -t 1 -w 0 -d 600 > "$load" 2>&1 &
	loadpid=$!
}
# load_stop: stops it; "done" and "errs" are its counts.
load_stop() {
	kill -TERM "$loadpid" 2>/dev/null
	wait "$loadpid" 2>/dev/null
	loadpid=
	t_end=$(now)
	sleep 0.2	# HAProxy logs the sessions that the stop closed
	done=$(sed -n 's/^RESULT .* conns=\([0-9]*\) .*/\1/p' "$load")
	errs=$(sed -n 's/^RESULT .* errors=\([0-9]*\) .*/\1/p' "$load")
	[ -n "$done" ] && [ -n "$errs" ] && [ "$done" -gt 0 ]
}
hold() {
	sleep "$duration"
}
# share A B: "h1=x% h2=y% h3=z%" of the stot differences from A to B.
share() {
	echo "$1 $2" | awk '{
	    t = 0; for (i = 1; i <= 3; i++) { d[i] = $(i + 3) - $i; t += d[i] }
	    for (i = 1; i <= 3; i++)
		printf "h%d=%.1f%% ", i, t ? 100 * d[i] / t : 0
	    printf "(of %d)\n", t }'
}
# pct N A B: host N's share in percent, as an integer.
pct() {
	echo "$2 $3" | awk -v n="$1" '{
	    t = 0; for (i = 1; i <= 3; i++) { d[i] = $(i + 3) - $i; t += d[i] }
	    printf "%d\n", t ? 100 * d[n] / t : 0 }'
}

# HAProxy logs one line per session (haproxy.cfg's log-format):
#   START(s.ms) preforkd/SERVER STATE TW/TC/TT BYTES RETRIES CLIENT
# sessions T0 T1: per server, sessions that started between T0 and T1
# (ms) and, of them, those that got less than the 28 bytes of the banner
# and its NUL while the client still waited ("short": a failure as the
# client sees it; a client that closed first, state C*, is not one).
sessions() {
	awk -v t0="$1" -v t1="$2" '
	    $1 ~ /^[0-9]+\.[0-9]+$/ && $2 ~ /^preforkd\// &&
	    $1 * 1000 >= t0 && $1 * 1000 <= t1 {
		s = substr($2, 10); n[s]++
		if ($5 < 28 && $3 !~ /^C/) short[s]++
	    }
	    END { for (i = 1; i <= 3; i++)
		printf "%sh%d: %d, %d short", (i > 1 ? "; " : ""), i,
		    n["h" i], short["h" i]; print "" }
	' "$state/haproxy.log"
}
# inflight SERVER T0 T1: its sessions open at some time between T0 and
# T1 (ms): started by T1, not ended before T0.
inflight() {
	awk -v srv="preforkd/$1" -v t0="$2" -v t1="$3" '
	    $1 ~ /^[0-9]+\.[0-9]+$/ && $2 == srv {
		st = $1 * 1000; split($4, t, "/")
		if (st <= t1 && st + t[3] >= t0) n++
	    }
	    END { print n + 0 }' "$state/haproxy.log"
}

# ---- 0. TLS behind HAProxy -----------------------------------------------
# Clients in clear to HAProxy's second frontend, which sends each host the
# PROXY v2 header in clear and then speaks TLS: every host serves, logs
# the client's address (from the header) and the TLS version, and counts
# the handshakes, some of them resumed (HAProxy reuses a host's session).
tls_marks="$(log_lines 1) $(log_lines 2) $(log_lines 3)"
nsx lb "$loadgen" -h 10.99.0.1 -p 8443 -s 10.99.0.1 -n 1 -c 6 -t 1 -w 0 \
    -d 2 > "$state/load-tls.out" 2>&1
tls_done=$(sed -n 's/^RESULT .* conns=\([0-9]*\) .*/\1/p' "$state/load-tls.out")
tls_errs=$(sed -n 's/^RESULT .* errors=\([0-9]*\) .*/\1/p' "$state/load-tls.out")
bad= seen=
for i in 1 2 3; do
	from=$(echo "$tls_marks" | cut -d' ' -f"$i")
	c=$(tail -n "+$((from + 1))" "$state/h$i.log" |
	    grep -c 'message peer=10\.99\.0\.1:.* tls=TLSv1\.3')
	hs=$(status "$i" | sed -n 's/^tls: handshakes=\([0-9]*\) resumed=\([0-9]*\).*/\1 (\2 resumed)/p')
	seen="$seen h$i: $c lines, handshakes $hs;"
	[ "$c" -gt 0 ] || bad="$bad h$i"
done
if [ -n "$tls_done" ] && [ "$tls_done" -gt 0 ] && [ "$tls_errs" = 0 ] &&
    [ -z "$bad" ]; then
	ok "tls: through HAProxy's PROXY v2 and TLS to every host, $tls_done connections, 0 failed; each host logged the client 10.99.0.1 and tls=TLSv1.3:$seen"
else
	fail "tls: $tls_done connections, ${tls_errs:-?} failed; no TLS line from:$bad ($seen)"
	for i in 1 2 3; do tail -n 3 "$state/h$i.log" | note; done
	tail -n 5 "$state/haproxy.log" | note
fi

# ---- 1. rolling restart -------------------------------------------------
# Each host: SIGTERM; the agent says drain and HAProxy stops choosing
# it while it still serves; after timeouts.drain it stops accepting,
# serves what is queued and exits; started again, it must be up in
# HAProxy before the next host goes.
marks="$(log_lines 1) $(log_lines 2) $(log_lines 3)"
load_start restart
hold
why= drained=
for i in 1 2 3; do
	t0=$(now)
	stop_host "$i" TERM 20000 || { why="h$i did not exit"; break; }
	t1=$(now)
	figure "restart_h${i}_stop" "$((t1 - t0)) ms, agent said \"$said\", HAProxy showed:$seen"
	case " $seen " in *" DRAIN "*) drained="$drained h$i" ;; esac
	start_host "$i" || { why="h$i did not start again"; break; }
	wait_status "h$i" 'UP*' 15000 ||
	    { why="HAProxy does not have h$i up again"; break; }
	figure "restart_h${i}_up_again" "$(($(now) - t1)) ms"
done
hold
load_stop || why="${why:-no load result}"
[ -n "$why" ] || [ "$drained" = " h1 h2 h3" ] ||
    why="HAProxy saw only${drained:- no host} drain"
if [ -z "$why" ] && [ "${errs:-1}" -eq 0 ]; then
	ok "rolling restart: h1, h2, h3 each stopped (SIGTERM) with a ${drain}s drain that HAProxy saw, and started again, under load: $done connections, 0 failed"
else
	fail "rolling restart: ${why:+$why; }${errs:-?} of ${done:-?} connections failed"
	servers | note
	tail -n 10 "$state/haproxy.log" | note
fi
figure restart_failed "${errs:-?}"
figure restart_sessions "$(sessions "$t_load" "$t_end")"
figure restart_connections "${done:-?}"

# Every host logged the clients' address, never HAProxy's.
addrs= bad=
for i in 1 2 3; do
	from=$(echo "$marks" | cut -d' ' -f"$i")
	c=$(tail -n "+$((from + 1))" "$state/h$i.log" |
	    grep -c 'message peer=10\.99\.0\.1:')
	p=$(tail -n "+$((from + 1))" "$state/h$i.log" |
	    grep -c "message peer=10\.77\.$i\.1:")
	addrs="$addrs h$i:10.99.0.1x$c"
	[ "$c" -gt 0 ] && [ "$p" -eq 0 ] || bad="$bad h$i($c client, $p proxy)"
	figure "h${i}_logged" "$(tail -n "+$((from + 1))" "$state/h$i.log" |
	    sed -n 's/.*message peer=\([0-9.]*\):.*/\1/p' | sort | uniq -c |
	    awk '{ printf "%s%s x%s", s, $2, $1; s = ", " }')"
done
if [ -z "$bad" ]; then
	ok "client addresses: every host logged 10.99.0.1 (the client), never its HAProxy address 10.77.N.1:$addrs"
else
	fail "client addresses:$bad"
	for i in 1 2 3; do grep 'message peer=' "$state/h$i.log" | tail -n 2 |
	    note; done
fi

# ---- 2. rolling reload --------------------------------------------------
load_start reload
hold
why=
for i in 1 2 3; do
	g0=$(generation "$i")
	from=$(log_lines "$i")
	kill -HUP "$(hostpid "$i")"
	wait_log "$i" "$from" 20000 "reloaded generation=$((g0 + 1))" ||
	    { why="h$i: no \"reloaded generation=$((g0 + 1))\""; break; }
	g1=$(generation "$i")
	[ "$g1" = $((g0 + 1)) ] ||
	    { why="h$i: generation $g0 -> $g1"; break; }
done
hold
load_stop || why="${why:-no load result}"
if [ -z "$why" ] && [ "${errs:-1}" -eq 0 ]; then
	ok "rolling reload: SIGHUP to h1, h2, h3 in turn, each committed (generation +1) under load: $done connections, 0 failed"
else
	fail "rolling reload: ${why:-${errs:-?} of ${done:-?} connections failed}"
fi
figure reload_failed "${errs:-?}"
figure reload_sessions "$(sessions "$t_load" "$t_end")"
figure reload_connections "${done:-?}"

# ---- 3. a host killed ---------------------------------------------------
# h2's master SIGKILLed: its workers die with it (PR_SET_PDEATHSIG), the
# connections it had in flight fail, HAProxy retries refused connects
# elsewhere and marks it down; h1 and h3 carry on.
load_start kill
hold
t_kill=$(now)
kill -KILL "$h2pid"
wait "$h2pid" 2>/dev/null
h2pid=
why=
# The workers go with their master: soon nothing is left in h2.
d=$(($(now) + 10000))
while [ -n "$(ip netns pids "pfso-h2-$sfx")" ] && [ "$(now)" -lt "$d" ]
do
	sleep 0.02
done
t_gone=$(now)
left=$(ip netns pids "pfso-h2-$sfx" | tr '\n' ' ')
[ -z "$left" ] || why="processes left in h2: $left"
wait_status h2 'DOWN*' 15000 ||
    why="${why:+$why; }HAProxy does not mark h2 down"
t_down=$(now)
s0=$(stots)
hold
s1=$(stots)
load_stop || why="${why:-no load result}"
# In flight on h2 when it died: HAProxy's sessions to it that were open
# at some time from the kill until the last of its processes was gone
# (a connection h2 refused was retried elsewhere and is logged there).
inflight=$(inflight h2 "$t_kill" "$t_gone")
after=$(share "$s0" "$s1")
figure kill_failed "${errs:-?}"
figure kill_connections "${done:-?}"
figure kill_h2_inflight "$inflight"
figure kill_sessions "$(sessions "$t_load" "$t_end")"
figure kill_gone_after_ms "$((t_gone - t_kill))"
figure kill_down_after_ms "$((t_down - t_kill))"
figure kill_share_after_down "$after"
if [ -z "$why" ] && [ "${errs:-1}" -le "$inflight" ] &&
    [ "$(pct 2 "$s0" "$s1")" -eq 0 ] && [ "$(pct 1 "$s0" "$s1")" -gt 0 ] &&
    [ "$(pct 3 "$s0" "$s1")" -gt 0 ]; then
	ok "host killed: h2's master SIGKILLed, its workers gone within $((t_gone - t_kill)) ms, HAProxy marked it down in $((t_down - t_kill)) ms; $errs failed <= $inflight in flight on h2; then $after"
else
	fail "host killed: ${why:-${errs:-?} failed, $inflight in flight on h2, then $after}"
	servers | note
	grep 'preforkd/h2 [^-]' "$state/haproxy.log" | tail -n 5 | note
fi
# h2 back for the last phase.
if ! start_host 2 || ! wait_status h2 'UP*' 15000; then
	abort "h2 is not up again after the kill"
fi

# ---- 4. overload --------------------------------------------------------
# h3's whole pool held by slow clients connected to it directly (through
# the PROXY protocol, as a client of 10.99.0.2): its agent reports the
# pool's free share, HAProxy lowers its weight and sends it less.
load_start overload
hold
s0=$(stots)
hold
s1=$(stots)
before=$(share "$s0" "$s1")
nsx_bg lb perl "$here/tool.pl" hold 10.77.3.2 9000 "$held" 600 10.99.0.2 \
    > "$state/hold.out" 2>&1 &
holdpid=$!
why=
d=$(($(now) + 15000))
while :; do
	w=$(field h3 weight)
	[ -n "$w" ] && [ "$w" -lt 50 ] && break
	[ "$(now)" -lt "$d" ] || { why="h3's weight stays $w"; break; }
	sleep 0.1
done
hastat > "$state/stat-overload.csv"
agent=$(agent 3)
weights="h1=$(field h1 weight) h2=$(field h2 weight) h3=$w"
s2=$(stots)
d2="$(served 1) $(served 2) $(served 3)"
# The weights through the window, a few times a second (every host's
# agent speaks: a host whose pool the load itself fills says so too).
d=$(($(now) + 2000 * duration))
: > "$state/weights"
while [ "$(now)" -lt "$d" ]; do
	csv=$(hastat)
	echo "$(field h1 weight "$csv") $(field h2 weight "$csv")" \
	    "$(field h3 weight "$csv")" >> "$state/weights"
	sleep 0.2
done
s3=$(stots)
d3="$(served 1) $(served 2) $(served 3)"
wrange=$(awk 'NF == 3 {
	for (i = 1; i <= 3; i++) {
		if (NR == 1 || $i < lo[i]) lo[i] = $i
		if (NR == 1 || $i > hi[i]) hi[i] = $i
		sum[i] += $i
	}
	n++
    } END {
	for (i = 1; i <= 3; i++)
		printf "h%d %d..%d mean %.0f, ", i, lo[i], hi[i], sum[i] / n
	printf "so h3 %.1f%% by weight (%d samples)\n",
	    100 * sum[3] / (sum[1] + sum[2] + sum[3]), n
    }' "$state/weights")
agent2=$(agent 3)
st3=$(status 3 | sed -n 's/^workers: //p')
under=$(share "$s2" "$s3")
stop_pid "$holdpid"
holdpid=
load_stop || why="${why:-no load result}"
figure overload_share_before "$before"
figure overload_share_held "$under"
# The same window as the hosts count it (h3's count includes the slow
# clients it shed).
figure overload_served_held "$(share "$d2" "$d3")"
figure overload_weights_held "$wrange"
figure overload_agent_h3 "\"$agent\" then \"$agent2\""
figure overload_h3_workers "$st3"
figure overload_failed "${errs:-?}"
figure overload_sessions "$(sessions "$t_load" "$t_end")"
figure overload_connections "${done:-?}"
figure overload_hold "$(cat "$state/hold.out")"
p3=$(pct 3 "$s2" "$s3")
if [ -z "$why" ] && [ "$p3" -lt 10 ]; then
	ok "overload: h3's pool ($pool_max) held by $held slow clients, its agent said \"$agent\", HAProxy weights $weights: share $before -> $under"
else
	fail "overload: ${why:-h3 still gets $p3%}: share $before -> $under"
	servers | note
fi

summary
[ "$failed" -eq 0 ]
