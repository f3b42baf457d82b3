#!/bin/sh
# SPDX-License-Identifier: ISC
# run.sh BUILDDIR [SRCDIR] - preforkd's units under a real systemd.
#
# Boots systemd as PID 1 of private mount, UTS, IPC, network, cgroup and
# PID namespaces (boot.sh), installs the build there with
# "make install DESTDIR=/proc/PID/root" and drives preforkd.service and
# preforkd.socket with systemctl: start, reload, journal, stop, restart
# after a crash, restart and crash under load without a connection lost
# (the socket in systemd's file descriptor store), socket activation, a
# broken configuration, the security rating, the start limit, TLS with
# a key only the dynamic user may read (a group; a credential).  All traffic stays on the namespace's own
# loopback; every write lands in a tmpfs that goes away with it.
#
# One line per check, "ok: ..." or "FAILED: ...", then
# "systemd: N passed, N failed (Ts)".  Exit 0 when all passed, 1 when not,
# 77 (with "SKIP: reason") when the kernel refuses the namespaces.
set -u
umask 022
exec < /dev/null

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 BUILDDIR [SRCDIR]" >&2
	exit 64
fi
build=$(cd "$1" && pwd) || exit 64
src=$(cd "${2:-$(dirname "$0")/../..}" && pwd) || exit 64
boot=$src/tests/systemd/boot.sh
if [ ! -f "$build/Makefile" ] || [ ! -f "$boot" ]; then
	echo "$0: $build is not a configured build of $src" >&2
	exit 64
fi

limit=150		# seconds for the whole run; a pass takes about 70
port=9001		# preforkd.socket and the shipped configuration
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
passed=0 failed=0
state= cg= nspid= scriptpid= watchdog= t_lap= lgpid= arpid=

. "$src/tests/checks.sh"
summary() {
	echo "systemd: $passed passed, $failed failed"
}
# abort MESSAGE: a check that the others depend on failed.
abort() {
	fail "$1"
	summary
	exit 1
}
skip() {
	printf 'SKIP: %s\n' "$*"
	exit 77
}

# ---- the namespaces -----------------------------------------------------

teardown() {
	trap - EXIT INT TERM HUP ALRM
	if [ -n "$watchdog" ]; then
		kill -TERM "$watchdog" 2>/dev/null
		wait "$watchdog" 2>/dev/null
	fi
	[ -n "$lgpid" ] && kill -KILL "$lgpid" 2>/dev/null
	[ -n "$arpid" ] && kill -KILL "$arpid" 2>/dev/null
	# SIGKILL to the namespace's init ends its PID namespace; unshare
	# reaps it and exits, and script with it.
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
		[ -d "$cg" ] && echo "run.sh: cannot remove the cgroup $cg" >&2
	fi
	if [ -n "$scriptpid" ]; then
		_i=0
		while kill -0 "$scriptpid" 2>/dev/null && [ $_i -lt 50 ]; do
			sleep 0.1; _i=$((_i + 1))
		done
		kill -KILL "$scriptpid" 2>/dev/null
		wait "$scriptpid" 2>/dev/null
	fi
	# Every mount was made in the namespace, which is gone: only
	# directories and logs are left here.
	[ -n "$state" ] && rm -rf --one-file-system "$state"
}
trap 'teardown' EXIT
trap 'abort "interrupted"' INT TERM HUP
trap 'abort "time limit: still running after ${limit}s"' ALRM

for tool in script unshare nsenter setpriv pivot_root findmnt timeout \
    make /lib/systemd/systemd; do
	command -v "$tool" > /dev/null 2>&1 || abort "no $tool"
done

# The kernel must let us make the namespaces at all.
if ! err=$(unshare --mount --uts --ipc --net --cgroup --pid --fork \
    --propagation private true 2>&1); then
	skip "the kernel refuses private namespaces: ${err:-unshare failed}"
fi
cgroot=$(findmnt -n -t cgroup2 -o TARGET 2>/dev/null | head -n 1)
[ -n "$cgroot" ] || skip "no cgroup2 hierarchy is mounted"
cgself=$(sed -n 's/^0:://p' /proc/self/cgroup)
cghome=$cgroot${cgself%/}
cg=$cghome/preforkd-test.$$.$t_start
if ! err=$(mkdir "$cg" 2>&1); then
	cg=
	skip "the kernel refuses a child cgroup: $err"
fi

state=$(mktemp -d "$build/systemd-ns.XXXXXX") || abort "mktemp"
mkdir "$state/root"

