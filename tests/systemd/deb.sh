#!/bin/sh
# SPDX-License-Identifier: ISC
# deb.sh [DEBDIR [LOADGEN]] - the Debian package under a real systemd.
#
# Boots systemd as PID 1 of private namespaces (boot.sh, as run.sh does)
# and does there what an administrator does with the package: install it
# with apt, edit the configuration, upgrade (under a closed-loop load,
# without and with socket activation), restart under load, tell master
# from workers with ps, reload with an include the service cannot read,
# ask -s status with the file broken, stop with clients queued, upgrade
# over a broken configuration, remove and purge.  Every write lands in the tmpfs
# of the namespace's overlay root: the host's dpkg database, /etc and
# units are never touched.
#
# DEBDIR (default build/deb, from "./bootstrap.sh deb") holds one
# preforkd_VERSION_ARCH.deb and, in DEBDIR/upgrades, three newer builds
# of it (VERSION+test1..3) to upgrade to.  LOADGEN is bench/loadgen.c
# built (default build/tests/loadgen, else compiled here).
#
# One line per check, "ok: ..." or "FAILED: ...", then
# "deb: N passed, N failed".  Exit 0 when all passed, 1 when not, 77
# (with "SKIP: reason") when the kernel refuses the namespaces.
set -u
umask 022
exec < /dev/null

if [ $# -gt 2 ]; then
	echo "usage: $0 [DEBDIR [LOADGEN]]" >&2
	exit 64
fi
src=$(cd "$(dirname "$0")/../.." && pwd) || exit 64
debdir=$(cd "${1:-$src/build/deb}" 2>/dev/null && pwd) || {
	echo "$0: no ${1:-$src/build/deb}: run ./bootstrap.sh deb" >&2
	exit 64
}
loadgen=${2:-$src/build/tests/loadgen}
boot=$src/tests/systemd/boot.sh

limit=300		# seconds for the whole run; a pass takes 80 to 120
port=9001		# the shipped configuration
conf=/etc/preforkd/preforkd.conf
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
banner0="Welcome to Network Server!!"
banner1="Welcome to preforkd, edited by the operator!!"
passed=0 failed=0
state= cg= nspid= scriptpid= watchdog= t_lap= lgpid= arpid=

. "$src/tests/checks.sh"
summary() {
	echo "deb: $passed passed, $failed failed"
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

# ---- what is tested -----------------------------------------------------

deb0=$(ls "$debdir"/preforkd_*.deb 2>/dev/null)
set -- $(ls "$debdir"/upgrades/preforkd_*.deb 2>/dev/null | sort -V)
if [ "$(echo "$deb0" | wc -w)" -ne 1 ] || [ $# -ne 3 ]; then
	echo "$0: $debdir needs one preforkd_*.deb and three newer ones in" \
	    "upgrades/ (./bootstrap.sh deb builds them)" >&2
	exit 64
fi
deb1=$1 deb2=$2 deb3=$3
# version FILE
version() {
	dpkg-deb -f "$1" Version
}
v0=$(version "$deb0") v1=$(version "$deb1") v2=$(version "$deb2")
v3=$(version "$deb3")
for _v in "$v1" "$v2" "$v3"; do
	dpkg --compare-versions "$_v" gt "$v0" || {
		echo "$0: $_v is not newer than $v0" >&2
		exit 64
	}
done

# ---- the namespaces -----------------------------------------------------

teardown() {
	trap - EXIT INT TERM HUP ALRM
	if [ -n "$watchdog" ]; then
		kill -TERM "$watchdog" 2>/dev/null
		wait "$watchdog" 2>/dev/null
	fi
	[ -n "$lgpid" ] && kill -KILL "$lgpid" 2>/dev/null
	[ -n "$arpid" ] && kill -KILL "$arpid" 2>/dev/null
	[ -n "$nspid" ] && kill -KILL "$nspid" 2>/dev/null
	if [ -n "$cg" ] && [ -d "$cg" ]; then
		if [ -e "$cg/cgroup.kill" ]; then
			echo 1 > "$cg/cgroup.kill" 2>/dev/null
		else
			find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null |
			    xargs -r kill -KILL 2>/dev/null
		fi
		_i=0
		while grep -q '^populated 1' "$cg/cgroup.events" 2>/dev/null &&
		    [ $_i -lt 50 ]; do
			sleep 0.1; _i=$((_i + 1))
		done
		find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$cg" ] && echo "deb.sh: cannot remove the cgroup $cg" >&2
	fi
	if [ -n "$scriptpid" ]; then
		_i=0
		while kill -0 "$scriptpid" 2>/dev/null && [ $_i -lt 50 ]; do
			sleep 0.1; _i=$((_i + 1))
		done
		kill -KILL "$scriptpid" 2>/dev/null
		wait "$scriptpid" 2>/dev/null
	fi
	[ -n "$lgpid" ] && wait "$lgpid" 2>/dev/null
	[ -n "$state" ] && rm -rf --one-file-system "$state"
}
trap 'teardown' EXIT
trap 'abort "interrupted"' INT TERM HUP
trap 'abort "time limit: still running after ${limit}s"' ALRM

for tool in script unshare nsenter setpriv pivot_root findmnt timeout \
    dpkg-deb /lib/systemd/systemd; do
	command -v "$tool" > /dev/null 2>&1 || abort "no $tool"
done

if ! err=$(unshare --mount --uts --ipc --net --cgroup --pid --fork \
    --propagation private true 2>&1); then
	skip "the kernel refuses private namespaces: ${err:-unshare failed}"
fi
cgroot=$(findmnt -n -t cgroup2 -o TARGET 2>/dev/null | head -n 1)
[ -n "$cgroot" ] || skip "no cgroup2 hierarchy is mounted"
cgself=$(sed -n 's/^0:://p' /proc/self/cgroup)
cghome=$cgroot${cgself%/}
cg=$cghome/preforkd-deb.$$.$t_start
if ! err=$(mkdir "$cg" 2>&1); then
	cg=
	skip "the kernel refuses a child cgroup: $err"
fi

state=$(mktemp -d "${TMPDIR:-/tmp}/preforkd-deb.XXXXXX") || abort "mktemp"
mkdir "$state/root"

# The load generator, built here if the build tree has none.
if [ ! -x "$loadgen" ]; then
	loadgen=$state/loadgen
	cc -O2 -pthread -o "$loadgen" "$src/bench/loadgen.c" ||
	    abort "no load generator: cannot compile bench/loadgen.c"
fi

(
	trap 'kill $s 2>/dev/null; wait $s; exit 0' TERM
	sleep "$limit" & s=$!
	wait $s && kill -ALRM $$
) 2> /dev/null &
watchdog=$!

BOOT=$boot STATE=$state CG=$cg script -qfec \
    'exec sh "$BOOT" outer "$STATE" "$CG"' "$state/console.log" \
    < /dev/null > /dev/null 2>&1 &
scriptpid=$!

i=0
while [ ! -s "$state/pid" ] && kill -0 "$scriptpid" 2>/dev/null &&
    [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
if [ ! -s "$state/pid" ]; then
	grep -q '^mount: ' "$state/console.log" 2>/dev/null &&
	    skip "the kernel refuses to build the root:" \
	    "$(grep '^mount: ' "$state/console.log" | head -n 2)"
	grep -v '^Script ' "$state/console.log" 2>/dev/null | note
	abort "boot: the namespaces did not start"
fi
nspid=$(cat "$state/pid")
[ -s "$state/unshare.pid" ] &&
    cat "$state/unshare.pid" > "$cghome/cgroup.procs" 2>/dev/null
: > "$state/go"

# ns [-t SECONDS] COMMAND...: run COMMAND in the booted system.
ns() {
	_to=20
	if [ "$1" = -t ]; then _to=$2; shift 2; fi
	timeout -k 2 "$_to" nsenter -t "$nspid" -a env -i PATH=$path \
	    SYSTEMD_PAGER= SYSTEMD_COLORS=0 LC_ALL=C \
	    DEBIAN_FRONTEND=noninteractive "$@" < /dev/null
}
prop() {
	ns systemctl show -P "$2" "$1" 2>/dev/null
}

t_boot=$(now)
running=
while [ $(($(now) - t_boot)) -lt 30000 ] && kill -0 "$nspid" 2>/dev/null
do
	running=$(ns systemctl is-system-running 2>/dev/null)
	case $running in
	running|degraded) break ;;
	esac
	sleep 0.2
done
case $running in
running|degraded)
	ok "boot: systemd $(ns systemctl --version |
	    sed -n '1s/^systemd \([0-9]*\).*/\1/p') is running as PID 1 of the namespaces"
	;;
*)
	grep -v '^Script ' "$state/console.log" | tail -n 30 | note
	abort "boot: systemd is not up: \"$running\""
	;;