# A bound on the whole run: a hung step ends in teardown, not in a hang.
(
	trap 'kill $s 2>/dev/null; wait $s; exit 0' TERM
	sleep "$limit" & s=$!
	wait $s && kill -ALRM $$
) 2> /dev/null &
watchdog=$!

# script(1) gives the namespace a pseudo-terminal for /dev/console.
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
# unshare waits in the new cgroup, outside the namespaces: put it back
# where it came from, so that the namespace's systemd has its cgroup
# tree to itself.
[ -s "$state/unshare.pid" ] &&
    cat "$state/unshare.pid" > "$cghome/cgroup.procs" 2>/dev/null
: > "$state/go"

# ns COMMAND...: run COMMAND in every namespace of the booted system.
ns() {
	timeout -k 2 20 nsenter -t "$nspid" -a env -i PATH=$path \
	    SYSTEMD_PAGER= SYSTEMD_COLORS=0 LC_ALL=C "$@" < /dev/null
}
# prop UNIT PROPERTY
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
version=$(ns systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
case $running in
running)
	ok "boot: systemd $version is running as PID 1 of the namespaces"
	;;
degraded)
	ok "boot: systemd $version is running as PID 1 of the namespaces," \
	    "degraded by" $(ns systemctl list-units --failed --plain \
	    --no-legend | awk '{ print $1 }')
	;;
*)
	grep -v '^Script ' "$state/console.log" | tail -n 30 | note
	abort "boot: systemd is not up: \"$running\""
	;;
esac

# ---- install ------------------------------------------------------------

root=/proc/$nspid/root
# The configured directories, ${prefix} and all expanded.
mkvar() {
	printf 'print-var:\n\t@echo $(%s)\n' "$1" |
	    make -s --no-print-directory -C "$build" -f Makefile -f - print-var
}
bindir=$(mkvar bindir)
sbindir=$(mkvar sbindir)
sysconfdir=$(mkvar sysconfdir)
unitdir=$(mkvar systemdsystemunitdir)

# "make install" keeps an existing configuration: make sure that it is
# the shipped one that gets installed, not one the host may have.
ns rm -f "$sysconfdir/preforkd/preforkd.conf"

if ! make -s --no-print-directory -C "$build" install DESTDIR="$root" \
    > "$state/install.log" 2>&1; then
	tail -n 20 "$state/install.log" | note
	abort "install: make install DESTDIR=/proc/PID/root"
fi
ns systemctl daemon-reload
where="in $unitdir"
if [ -z "$(prop preforkd.service FragmentPath)" ]; then
	# Configured without a unit directory, or one systemd does not
	# read: the units go where it reads first.
	cp "$build/init/preforkd.service" "$src/init/preforkd.socket" \
	    "$root/etc/systemd/system/"
	ns systemctl daemon-reload
	where="copied to /etc/systemd/system ($unitdir is not read)"
fi
conf=$(prop preforkd.service ExecStart |
    sed -n 's/.* -c \([^ ;]*\).*/\1/p')
if [ -n "$(prop preforkd.service FragmentPath)" ] &&
    [ -n "$(prop preforkd.socket FragmentPath)" ] &&
    [ -n "$conf" ] && ns test -r "$conf" &&
    ns test -x "$bindir/preforkd-client"; then
	ok "install: units $where, configuration $conf"
else
	abort "install: unit \"$(prop preforkd.service FragmentPath)\", configuration \"$conf\""
fi

# ---- helpers for the checks ---------------------------------------------

# The journal's last cursor: the entries after it are what a check caused.
cursor() {
	ns journalctl -q -n 1 -o export 2>/dev/null |
	    sed -n 's/^__CURSOR=//p'
}
# journal CURSOR [OPTION...]: preforkd's entries after CURSOR.
journal() {
	_c=$1; shift
	ns journalctl -q --no-pager -u preforkd.service \
	    ${_c:+--after-cursor="$_c"} "$@"
}
# wait_log CURSOR TEXT...: up to 10 s for every TEXT in preforkd's log.
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
# wait_prop UNIT PROPERTY VALUE: up to 10 s for it.
wait_prop() {
	_d=$(($(now) + 10000))
	while [ "$(prop "$1" "$2")" != "$3" ]; do
		[ "$(now)" -lt "$_d" ] || return 1
		sleep 0.1
	done
}
# The greeting through the installed client, on the namespace's loopback.
banner() {
	ns "$bindir/preforkd-client" -h 127.0.0.1 -p "$port" -t 10 "$@" 2>&1
}
served() {
	[ "$(banner -m "${1:-hello}")" = "Welcome to Network Server!!" ]
}
# The pids of the namespace's processes named preforkd.
procs() {
	ns sh -c 'for f in /proc/[0-9]*/comm; do
		read -r c < "$f" 2>/dev/null && [ "$c" = preforkd ] &&
		    { p=${f#/proc/}; echo "${p%/comm}"; }
	done; :' | tr '\n' ' '
}
# A clean slate for the next start: not failed, start limit cleared.
fresh() {
	ns systemctl reset-failed preforkd.service preforkd.socket \
	    2>/dev/null
	:
}
setconf() {
	ns sh -c 'printf "%s\n" "$2" > "$1"' sh "$conf" "$1"
}
# What a failed check shows: the unit's state and its last log lines.
show() {
	for _p in ActiveState SubState Result MainPID NRestarts \
	    ExecMainStatus StatusText; do
		printf '%s=%s\n' "$_p" "$(prop preforkd.service $_p)"
	done | note
	journal "$1" -o cat | tail -n 15 | note
}

ns cp "$conf" "$conf.orig"
restsec=$(prop preforkd.service RestartUSec |
    sed -n 's/^\([0-9]*\)s$/\1/p')
restsec=${restsec:-2}

# ---- 1. start -----------------------------------------------------------
c=$(cursor)
if ns systemctl start preforkd.service; then rc=0; else rc=$?; fi
st=$(prop preforkd.service ActiveState)
status=$(prop preforkd.service StatusText)
pid1=$(prop preforkd.service MainPID)
if [ "$rc" -eq 0 ] && [ "$st" = active ] &&
    case $status in *worker*) true ;; *) false ;; esac &&
    wait_log "$c" "ready generation=1" && served; then
	ok "start: active once READY=1 (MainPID $pid1, \"$status\"), serves 127.0.0.1:$port"
else
	fail "start: systemctl start=$rc, $st, status \"$status\", banner \"$(banner)\""
	show "$c"
fi

# ---- 2. reload ----------------------------------------------------------
c=$(cursor)
if ns systemctl reload preforkd.service; then rc=0; else rc=$?; fi
if [ "$rc" -eq 0 ] &&
    wait_log "$c" "reloaded generation=2" "ready generation=2" &&
    wait_prop preforkd.service ActiveState active &&
    [ "$(prop preforkd.service MainPID)" = "$pid1" ] && served; then
	ok "reload: same MainPID $pid1, generation 2 ready, active, serving"
else
	fail "reload: systemctl reload=$rc, MainPID $(prop preforkd.service MainPID) (was $pid1)"
	show "$c"
fi

# ---- 2b. a refused reload: systemctl says so -------------------------------
# ExecReload= asks through the control socket and waits for the outcome:
# a file the daemon refuses fails "systemctl reload" with its FILE:LINE
# cause, and the running generation serves on.
c=$(cursor)
ns cp "$conf" "$conf.good"
ns sh -c 'printf "workers = 0;\n" >> "$1"' sh "$conf"
if out=$(ns systemctl reload preforkd.service 2>&1); then rc=0; else rc=$?; fi
ns mv "$conf.good" "$conf"
if [ "$rc" -ne 0 ] && wait_log "$c" "reload failed: $conf:" &&
    journal "$c" -o cat | grep -q "the daemon answered: reload failed: $conf:" &&
    [ "$(prop preforkd.service ActiveState)" = active ] &&
    [ "$(prop preforkd.service MainPID)" = "$pid1" ] && served; then
	ok "reload refused: systemctl reload exits $rc, the journal says why ($conf:LINE), same MainPID $pid1 active and serving"
else
	fail "reload refused: systemctl reload=$rc ($out), $(prop preforkd.service ActiveState)"
	show "$c"
fi

# ---- 3. journal ---------------------------------------------------------
# A terminal escape, a tab, a CR, quotes, a backslash and a control byte
# from a client, its line ended by LF, reach the journal escaped, through
# syslog.
c=$(cursor)
msg="$(printf 'hi\033[31m\tred\r"q"\\\001')
"
want='msg="hi\x1b[31m\tred\r\"q\"\\\x01"'
served "$msg"
if wait_log "$c" "$want"; then
	entry=$(journal "$c" -o export | W=$want awk '
	    BEGIN { RS = "" } index($0, ENVIRON["W"]) { print; exit }')
	case $entry in
	*"$(printf '\033')"*)
		fail "journal: a raw escape byte reached the journal" ;;
	*_TRANSPORT=syslog*)
		ok "journal: client bytes logged escaped, $want, via syslog" ;;
	*)
		fail "journal: the message did not come through syslog"
		printf '%s\n' "$entry" | note ;;
	esac