esac

# ---- helpers ------------------------------------------------------------

root=/proc/$nspid/root
# What the package test works with, inside the namespace's own /tmp.
t=/tmp/deb-test
mkdir "$root$t" && chmod 0755 "$root$t" &&
    cp "$deb0" "$deb1" "$deb2" "$deb3" "$root$t/" &&
    cp "$loadgen" "$root$t/loadgen" || abort "copy into the namespace"
d0=$t/${deb0##*/} d1=$t/${deb1##*/} d2=$t/${deb2##*/} d3=$t/${deb3##*/}

# apt OUTFILE ARGS...: apt-get in the namespace, its output kept.
apt() {
	_out=$1; shift
	ns -t 120 apt-get -y -q -o Dpkg::Use-Pty=0 "$@" > "$_out" 2>&1
}
# dpkg's view of the package: "ii 0.1.0-1", "rc 0.1.0-1", or nothing.
pkgstate() {
	ns dpkg-query -W -f='${db:Status-Abbrev}${Version}' preforkd \
	    2>/dev/null | tr -s ' '
}
cursor() {
	ns journalctl -q -n 1 -o export 2>/dev/null |
	    sed -n 's/^__CURSOR=//p'
}
journal() {
	_c=$1; shift
	ns journalctl -q --no-pager -u preforkd.service \
	    ${_c:+--after-cursor="$_c"} "$@"
}
wait_log() {
	_c=$1; shift
	_d=$(($(now) + 10000))
	while :; do
		_log=$(journal "$_c" -o cat)
		_all=yes
		for _t in "$@"; do
			case $_log in
			*"$_t"*) ;;
			*) _all= ;;
			esac
		done
		[ -n "$_all" ] && return 0
		[ "$(now)" -lt "$_d" ] || return 1
		sleep 0.2
	done
}
wait_prop() {
	_d=$(($(now) + 10000))
	while [ "$(prop "$1" "$2")" != "$3" ]; do
		[ "$(now)" -lt "$_d" ] || return 1
		sleep 0.1
	done
}
# The banner through the packaged client.
banner() {
	ns /usr/bin/preforkd-client -h 127.0.0.1 -p "$port" -t 10 \
	    -m "${1:-hello}" 2>&1
}
# The banner read with bash alone, up to its NUL: no preforkd code.
tcp_banner() {
	ns timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
	    IFS= read -r -d "" b <&3 && printf "%s\n" "$b"' sh "$port" 2>&1
}
# The pids holding the listening socket of 127.0.0.1:$port, from the
# namespace's /proc ("" when nothing listens; "many" when more than one
# socket does).  The journal cannot tell: it drops lines of a service
# that logs every connection of a load.
holders() {
	ns sh -c '
		ino=$(awk -v a="$1" "\$2 == a && \$4 == \"0A\" { print \$10 }" \
		    /proc/net/tcp)
		case $ino in
		"") exit 0 ;;
		*[!0-9]*) echo many; exit 0 ;;
		esac
		for f in /proc/[0-9]*/fd/*; do
			[ "$(readlink "$f" 2>/dev/null)" = "socket:[$ino]" ] &&
			    { p=${f#/proc/}; echo "${p%%/*}"; }
		done | sort -un | tr "\n" " "' sh "0100007F:$(printf %04X "$port")"
}
# held_by_systemd: PID 1 and the service's main process share the socket.
held_by_systemd() {
	_h=" $(holders)"
	case $_h in
	*" 1 "*) ;;
	*) return 1 ;;
	esac
	case $_h in
	*" $(prop preforkd.service MainPID) "*) return 0 ;;
	esac
	return 1
}
procs() {
	ns sh -c 'for f in /proc/[0-9]*/comm; do
		read -r c < "$f" 2>/dev/null && [ "$c" = preforkd ] &&
		    { p=${f#/proc/}; echo "${p%/comm}"; }
	done; :' | tr '\n' ' '
}
show() {
	for _u in preforkd.service preforkd.socket; do
		for _p in ActiveState SubState Result MainPID UnitFileState \
		    ExecMainStatus StatusText; do
			printf '%s %s=%s\n' "$_u" "$_p" "$(prop $_u $_p)"
		done
	done | note
	[ -n "${1:-}" ] && journal "$1" -o cat | tail -n 15 | note
	# journald's own word: a unit it rate-limits loses lines it never
	# says it lost to the unit.
	[ -n "${1:-}" ] && ns journalctl --no-pager --after-cursor="$1" \
	    -o cat -t systemd-journald 2>/dev/null | tail -n 5 | note
	:
}
# Every file and directory a package could leave behind.
filelist() {
	ns sh -c 'find /etc /usr /lib /var/lib/systemd /var/lib/dpkg/info \
	    /var/lib/private /var/cache/private /var/log/private \
	    /run/preforkd 2>/dev/null | LC_ALL=C sort'
}
# load_start NAME: a closed-loop load in the background, 32 clients of
# the greeting service from 127.0.0.1 to 127.0.0.4, 8 each: never over the
# shipped per_source = 8, however far the pool grows; in 1 s runs of the load generator one after the
# other (each ends with its own counts) until load_stop.
load_start() {
	rm -f "$root$t/stop"
	timeout -k 2 150 nsenter -t "$nspid" -a env -i PATH=$path sh -c '
		i=0
		while [ ! -e "$1/stop" ] && [ $i -lt 120 ]; do
			"$1/loadgen" -p "$2" -m greeting -c 32 -t 2 -w 0 -d 1 \
			    -s 127.0.0.1 -n 4
			i=$((i + 1))
		done' sh "$t" "$port" > "$state/load.$1" 2>&1 < /dev/null &
	lgpid=$!
}
# load_stop NAME: sets conns and errors, summed over the runs.
load_stop() {
	: > "$root$t/stop"
	wait "$lgpid" 2>/dev/null
	lgpid=
	set -- $(sed -n 's/^RESULT .* conns=\([0-9]*\) .* errors=\([0-9]*\) .*/\1 \2/p' \
	    "$state/load.$1" | awk '{ c += $1; e += $2; n++ }
	    END { print c + 0, e + 0, n + 0 }')
	conns=$1 errors=$2 runs=$3
}
# arrivals_start NAME N: N clients that come one every 10 ms or so,
# whether or not the ones before were served (the closed loop waits for
# each, and so seldom knocks while the port is closed), each a whole
# greeting through the packaged client.
arrivals_start() {
	timeout -k 2 30 nsenter -t "$nspid" -a env -i PATH=$path sh -c '
		i=0
		while [ $i -lt "$1" ]; do
			{ preforkd-client -h 127.0.0.1 -p "$2" -t 10 \
			    -m arrival > /dev/null 2>&1 && echo ok ||
			    echo failed; } &
			sleep 0.01
			i=$((i + 1))
		done
		wait' sh "$2" "$port" > "$state/arrivals.$1" 2>&1 < /dev/null &
	arpid=$!
}
# arrivals_wait NAME: sets arrived and refused (those not served).
arrivals_wait() {
	wait "$arpid" 2>/dev/null
	arpid=
	arrived=$(grep -c . "$state/arrivals.$1")
	refused=$(grep -vc '^ok$' "$state/arrivals.$1")
}
# upgrade_under_load DEB NAME: apt-get install DEB while the load runs,
# from a second before to a second after; sets apt_rc, up_ms, conns,
# errors.
upgrade_under_load() {
	load_start "$2"
	sleep 1
	_u=$(now)
	if apt "$state/apt.$2" install "$1"; then apt_rc=0; else apt_rc=$?; fi
	up_ms=$(($(now) - _u))
	sleep 1
	load_stop "$2"
}

# A container image's policy-rc.d (exit 101: "start nothing") would keep
# deb-systemd-invoke from starting anything; a booted system has none.
ns rm -f /usr/sbin/policy-rc.d
# Nothing of preforkd before the install: a clean slate to compare with.
if [ -n "$(pkgstate)" ] && [ "$(pkgstate)" != "un " ]; then
	abort "baseline: preforkd is already known to dpkg here: $(pkgstate)"
fi
ns rm -rf /etc/preforkd
filelist > "$state/files.before"

# ---- 1. install ---------------------------------------------------------
c=$(cursor)
if apt "$state/apt.install" install "$d0"; then rc=0; else rc=$?; fi
st=$(pkgstate)
pid0=$(prop preforkd.service MainPID)
out=$(banner "installed")
raw=$(tcp_banner)
if [ "$rc" -eq 0 ] && [ "$st" = "ii $v0" ] && [ "$raw" = "$banner0" ] &&
    [ "$(ns systemctl is-enabled preforkd.service)" = enabled ] &&
    [ "$(prop preforkd.service ActiveState)" = active ] &&
    wait_log "$c" "ready generation=1" && [ "$out" = "$banner0" ]; then
	ok "install: apt-get install ./${deb0##*/}: $st, preforkd.service enabled and active (MainPID $pid0), serving 127.0.0.1:$port"
else
	fail "install: apt-get=$rc, dpkg \"$st\", banner \"$out\", bash read \"$raw\""
	tail -n 15 "$state/apt.install" | note
	show "$c"
fi

# ---- 2. what is installed where -----------------------------------------
missing=
for f in /usr/sbin/preforkd /usr/bin/preforkd-client "$conf" \
    /lib/systemd/system/preforkd.service /lib/systemd/system/preforkd.socket \
    /usr/share/man/man8/preforkd.8.gz /usr/share/man/man5/preforkd.conf.5.gz \
    /usr/share/man/man1/preforkd-client.1.gz \
    /usr/share/doc/preforkd/copyright; do
	ns test -f "$f" || missing="$missing $f"
done
conffiles=$(ns dpkg-query -W -f='${Conffiles}' preforkd | awk '{ print $1 }')
sock_en=$(ns systemctl is-enabled preforkd.socket)
sock_st=$(prop preforkd.socket ActiveState)
if [ -z "$missing" ] && [ "$conffiles" = "$conf" ] &&
    [ "$sock_en" = disabled ] && [ "$sock_st" = inactive ] &&
    ns preforkd -t -c "$conf" > /dev/null 2>&1; then
	ok "files: daemon, client, man pages, units in /lib/systemd/system; $conf the one conffile; preforkd.socket installed disabled"
else
	fail "files: missing:${missing:- none}, conffiles \"$conffiles\", preforkd.socket $sock_en/$sock_st"
fi

# ---- 3. edited conffile, upgrade under load -----------------------------
# The operator's edits: the banner, and the log level to notice, as on a
# host under load.  At info each connection is a journal line, and
# journald's own limit for a unit (10000 lines in 30 s unless
# LogRateLimitBurst= says otherwise) then suppresses the unit's lines for
# the rest of the interval, lifecycle lines included: the checks below
# read those (docs/monitoring.md).
ns sed -i -e "s/$banner0/$banner1/" \
    -e 's/^\([[:space:]]*level = \)"info";/\1"notice";/' "$conf"
c=$(cursor)
upgrade_under_load "$d1" up1
st=$(pkgstate)
pid1=$(prop preforkd.service MainPID)
kept=$(ns grep -c "$banner1" "$conf")
leftovers=$(ns sh -c 'ls -d /etc/preforkd/*.dpkg-* 2>/dev/null')
out=$(banner "upgraded")
errors_plain=$errors conns_plain=$conns
# Each asked apart, so that a failure says which.
logged=no held=no
wait_log "$c" ", same pid; generation=" "reloaded generation=" &&
    logged=yes
held_by_systemd && held=yes
if [ "$apt_rc" -eq 0 ] && [ "$st" = "ii $v1" ] && [ "$kept" = 1 ] &&
    [ -z "$leftovers" ] && [ "$pid1" = "$pid0" ] && [ "$pid1" != 0 ] &&
    [ "$logged" = yes ] && [ "$held" = yes ] &&
    wait_prop preforkd.service ActiveState active &&
    [ "$out" = "$banner1" ] && [ "${conns:-0}" -gt 0 ] 2>/dev/null &&
    [ "$errors" -eq 0 ]; then
	ok "upgrade: $v0 -> $v1 in $((up_ms / 1000)).$((up_ms % 1000 / 100))s, edited conffile kept (no prompt, no .dpkg-dist), upgraded in place (MainPID $pid0 kept, its socket in systemd's store), serving the edited banner; under load: $errors failed of $conns connections in $runs runs (plain service)"
else
	fail "upgrade: apt-get=$apt_rc, dpkg \"$st\", edit kept $kept, leftovers \"$leftovers\", MainPID $pid0 -> $pid1, upgrade and reload logged $logged, socket held by systemd and the master $held (holders:$(holders)), banner \"$out\", load \"$conns $errors\""
	tail -n 15 "$state/apt.up1" | note
	cat "$state/load.up1" | note
	journal "$c" -o cat | grep -v '^message ' | tail -n 30 | note
	show "$c"
fi

# ---- 3b. systemctl restart under load -----------------------------------
# The plain service's socket is in systemd's file descriptor store: a
# restart hands the same socket to the new master (PID 1 and it hold
# it), and what queued in between is served: not one connection lost of
# a closed-loop load and 200 clients arriving on their own meanwhile.
c=$(cursor)
pid_r0=$(prop preforkd.service MainPID)
load_start restart
arrivals_start restart 200
sleep 1
ns systemctl restart preforkd.service
sleep 1
load_stop restart
arrivals_wait restart
pid_r1=$(prop preforkd.service MainPID)
out=$(banner "restarted")
errors_restart=$errors conns_restart=$conns
refused_restart=$refused arrived_restart=$arrived
if [ "$pid_r1" != "$pid_r0" ] && [ "$pid_r1" != 0 ] &&
    [ "$(prop preforkd.service ActiveState)" = active ] &&
    [ "$(prop preforkd.socket ActiveState)" = inactive ] &&
    wait_log "$c" "socket from systemd's store 127.0.0.1:$port" &&
    held_by_systemd && [ "$out" = "$banner1" ] &&
    [ "${conns:-0}" -gt 0 ] 2>/dev/null && [ "$errors" -eq 0 ] &&
    [ "$arrived" -eq 200 ] && [ "$refused" -eq 0 ]; then
	ok "restart under load: systemctl restart, MainPID $pid_r0 -> $pid_r1 on the same socket, kept in systemd's store; $errors failed of $conns connections in $runs runs, $refused of $arrived arrivals (plain service)"
else
	fail "restart under load: MainPID $pid_r0 -> $pid_r1, socket held by \"$(holders)\", banner \"$out\", load: $errors failed of $conns, $refused of $arrived arrivals"
	cat "$state/load.restart" | note
	show "$c"
fi

# ---- 3c. master and workers apart in ps ---------------------------------
# Process titles: what ps and systemctl status show of the service.
# A worker just forked has the master's title until it sets its own:
# asked again, within a bound, until every one has.
mp=$(prop preforkd.service MainPID)
d=$(($(now) + 10000))
while :; do
	mtitle=$(ns ps -o args= -p "$mp" 2>&1)
	wtitles=$(ns ps -o args= --ppid "$mp" 2>&1)
	nw=$(printf '%s\n' "$wtitles" | grep -c .)
	nwt=$(printf '%s\n' "$wtitles" | grep -c '^preforkd: worker gen=[0-9]')
	stat_out=$(ns systemctl status -l --no-pager preforkd.service 2>&1)
	[ "$nw" -gt 0 ] && [ "$nwt" -eq "$nw" ] && break
	[ "$(now)" -lt "$d" ] || break
	sleep 0.2
done
if case $mtitle in "preforkd: master "*) true ;; *) false ;; esac &&
    [ "$nw" -gt 0 ] && [ "$nwt" -eq "$nw" ] &&
    printf '%s\n' "$stat_out" |
    grep -Eq "[^0-9]$mp \"?preforkd: master " &&
    printf '%s\n' "$stat_out" |
    grep -Eq "[0-9] \"?preforkd: worker gen=[0-9]"