else
	fail "journal: no escaped message line"
	show "$c"
fi

# ---- 3b. status and metrics --------------------------------------------
# The installed configuration serves the control socket in the unit's
# RuntimeDirectory; root asks it through the default configuration file.
c=$(cursor)
mpid=$(prop preforkd.service MainPID)
if st_out=$(ns "$sbindir/preforkd" -s status 2>&1); then st_rc=0
else st_rc=$?; fi
if mt_out=$(ns "$sbindir/preforkd" -s metrics 2>&1); then mt_rc=0
else mt_rc=$?; fi
mode=$(ns stat -c '%a %F' /run/preforkd/control 2>&1)
if [ "$st_rc" -eq 0 ] && [ "$mt_rc" -eq 0 ] && [ "$mode" = "600 socket" ] &&
    case $st_out in *"pid=$mpid "*"generation: 2"*"PID "*) true ;;
    *) false ;; esac &&
    case $mt_out in *"preforkd_generation 2"*"# TYPE preforkd_workers gauge"*) true ;;
    *) false ;; esac; then
	ok "status: preforkd -s status and -s metrics answer on /run/preforkd/control ($mode)"
else
	fail "status: -s status=$st_rc, -s metrics=$mt_rc, control socket \"$mode\""
	printf '%s\n%s\n' "$st_out" "$mt_out" | head -n 20 | note
	show "$c"
fi

# ---- 3c. upgrade in place -----------------------------------------------
# The binary is replaced (a new file renamed over the old, as a package
# does) by the suite's second build, which says another version, and the
# master alone gets USR2: the same MainPID runs the new version, the unit
# stays active, a new generation serves.  The original goes back after.
c=$(cursor)
mpid=$(prop preforkd.service MainPID)
next=$build/tests/preforkd-next
[ -x "$next" ] || make -s -C "$build" tests/preforkd-next > /dev/null 2>&1
cp "$root$sbindir/preforkd" "$state/preforkd.orig"
if cp "$next" "$root$sbindir/preforkd.new" &&
    mv "$root$sbindir/preforkd.new" "$root$sbindir/preforkd" &&
    ns systemctl kill --kill-who=main -s USR2 preforkd.service &&
    wait_log "$c" "+next in place of version=" "reloaded generation=3" &&
    wait_prop preforkd.service ActiveState active &&
    [ "$(prop preforkd.service MainPID)" = "$mpid" ] && served &&
    case $(ns "$sbindir/preforkd" -s status 2>&1) in
    *"+next pid=$mpid "*) true ;; *) false ;; esac; then
	ok "upgrade: systemctl kill -s USR2 (main): same MainPID $mpid, active, runs $(ns "$sbindir/preforkd" -V), generation 3"
else
	fail "upgrade: MainPID $(prop preforkd.service MainPID) (was $mpid), $(prop preforkd.service ActiveState)"
	show "$c"
fi
cp "$state/preforkd.orig" "$root$sbindir/preforkd.new" &&
    mv "$root$sbindir/preforkd.new" "$root$sbindir/preforkd"