then
	ok "titles: ps shows the master (MainPID $mp) as \"$mtitle\" and its $nw workers as \"$(printf '%s\n' "$wtitles" | head -n 1)\"; systemctl status lists both"
else
	fail "titles: master \"$mtitle\", $nwt of $nw workers titled, children: $(printf '%s' "$wtitles" | tr '\n' '|')"
	printf '%s\n' "$stat_out" | tail -n 15 | note
fi

# ---- 3d. a refused reload: an include the service cannot read -----------
# An @include of mode 0600: root could read it, the dynamic user the
# daemon runs as cannot.  "systemctl reload" fails with the FILE:LINE
# cause (ExecReload= asks the daemon and waits for its answer), and the
# running generation serves on.
ns sh -c 'printf "workers = 4;\n" > /etc/preforkd/private.conf &&
    chmod 0600 /etc/preforkd/private.conf &&
    cp "$1" "$1.before" &&
    printf "@include \"/etc/preforkd/private.conf\"\n" >> "$1"' sh "$conf"
line=$(ns sh -c 'wc -l < "$1"' sh "$conf")
cause="$conf:$line: @include \"/etc/preforkd/private.conf\""
c=$(cursor)
pidp=$(prop preforkd.service MainPID)
if out=$(ns systemctl reload preforkd.service 2>&1); then rc=0; else rc=$?; fi
pidq=$(prop preforkd.service MainPID)
ns sh -c 'mv "$1.before" "$1" && rm -f /etc/preforkd/private.conf' sh "$conf"
answered=no
wait_log "$c" "the daemon answered: reload failed: $cause" && answered=yes
if [ "$rc" -ne 0 ] && [ "$answered" = yes ] &&
    [ "$pidq" = "$pidp" ] && [ "$pidq" != 0 ] &&
    [ "$(prop preforkd.service ActiveState)" = active ] &&
    [ "$(banner "after the refused reload")" = "$banner1" ]; then
	ok "reload refused: an include only root can read, systemctl reload exits $rc, the journal has \"$(journal "$c" -o cat | grep -m 1 "the daemon answered: reload failed: ")\"; same MainPID $pidq, serving"
else
	fail "reload refused: systemctl reload=$rc ($out), the cause \"$cause\" answered: $answered, MainPID $pidp -> $pidq, $(prop preforkd.service ActiveState)"
	show "$c"
fi

# ---- 3e. -s status while the file on disk is broken ---------------------
# -s finds the daemon without parsing the whole file: status and metrics
# answer while a line of it is a syntax error.
ns cp "$conf" "$t/status.conf"
ns sh -c 'echo "this is not a setting" >> "$1"' sh "$conf"
if ns preforkd -t -c "$conf" > /dev/null 2>&1; then t_rc=0; else t_rc=$?; fi
mp=$(prop preforkd.service MainPID)
if st_out=$(ns preforkd -s status 2>&1); then st_rc=0; else st_rc=$?; fi
if mt_out=$(ns preforkd -s metrics 2>&1); then mt_rc=0; else mt_rc=$?; fi
ns cp "$t/status.conf" "$conf"
if [ "$t_rc" -eq 78 ] && [ "$st_rc" -eq 0 ] && [ "$mt_rc" -eq 0 ] &&
    case $st_out in *"pid=$mp "*) true ;; *) false ;; esac &&
    case $mt_out in *"preforkd_generation "*) true ;; *) false ;; esac
then
	ok "status with a broken file: preforkd -t exits $t_rc, preforkd -s status and -s metrics exit 0 and show MainPID $mp: \"$(printf '%s\n' "$st_out" | grep -m 1 "pid=$mp ")\""