# ---- 3d. TLS, the key a credential -----------------------------------------
# The packaged unit runs the daemon as a dynamic user, who cannot read a
# key of mode 0600: named by its path it is refused at reload (the running
# generation serves on); given as a credential (LoadCredential= in a
# drop-in, key = "credential:NAME"), the restarted service serves TLS.
tlsport=9443
tlsdir=/etc/preforkd/tls
dropin=/etc/systemd/system/preforkd.service.d
# tls_conf KEY: the shipped file, its listener and a TLS one with KEY.
tls_conf() {
	ns sh -c 'sed "/^listen = {/,/^};/d" "$1.notls" > "$1" &&
	    printf "listen = ( { address = \"127.0.0.1\"; port = %s; },
	    { address = \"127.0.0.1\"; port = %s; tls = {
	    certificate = \"%s/cert.pem\"; key = \"%s\"; }; } );\n" \
	    "$2" "$3" "$4" "$5" >> "$1"' sh "$conf" "$port" "$tlsport" \
	    "$tlsdir" "$1"
}
tls_served() {
	ns sh -c 'printf "hello\r\n" | timeout 10 openssl s_client -quiet \
	    -connect 127.0.0.1:$1 2>/dev/null' sh "$tlsport" |
	    grep -aq "Welcome to Network Server!!"
}
c=$(cursor)
ns cp "$conf" "$conf.notls"
ns sh -c 'mkdir -p "$1" && openssl req -x509 -newkey ec -pkeyopt \
    ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
    -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null &&
    chmod 0600 "$1/key.pem" && chmod 0644 "$1/cert.pem"' sh "$tlsdir"
tls_conf "$tlsdir/key.pem"
if ns systemctl reload preforkd.service > /dev/null 2>&1; then rc=0
else rc=$?; fi
if [ "$rc" -ne 0 ] &&
    wait_log "$c" "listen.tls.key \"$tlsdir/key.pem\": Permission denied" &&
    [ "$(prop preforkd.service ActiveState)" = active ] && served; then
	ok "tls: a key of mode 0600 named by its path is refused at reload (the dynamic user cannot read it), serving on"
else
	fail "tls: reload with an unreadable key: systemctl reload=$rc"
	show "$c"
fi
# Whether this systemd lets a dynamic user read its credentials: a
# systemd that cannot mount their directory here leaves it root's.
cred_probe=$(ns systemd-run --quiet --wait --pipe --collect \
    -p DynamicUser=yes -p LoadCredential=probe:$tlsdir/cert.pem \
    sh -c 'head -c 27 "$CREDENTIALS_DIRECTORY/probe"' 2>&1)
c=$(cursor)
ns mkdir -p "$dropin"
ns sh -c 'printf "[Service]\nLoadCredential=tls-key:%s/key.pem\n" "$2" \
    > "$1/tls.conf"' sh "$dropin" "$tlsdir"
ns systemctl daemon-reload
tls_conf "credential:tls-key"
if [ "$cred_probe" != "-----BEGIN CERTIFICATE-----" ]; then
	printf "SKIPPED: tls: the key as a credential: a dynamic user cannot read its own credentials under this systemd (%s)\n" "$cred_probe"
elif ns systemctl restart preforkd.service &&
    wait_log "$c" "ready generation=1" && served && tls_served &&
    wait_log "$c" "tls=TLSv1.3"; then
	ok "tls: LoadCredential= in a drop-in and key = \"credential:tls-key\": the restarted service serves TLS on $tlsport (journal: tls=TLSv1.3) and clear text on $port"
else
	fail "tls: with the key as a credential: $(prop preforkd.service ActiveState)"
	show "$c"
fi
# Debian's way for a key that services share: a group may read it
# (ssl-cert), and the unit joins that group.
c=$(cursor)
ns sh -c 'getent group ssl-cert > /dev/null || groupadd -r ssl-cert'
ns chgrp ssl-cert "$tlsdir/key.pem"
ns chmod 0640 "$tlsdir/key.pem"
ns sh -c 'printf "[Service]\nSupplementaryGroups=ssl-cert\n" \
    > "$1/tls.conf"' sh "$dropin"
ns systemctl daemon-reload
tls_conf "$tlsdir/key.pem"
if ns systemctl restart preforkd.service &&
    wait_log "$c" "ready generation=1" && served && tls_served &&
    wait_log "$c" "tls=TLSv1.3"; then
	ok "tls: a key of mode 0640, group ssl-cert, and SupplementaryGroups=ssl-cert in a drop-in: the dynamic user reads it, TLS served on $tlsport"
else
	fail "tls: with the key in group ssl-cert: $(prop preforkd.service ActiveState)"
	show "$c"
fi
ns rm -rf "$dropin" "$tlsdir"
ns mv "$conf.notls" "$conf"
ns systemctl daemon-reload
ns systemctl restart preforkd.service || true

# ---- 4. stop ------------------------------------------------------------
c=$(cursor)
if ns systemctl stop preforkd.service; then rc=0; else rc=$?; fi
left=$(procs)
st=$(prop preforkd.service ActiveState)
if [ "$rc" -eq 0 ] && [ "$st" = inactive ] && [ -z "$left" ]; then
	ok "stop: inactive, no preforkd process left"
else
	fail "stop: systemctl stop=$rc, $st, processes left: $left"
	show "$c"
fi

# ---- 5. crash: kill -9 of the master ------------------------------------
fresh
c=$(cursor)
ns systemctl start preforkd.service
pid1=$(prop preforkd.service MainPID)
n0=$(prop preforkd.service NRestarts)
ns sh -c 'kill -KILL "$1"' sh "$pid1"
d=$(($(now) + (restsec + 8) * 1000))
pid2=$pid1
while [ "$(now)" -lt "$d" ]; do
	pid2=$(prop preforkd.service MainPID)
	[ "$pid2" != "$pid1" ] && [ "$pid2" != 0 ] &&
	    [ "$(prop preforkd.service ActiveState)" = active ] && break
	sleep 0.2
done
n1=$(prop preforkd.service NRestarts)
if [ "$pid1" != 0 ] && [ "$pid2" != "$pid1" ] && [ "$pid2" != 0 ] &&
    [ "$(prop preforkd.service ActiveState)" = active ] &&
    [ "$n1" -ge $((n0 + 1)) ] && served; then
	ok "restart: SIGKILLed master $pid1 replaced by $pid2 after RestartSec=${restsec}s, NRestarts=$n1, serving"
else
	fail "restart: MainPID $pid1 -> $pid2, NRestarts $n0 -> $n1"
	show "$c"
fi
ns systemctl stop preforkd.service

# ---- 5b. watchdog: a master that stops turning is restarted ------------
# The shipped WatchdogSec= is 30 s; a drop-in makes it 3 s here.  Fed
# from the loop, the watchdog never fires on a master that runs (7 s,
# more than two periods); a SIGSTOPped master is killed and restarted.
fresh
dropin=$root/run/systemd/system/preforkd.service.d
mkdir -p "$dropin"
printf '[Service]\nWatchdogSec=3s\n' > "$dropin/watchdog.conf"
ns systemctl daemon-reload
c=$(cursor)
ns systemctl start preforkd.service
pid1=$(prop preforkd.service MainPID)
n0=$(prop preforkd.service NRestarts)
wd=$(prop preforkd.service WatchdogUSec)
sleep 7
pid_fed=$(prop preforkd.service MainPID)
n_fed=$(prop preforkd.service NRestarts)
ns sh -c 'kill -STOP "$1"' sh "$pid1"
d=$(($(now) + (3 + restsec + 10) * 1000))
pid2=$pid1
while [ "$(now)" -lt "$d" ]; do
	pid2=$(prop preforkd.service MainPID)
	[ "$pid2" != "$pid1" ] && [ "$pid2" != 0 ] &&
	    [ "$(prop preforkd.service ActiveState)" = active ] && break
	sleep 0.2
done
if [ "$wd" = 3s ] && [ "$pid_fed" = "$pid1" ] && [ "$n_fed" = "$n0" ] &&
    [ "$pid2" != "$pid1" ] && [ "$pid2" != 0 ] &&
    journal "$c" | grep -q "Watchdog timeout" && served; then
	ok "watchdog: fed from the loop for 7s with WatchdogSec=$wd (same MainPID $pid1); SIGSTOPped, it was killed on the watchdog and replaced by $pid2, serving"
else
	fail "watchdog: WatchdogSec=$wd, MainPID $pid1 -> $pid_fed (fed) -> $pid2, NRestarts $n0 -> $n_fed"
	show "$c"
fi
ns systemctl stop preforkd.service
rm -f "$dropin/watchdog.conf"
ns systemctl daemon-reload

# ---- 5c. restart under load: the socket waits in systemd's store -------
# The master hands its listening socket to systemd's file descriptor
# store (FileDescriptorStoreMax=), which keeps it while the service
# restarts: "systemctl restart" under a closed-loop load (32 clients of
# the greeting) and 200 clients arriving on their own passes the same
# socket to the new master, whose workers take what queued meanwhile.
# Not one connection is refused or reset.
fresh
lg=/tmp/loadgen
[ -x "$build/tests/loadgen" ] ||
    make -s -C "$build" tests/loadgen > /dev/null 2>&1
cp "$build/tests/loadgen" "$root$lg" 2>/dev/null
# load_start NAME SECONDS: the load, in the background, for that long;
# from four addresses, 8 clients each, never over the shipped per_source.
load_start() {
	timeout -k 2 $(($2 + 15)) nsenter -t "$nspid" -a env -i PATH=$path \
	    "$lg" -p "$port" -m greeting -c 32 -t 2 -w 0 -d "$2" \
	    -s 127.0.0.1 -n 4 \
	    > "$state/load.$1" 2>&1 < /dev/null &
	lgpid=$!
}
# load_wait NAME: sets conns and errors ("" if the load never ran).
load_wait() {
	wait "$lgpid" 2>/dev/null
	conns=$(sed -n 's/^RESULT .* conns=\([0-9]*\) .*/\1/p' "$state/load.$1")
	errors=$(sed -n 's/^RESULT .* errors=\([0-9]*\) .*/\1/p' \
	    "$state/load.$1")
}
# arrivals_start NAME N: N clients that come one every 10 ms or so,
# whether or not the ones before were served (the closed loop above
# waits for each, and so never knocks while the port is closed), each a
# whole greeting through the installed client.
arrivals_start() {
	timeout -k 2 30 nsenter -t "$nspid" -a env -i PATH=$path sh -c '
		i=0
		while [ $i -lt "$1" ]; do
			{ "$2" -h 127.0.0.1 -p "$3" -t 10 -m arrival \
			    > /dev/null 2>&1 && echo ok || echo failed; } &
			sleep 0.01
			i=$((i + 1))
		done
		wait' sh "$2" "$bindir/preforkd-client" "$port" \
	    > "$state/arrivals.$1" 2>&1 < /dev/null &
	arpid=$!
}
# arrivals_wait NAME: sets arrived and refused (those not served).
arrivals_wait() {
	wait "$arpid" 2>/dev/null
	arpid=
	arrived=$(grep -c . "$state/arrivals.$1")
	refused=$(grep -vc '^ok$' "$state/arrivals.$1")
}
# The inode of the socket listening on 127.0.0.1:$port ("" if none).
sock_inode() {
	ns awk -v a="0100007F:$(printf %04X "$port")" \
	    '$2 == a && $4 == "0A" { print $10 }' /proc/net/tcp
}
c=$(cursor)
ns systemctl start preforkd.service
pid1=$(prop preforkd.service MainPID)
ino1=$(sock_inode)
stored=no
wait_log "$c" "handed to systemd's file descriptor store as listen-127.0.0.1-$port" &&
    stored=yes
c=$(cursor)
load_start restart 5
arrivals_start restart 200
sleep 1.5
ns systemctl restart preforkd.service
pid2=$(prop preforkd.service MainPID)
load_wait restart
arrivals_wait restart
ino2=$(sock_inode)
if [ "$stored" = yes ] && [ "$pid2" != "$pid1" ] && [ "$pid2" != 0 ] &&
    [ "$(prop preforkd.service ActiveState)" = active ] &&
    wait_log "$c" "socket from systemd's store 127.0.0.1:$port" &&
    [ -n "$ino1" ] && [ "$ino2" = "$ino1" ] &&
    [ "${conns:-0}" -gt 0 ] 2>/dev/null && [ "$errors" -eq 0 ] &&
    [ "$arrived" -eq 200 ] && [ "$refused" -eq 0 ] && served
then
	ok "restart under load: systemctl restart, MainPID $pid1 -> $pid2, the same socket (inode $ino1) from systemd's store; $errors failed of $conns connections, $refused of $arrived arrivals"
else
	fail "restart under load: stored $stored, MainPID $pid1 -> $pid2, socket inode $ino1 -> $ino2, load: ${errors:-?} failed of ${conns:-?} connections, ${refused:-?} of ${arrived:-?} arrivals"
	cat "$state/load.restart" | note
	show "$c"
fi

# ---- 5d. crash under load: served from the same socket -----------------
# SIGKILL to the master under the same load: its workers die with it
# (what they were serving fails, at most one connection each), the
# socket stays in the store, and the master Restart= starts after
# RestartSec= serves what queued in between.
fresh
c=$(cursor)
pid1=$(prop preforkd.service MainPID)
ino1=$(sock_inode)
load_start crash $((restsec + 6))
sleep 1.5
# The pool as the master dies (a dynamic one grows under load): counted
# while the master is stopped, so that none is added between the count
# and the kill.
workers=$(ns sh -c 'kill -STOP "$1" &&
    grep -l "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status | wc -l;
    kill -KILL "$1"' sh "$pid1" 2>/dev/null)
d=$(($(now) + (restsec + 8) * 1000))
pid2=$pid1
while [ "$(now)" -lt "$d" ]; do
	pid2=$(prop preforkd.service MainPID)
	[ "$pid2" != "$pid1" ] && [ "$pid2" != 0 ] &&
	    [ "$(prop preforkd.service ActiveState)" = active ] && break
	sleep 0.2
done
load_wait crash
ino2=$(sock_inode)
if [ "$pid2" != "$pid1" ] && [ "$pid2" != 0 ] &&
    [ "$(prop preforkd.service ActiveState)" = active ] &&
    wait_log "$c" "socket from systemd's store 127.0.0.1:$port" &&
    [ -n "$ino1" ] && [ "$ino2" = "$ino1" ] &&
    [ "${conns:-0}" -gt 0 ] 2>/dev/null && [ "$workers" -gt 0 ] &&
    [ "$errors" -le "$workers" ] && served
then
	ok "crash under load: SIGKILLed master $pid1 replaced by $pid2 after RestartSec=${restsec}s on the same socket (inode $ino1); $errors failed of $conns connections (in flight on its $workers workers: at most $workers may)"
else
	fail "crash under load: MainPID $pid1 -> $pid2, socket inode $ino1 -> $ino2, load: ${errors:-?} failed of ${conns:-?} connections ($workers workers)"
	cat "$state/load.crash" | note
	show "$c"
fi
ns systemctl stop preforkd.service
lgpid=

# ---- 6. socket activation -----------------------------------------------
fresh
c=$(cursor)
ns systemctl start preforkd.socket
before=$(prop preforkd.service ActiveState)
out=$(banner -m "by socket")
wait_prop preforkd.service ActiveState active
after=$(prop preforkd.service ActiveState)
if [ "$(prop preforkd.socket ActiveState)" = active ] &&
    [ "$before" = inactive ] &&
    [ "$out" = "Welcome to Network Server!!" ] && [ "$after" = active ] &&
    wait_log "$c" "socket from systemd 127.0.0.1:$port" \
    'msg="by socket"'; then
	ok "socket activation: a connection to preforkd.socket started the service, which took the socket over and served it"
else
	fail "socket activation: service $before -> $after, banner \"$out\""
	show "$c"
fi
ns systemctl stop preforkd.socket preforkd.service

# ---- 7. broken configuration --------------------------------------------
fresh
c=$(cursor)
setconf 'workers = "many";'
if ns systemctl start preforkd.service 2>/dev/null; then rc=0; else rc=$?; fi
inv=$(prop preforkd.service InvocationID)
n0=$(prop preforkd.service NRestarts)
sleep $((2 * restsec + 1))
st=$(prop preforkd.service ActiveState)
n1=$(prop preforkd.service NRestarts)
res=$(prop preforkd.service Result)
code=$(prop preforkd.service ExecMainStatus)
if [ "$rc" -ne 0 ] && [ "$st" = failed ] && [ "$n1" = "$n0" ] &&
    [ "$(prop preforkd.service InvocationID)" = "$inv" ] &&
    [ "$res" = exit-code ] && [ "$code" = 78 ] &&
    wait_log "$c" "preforkd.conf:1:"; then
	ok "broken configuration: failed with status 78, still failed $((2 * restsec + 1))s later with NRestarts=$n1: not restarted"
else
	fail "broken configuration: start=$rc, $st, Result=$res, status $code, NRestarts $n0 -> $n1"
	show "$c"
fi
ns systemctl stop preforkd.service 2>/dev/null
ns cp "$conf.orig" "$conf"

# ---- 8. security rating of the live unit --------------------------------
score=$(ns systemd-analyze security preforkd.service 2>/dev/null |
    sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
	ok "security: systemd-analyze security rates the loaded unit $score (<= 2.0)"
else
	fail "security: exposure \"$score\" (must be <= 2.0)"
fi

# ---- 9. start limit -----------------------------------------------------
# A crash loop (here: an address that cannot be bound, status 71) is
# restarted every RestartSec until StartLimitBurst starts have been made
# within StartLimitIntervalSec, then stays failed.
fresh
c=$(cursor)
burst=$(prop preforkd.service StartLimitBurst)
setconf "listen = { address = \"192.0.2.1\"; port = $port; };"
ns systemctl start preforkd.service 2>/dev/null
d=$(($(now) + (burst * (restsec + 1) + 5) * 1000))
while [ "$(now)" -lt "$d" ]; do
	[ "$(prop preforkd.service ActiveState)" = failed ] &&
	    [ "$(prop preforkd.service NRestarts)" -ge "$burst" ] && break
	sleep 0.5
done
n0=$(prop preforkd.service NRestarts)
sleep $((restsec + 1))
st=$(prop preforkd.service ActiveState)
n1=$(prop preforkd.service NRestarts)
code=$(prop preforkd.service ExecMainStatus)
if [ "$st" = failed ] && [ "$n0" = "$burst" ] && [ "$n1" = "$n0" ] &&
    [ "$code" = 71 ] &&
    wait_log "$c" "Start request repeated too quickly"; then
	ok "start limit: a crash loop (status $code) stopped after StartLimitBurst=$burst starts, still failed $((restsec + 1))s later"
else
	fail "start limit: $st, status $code, NRestarts $n0 -> $n1, StartLimitBurst=$burst"
	show "$c"
fi
ns systemctl stop preforkd.service 2>/dev/null
ns cp "$conf.orig" "$conf"

summary
[ "$failed" -eq 0 ]