else
	fail "status with a broken file: -t=$t_rc, -s status=$st_rc, -s metrics=$mt_rc"
	printf '%s\n%s\n' "$st_out" "$mt_out" | head -n 10 | note
fi

# ---- 3f. a stop with clients queued -------------------------------------
# Two workers held by silent clients, five clients queued behind them in
# the accept queue; "systemctl stop", then the held ones finish: each of
# the five gets the banner and is served to the end, by the daemon that
# runs as the dynamic user (no socket filter for it).  The socket is in
# systemd's store: the workers take what is queued on it as they stop.
ns cp "$conf" "$t/stop.conf"
cat > "$root$conf" <<EOC
listen = { address = "127.0.0.1"; port = $port; };
workers = 2;
limits = { per_source = 0; };
greeting = { banner = "$banner1"; };
timeouts = { read = 30.0; shutdown = 25.0; };
EOC
c=$(cursor)
ns systemctl restart preforkd.service
wait_log "$c" "ready generation=1" || true
mp=$(prop preforkd.service MainPID)
rm -f "$root$t/queued" "$root$t/release"
timeout -k 2 90 nsenter -t "$nspid" -a env -i PATH=$path bash -c '
	port=$1 dir=$2
	for fd in 3 4; do
		eval "exec $fd<>/dev/tcp/127.0.0.1/$port" || exit 1
		IFS= read -r -t 10 -d "" b <&$fd || { echo "held $fd: no banner"; exit 1; }
	done
	for fd in 5 6 7 8 9; do
		eval "exec $fd<>/dev/tcp/127.0.0.1/$port" || echo "queued $fd: not connected"
	done
	: > "$dir/queued"
	i=0
	while [ ! -e "$dir/release" ] && [ $i -lt 600 ]; do
		sleep 0.1; i=$((i + 1))
	done
	for fd in 3 4; do
		printf "held\0" >&$fd
		cat <&$fd > /dev/null
	done
	for fd in 5 6 7 8 9; do
		if IFS= read -r -t 20 -d "" b <&$fd; then
			printf "queued\0" >&$fd
			if rest=$(timeout 10 cat <&$fd); then
				echo "served $fd: $b${rest:+ then \"$rest\"}"
			else
				echo "cut off $fd: $b"
			fi
		else
			echo "not served $fd"
		fi
	done' sh "$port" "$t" > "$state/stopq.out" 2>&1 < /dev/null &
sqpid=$!
i=0
while [ ! -e "$root$t/queued" ] && kill -0 "$sqpid" 2>/dev/null &&
    [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
c=$(cursor)
ns systemctl stop --no-block preforkd.service
stopping=no
wait_log "$c" "shutting down workers=2" && stopping=yes
: > "$root$t/release"
wait "$sqpid" 2>/dev/null
wait_prop preforkd.service ActiveState inactive
nserved=$(grep -c "^served [5-9]: $banner1\$" "$state/stopq.out")
# What the clients received is the verdict.  The daemon's lines are
# counted by their syslog identifier, not by unit: journald cannot tell
# the unit of a line whose worker has exited before it was read.
d=$(($(now) + 10000))
while :; do
	nlogged=$(ns journalctl -q --no-pager -t preforkd \
	    --after-cursor="$c" -o cat | grep -c 'msg="queued"')
	[ "$nlogged" -ge 5 ] || [ "$(now)" -ge "$d" ] && break
	sleep 0.2
done
reset=$(journal "$c" -o cat | grep -c "shutting it down")
ns cp "$t/stop.conf" "$conf"
if [ "$stopping" = yes ] && [ "$nserved" -eq 5 ] && [ "$reset" -eq 0 ] &&
    [ "$(prop preforkd.service ActiveState)" = inactive ] &&
    [ -z "$(procs)" ]; then
	ok "stop with a queue: 2 workers held, 5 clients queued, systemctl stop (MainPID $mp): $nserved of 5 got the banner and were served to the end (the journal has $nlogged of their 5 lines); inactive"
else
	fail "stop with a queue: stop began $stopping, $nserved of 5 got the banner and the server's close, $nlogged logged, queue reset $reset, $(prop preforkd.service ActiveState), processes \"$(procs)\""
	cat "$state/stopq.out" | note
	show "$c"
fi

# ---- 4. socket activation -----------------------------------------------
# As docs/debian.md says (Socket activation): the service lets go of the
# port, the socket takes it, the service starts again on the socket.
c=$(cursor)
ns systemctl stop preforkd.service
ns systemctl enable --now preforkd.socket > /dev/null 2>&1
ns systemctl start preforkd.service
pid2=$(prop preforkd.service MainPID)
sock_t=$(prop preforkd.socket ActiveEnterTimestampMonotonic)
out=$(banner "by socket")
if [ "$(ns systemctl is-enabled preforkd.socket)" = enabled ] &&
    [ "$(prop preforkd.socket ActiveState)" = active ] &&
    held_by_systemd && [ "$out" = "$banner1" ]; then
	ok "socket activation: preforkd.socket enabled; the one listening socket is held by systemd and the restarted service (MainPID $pid2)"
else
	fail "socket activation: preforkd.socket $(prop preforkd.socket ActiveState), socket held by \"$(holders)\", banner \"$out\""
	show "$c"
fi

# ---- 5. upgrade under load, the socket held by systemd ------------------
c=$(cursor)
upgrade_under_load "$d2" up2
st=$(pkgstate)
pid3=$(prop preforkd.service MainPID)
out=$(banner "upgraded again")
errors_sock=$errors conns_sock=$conns
if [ "$apt_rc" -eq 0 ] && [ "$st" = "ii $v2" ] && [ "$pid3" = "$pid2" ] &&
    [ "$pid3" != 0 ] && [ "$(prop preforkd.socket ActiveState)" = active ] &&
    wait_log "$c" ", same pid; generation=" &&
    held_by_systemd &&
    [ "$(prop preforkd.socket ActiveEnterTimestampMonotonic)" = "$sock_t" ] &&
    [ "$(prop preforkd.service ActiveState)" = active ] &&
    [ "$out" = "$banner1" ] && [ "${conns:-0}" -gt 0 ] 2>/dev/null &&
    [ "$errors" -eq 0 ]; then
	ok "upgrade with socket activation: $v1 -> $v2 in $((up_ms / 1000)).$((up_ms % 1000 / 100))s, upgraded in place (MainPID $pid2 kept), the socket never restarted; under load: $errors failed of $conns connections in $runs runs"
else
	fail "upgrade with socket activation: apt-get=$apt_rc, dpkg \"$st\", MainPID $pid2 -> $pid3, socket since $sock_t/$(prop preforkd.socket ActiveEnterTimestampMonotonic) held by \"$(holders)\", banner \"$out\", load: $errors failed of $conns"
	tail -n 15 "$state/apt.up2" | note
	cat "$state/load.up2" | note
	show "$c"
fi

# ---- 6. socket activation off, and on again ----------------------------
# Off, the restarted service binds the port itself and hands the socket
# to systemd's file descriptor store: PID 1 holds it again, but as the
# service's, not preforkd.socket's.
ns systemctl disable --now preforkd.socket > /dev/null 2>&1
c=$(cursor)
ns systemctl restart preforkd.service
off_en=$(ns systemctl is-enabled preforkd.socket)
off_st=$(prop preforkd.socket ActiveState)
off_h=$(holders)
off_pid=$(prop preforkd.service MainPID)
off_out=$(banner "own socket")
off_log=no
wait_log "$c" "listening on 127.0.0.1:$port" \
    "handed to systemd's file descriptor store" && off_log=yes
ns systemctl stop preforkd.service
ns systemctl enable --now preforkd.socket > /dev/null 2>&1
ns systemctl start preforkd.service
out=$(banner "by socket again")
if [ "$off_en" = disabled ] && [ "$off_st" = inactive ] &&
    [ "$off_log" = yes ] &&
    case " $off_h" in *" $off_pid "*) true ;; *) false ;; esac &&
    [ "$off_out" = "$banner1" ] &&
    held_by_systemd && [ "$out" = "$banner1" ]; then
	ok "socket activation off (disable --now, restart: the service binds the port itself, into systemd's store) and on again, serving both ways"
else
	fail "socket activation off and on: socket $off_en/$off_st, bound and stored: $off_log, held by \"$off_h\" (MainPID $off_pid), banner \"$off_out\"; on again: held by \"$(holders)\", banner \"$out\""
	show
fi

# ---- 7. broken configuration, then an upgrade ---------------------------
# A line that no version of the file can make valid, appended: the error
# is at its line, whatever the shipped file holds.
ns cp "$conf" "$t/good.conf"
ns sh -c 'echo "this is not a setting" >> "$1"' sh "$conf"
line=$(ns sh -c 'wc -l < "$1"' sh "$conf")
c=$(cursor)
pid4=$(prop preforkd.service MainPID)
if apt "$state/apt.up3" install "$d3"; then rc=0; else rc=$?; fi
st=$(pkgstate)
pid5=$(prop preforkd.service MainPID)
out=$(banner "old configuration")
if [ -n "$line" ] && [ "$rc" -eq 0 ] && [ "$st" = "ii $v3" ] &&
    grep -q "^preforkd: $conf:$line: " "$state/apt.up3" &&
    grep -q "was not restarted" "$state/apt.up3" &&
    [ "$pid5" = "$pid4" ] &&
    [ "$(prop preforkd.service ActiveState)" = active ] &&
    [ "$out" = "$banner1" ]; then
	ok "broken configuration: upgrade to $v3 reports \"$(grep -m 1 "^preforkd: $conf:$line: " "$state/apt.up3")\", ends $st, the daemon not restarted (MainPID $pid5) and serving its loaded configuration"
else
	fail "broken configuration: apt-get=$rc, dpkg \"$st\", line \"$line\", MainPID $pid4 -> $pid5, banner \"$out\""
	tail -n 15 "$state/apt.up3" | note
	show "$c"
fi

# ---- 8. the way back: fix the file, restart -----------------------------
ns cp "$t/good.conf" "$conf"
c=$(cursor)
ns systemctl restart preforkd.service
pid6=$(prop preforkd.service MainPID)
out=$(banner "fixed")
if [ "$pid6" != "$pid5" ] && [ "$pid6" != 0 ] &&
    [ "$(prop preforkd.service ActiveState)" = active ] &&
    [ "$out" = "$banner1" ]; then
	ok "fixed configuration: systemctl restart runs $v3 (MainPID $pid6), serving"
else
	fail "fixed configuration: MainPID $pid5 -> $pid6, banner \"$out\""
	show "$c"
fi

# ---- 8b. a file root can read and the service cannot --------------------
# An @include of mode 0600: "preforkd -t" as root would pass it, the
# daemon's dynamic user cannot read it.  The package's check runs as the
# service does: the reinstall reports it and leaves the daemon serving.
ns sh -c 'printf "workers = 4;\n" > /etc/preforkd/private.conf &&
    chmod 0600 /etc/preforkd/private.conf &&
    cp "$1" "$1.before" &&
    printf "@include \"/etc/preforkd/private.conf\"\n" >> "$1"' sh "$conf"
c=$(cursor)
pidp=$(prop preforkd.service MainPID)
if apt "$state/apt.private" install --reinstall "$d3"; then rc=0
else rc=$?; fi
pidq=$(prop preforkd.service MainPID)
out=$(banner "private include")
ns sh -c 'mv "$1.before" "$1" && rm -f /etc/preforkd/private.conf' sh "$conf"
if [ "$rc" -eq 0 ] && grep -q "private.conf" "$state/apt.private" &&
    grep -q "was not restarted" "$state/apt.private" &&
    [ "$pidq" = "$pidp" ] && [ "$pidq" != 0 ] &&
    [ "$(prop preforkd.service ActiveState)" = active ] &&
    [ "$out" = "$banner1" ]; then
	ok "unreadable include: the reinstall's check, as the service's dynamic user, reports \"$(grep -m 1 private.conf "$state/apt.private")\"; the daemon not restarted (MainPID $pidq), serving"
else
	fail "unreadable include: apt-get=$rc, MainPID $pidp -> $pidq, banner \"$out\""
	tail -n 15 "$state/apt.private" | note
	show "$c"
fi

# ---- 9. roll back: the previous package again --------------------------
pid7=$(prop preforkd.service MainPID)
c=$(cursor)
if apt "$state/apt.down" install --allow-downgrades "$d0"; then rc=0
else rc=$?; fi
st=$(pkgstate)
pid8=$(prop preforkd.service MainPID)
out=$(banner "rolled back")
if [ "$rc" -eq 0 ] && [ "$st" = "ii $v0" ] && [ "$pid8" = "$pid7" ] &&
    [ "$pid8" != 0 ] && ns grep -q "$banner1" "$conf" &&
    wait_log "$c" ", same pid; generation=" &&
    [ "$(prop preforkd.service ActiveState)" = active ] &&
    held_by_systemd && [ "$out" = "$banner1" ]; then
	ok "roll back: apt-get install --allow-downgrades ./${deb0##*/}: $st, in place (MainPID $pid7 kept) on the socket, configuration kept, serving"
else
	fail "roll back: apt-get=$rc, dpkg \"$st\", MainPID $pid7 -> $pid8, banner \"$out\""
	tail -n 15 "$state/apt.down" | note
	show
fi

# ---- 10. remove ----------------------------------------------------------
if apt "$state/apt.remove" remove preforkd; then rc=0; else rc=$?; fi
st=$(pkgstate)
left=$(procs)
svc=$(prop preforkd.service ActiveState)
sock=$(prop preforkd.socket ActiveState)
out=$(tcp_banner)
if [ "$rc" -eq 0 ] && [ "$st" = "rc $v0" ] && [ -z "$left" ] &&
    [ "$svc" != active ] && [ "$sock" != active ] &&
    case $out in *refused*) true ;; *) false ;; esac && ns grep -q "$banner1" "$conf" &&
    ! ns test -e /usr/sbin/preforkd; then
	ok "remove: $st, service and socket stopped, no preforkd process, port $port closed, $conf kept with the operator's edit"
else
	fail "remove: apt-get=$rc, dpkg \"$st\", service $svc, socket $sock, processes \"$left\", connect: \"$out\""
	tail -n 15 "$state/apt.remove" | note
fi

# ---- 11. purge -----------------------------------------------------------
if apt "$state/apt.purge" purge preforkd; then rc=0; else rc=$?; fi
st=$(pkgstate)
filelist > "$state/files.after"
if [ "$rc" -eq 0 ] && { [ -z "$st" ] || [ "$st" = "un " ]; } &&
    cmp -s "$state/files.before" "$state/files.after"; then
	ok "purge: dpkg forgets preforkd, the files under /etc /usr /lib /var/lib/systemd /var/lib/dpkg/info are those of before the install ($(wc -l < "$state/files.after") paths)"
else
	fail "purge: apt-get=$rc, dpkg \"$st\", files left or gone:"
	diff "$state/files.before" "$state/files.after" | grep '^[<>]' |
	    head -n 20 | note
	tail -n 10 "$state/apt.purge" | note
fi

echo "deb: failed connections under load: upgrading $errors_plain of $conns_plain (plain service), $errors_sock of $conns_sock (socket activation); restarting $errors_restart of $conns_restart and $refused_restart of $arrived_restart arrivals (plain service)"
summary
[ "$failed" -eq 0 ]
