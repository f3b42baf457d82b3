#!/bin/sh
# SPDX-License-Identifier: ISC
# bootstrap.sh - from a fresh Debian 12 checkout to a running or tested
# preforkd.
#
#   ./bootstrap.sh run     install what is missing, build, run preforkd in
#                          the foreground with etc/preforkd.conf
#   ./bootstrap.sh check   install what is missing, build, run every test
#   ./bootstrap.sh build   install what is missing and build only
#   ./bootstrap.sh scaleout           three hosts behind HAProxy, in
#                                      network namespaces, under load
#   ./bootstrap.sh fuzz [SECONDS]      run each fuzz target that long
#   ./bootstrap.sh valgrind [SUITE|all] memcheck over the daemon tests
#   ./bootstrap.sh deb [REV]           the Debian package, into build/deb/
#   ./bootstrap.sh deb-check [REV]     that, then install, upgrade, remove
#                                      and purge it under a real systemd
#   ./bootstrap.sh deb-chroot [REV]    that, then build it again in a clean
#                                      bookworm chroot (build/deb-chroot/)
#
# Builds happen out of tree: build/ (warnings are errors) and, for check,
# build-san/ (AddressSanitizer + UndefinedBehaviorSanitizer).
#
# check ends with two lines: what failed, by name, then the count, which
# is always the last line:
#
#   failed tests: modules:test_module_reload (build-san); stage "make distcheck"
#   120 passed, 2 failed
#
# A Check test is named TCASE:TEST (BUILD), a stage of its own stage
# "NAME", one check of a stage STAGE: CHECK; "; " separates them, and
# after 20 of them "and N more" stands for the rest.  With nothing failed
# the count alone ends the output ("120 passed, 0 failed").  The package
# is built from a copy of the working tree (the files git knows, tracked
# or new), or of commit REV, in build/deb/.
set -eu

cd "$(dirname "$0")"
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

# Build: compiler, autotools, libconfig, Check.  Tests: systemd-analyze
# and systemd itself (systemd), stdbuf and timeout (coreutils), unshare,
# nsenter, setpriv and mount (util-linux, mount), script (bsdutils),
# libFuzzer (clang, libclang-rt-14-dev), valgrind, a real Prometheus
# scraping the metrics endpoint and promtool checking its text
# (prometheus); the scale-out test: haproxy, ip (iproute2), and perl
# (always there).  The Debian package:
# debhelper (with dh-autoreconf), lintian, git (the files to package),
# debootstrap (the clean build chroot).
packages="build-essential autoconf automake pkg-config libconfig-dev check
libssl-dev openssl
systemd coreutils util-linux mount bsdutils"
deb_packages="debhelper lintian git"
scaleout_packages="haproxy iproute2"
check_packages="clang libclang-rt-14-dev valgrind prometheus $deb_packages
debootstrap $scaleout_packages"

say() { printf '==> %s\n' "$*"; }

install_missing() {
	missing=
	for p in $packages ${1:-}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "bootstrap.sh: missing Debian packages; as root run:" >&2
		echo "  apt-get install -y$missing" >&2
		exit 1
	fi
	say "installing:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get update -q
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $missing
}

# build DIR [configure options...]
build() {
	dir=$1; shift
	[ -x "$top/configure" ] || (say "autoreconf"; autoreconf -fi)
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ]; then
		say "configure $dir $*"
		(cd "$dir" && "$top/configure" -q "$@")
	fi
	say "make $dir"
	make -s -C "$dir" -j"$jobs"
}

# failure NAME: remember what failed, for the line before the count.
nfailures=0 failures=
failure() {
	nfailures=$((nfailures + 1))
	[ "$nfailures" -le 20 ] || return 0
	failures="${failures:+$failures; }$*"
}

# Sum Check's "Checks: N, Failures: F, Errors: E" lines of a build's
# test logs into the totals, and name the failed tests.
count_check() {
	for log in "$1"/tests/check_*.log; do
		[ -f "$log" ] || continue
		line=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -n 1)
		if [ -z "$line" ]; then
			failed=$((failed + 1))
			t=${log##*/}
			failure "tests/${t%.log} (${1##*/}): no summary"
			continue
		fi
		n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
		f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
		e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
		passed=$((passed + n - f - e))
		failed=$((failed + f + e))
		check_failures "$log" "${1##*/}"
	done
}

# check_failures LOG BUILD: name the failed tests of a Check log, from
# its lines FILE:LINE:F:TCASE:TEST:ITERATION: MESSAGE (E for an error).
# Lines of a daemon's log that the tests print are indented: never one
# of these.
check_failures() {
	while IFS= read -r ck_test; do
		[ -z "$ck_test" ] || failure "$ck_test ($2)"
	done <<-EOF
	$(sed -nE 's/^[^ :]+:[0-9]+:[EF]:([^:]+):([^:]+):[0-9]+: .*/\1:\2/p' \
	    "$1")
	EOF
}

# stage NAME COMMAND...: a check of its own, counted as one test.
stage() {
	name=$1; shift
	if "$@"; then
		say "ok: $name"; passed=$((passed + 1))
	else
		say "FAILED: $name"; failed=$((failed + 1))
		failure "stage \"$name\""
	fi
}

unit_checks() {
	unit=$top/build/preforkd-test.service
	sed -e "s|@sbindir@|$top/build|g" -e "s|@sysconfdir@|$top/etc/..|g" \
	    "$top/init/preforkd.service.in" > "$unit"
	cp "$top/init/preforkd.socket" "$top/build/preforkd-test.socket"
	systemd-analyze verify --man=no "$unit" \
	    "$top/build/preforkd-test.socket" || return 1
	score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null |
	    sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	say "systemd-analyze security: exposure $score (must be <= 2.0)"
	[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
}

# checks NAME COMMAND...: a stage made of checks that count one by one.
# COMMAND prints a line per check and "...: N passed, N failed" last; its
# status 77 is a skip ("SKIP: reason"), counted neither way.
checks() {
	ck_name=$1; shift
	ck_log=$top/build/checks.log
	{ ck_rc=0; "$@" 2>&1 || ck_rc=$?; echo "$ck_rc" > "$ck_log.rc"; } |
	    tee "$ck_log"
	ck_rc=$(cat "$ck_log.rc")
	if [ "$ck_rc" -eq 77 ]; then
		say "skipped: $ck_name: $(sed -n 's/^SKIP: //p' "$ck_log")"
		return 0
	fi
	ck_sum=$(grep -E ': [0-9]+ passed, [0-9]+ failed' "$ck_log" | tail -n 1)
	ck_p=$(echo "$ck_sum" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p')
	ck_f=$(echo "$ck_sum" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	passed=$((passed + ${ck_p:-0}))
	failed=$((failed + ${ck_f:-0}))
	if [ "$ck_rc" -eq 0 ] && [ -n "$ck_p" ]; then
		say "ok: $ck_name ($ck_p checks)"
	else
		say "FAILED: $ck_name"
		# Each failed check by name, after the stage's first words.
		ck_n=$nfailures
		while IFS= read -r ck_check; do
			[ -z "$ck_check" ] ||
			    failure "${ck_name%%:*}: $ck_check"
		done <<-EOF
		$(sed -n 's/^FAILED: \(.*\) \[[0-9.]*s\]$/\1/p' "$ck_log")
		EOF
		# Stopped before its summary: a failure all the same.
		[ "${ck_f:-0}" -gt 0 ] || failed=$((failed + 1))
		[ "$nfailures" -gt "$ck_n" ] || failure "stage \"$ck_name\""
	fi
}

# The shape of src/: file sizes, no include cycle, struct master's one
# owner, the source map (docs/architecture.md).
house() {
	sh "$top/tests/house.sh" "$top"
}

# README.md's commands as written, where a test can run them: the quick
# start, the configuration examples, -t's error, operations without
# systemd (in a network namespace of its own).
readme() {
	sh "$top/tests/readme.sh" "$top/build" "$top"
}

# A real systemd as PID 1 of private namespaces, the units installed
# there: start, reload, journal, stop, restart, socket activation, a
# broken configuration, the live security rating, the start limit.
systemd_ns() {
	sh "$top/tests/systemd/run.sh" "$top/build" "$top"
}

# A service module as its authors build it: examples/daytime against a
# DESTDIR install through pkg-config, loaded with module_dir, asked over
# TCP, and one of its configuration errors with FILE:LINE.
example_module() {
	bash "$top/tests/example.sh" "$top/build" "$top"
}

# Three preforkd hosts in network namespaces behind HAProxy, under load:
# rolling restart with drain, rolling reload, a host killed, a host
# overloaded (the short form; bench/scaleout.sh runs it longer).
scaleout() {
	sh "$top/tests/haproxy/scaleout.sh" "$top/build" "$top"
}

# The tarball builds, passes the suite, installs and uninstalls cleanly.
distcheck() {
	make -s -C "$top/build" distcheck > "$top/build/distcheck.log" 2>&1 ||
	    { tail -n 40 "$top/build/distcheck.log"; return 1; }
}

# fuzz: build the libFuzzer targets with ASan+UBSan and run each for
# $FUZZ_SECONDS (default 20) from the corpus in tests/fuzz/corpus.
fuzz_target() {
	target=$1; shift
	d=$top/build/fuzz
	mkdir -p "$d/corpus-$target"
	clang -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -I"$top/build" -I"$top/src" \
	    -I"$top/include" \
	    "$top/tests/fuzz/fuzz_$target.c" "$@" -o "$d/fuzz_$target" || return 1
	LSAN_OPTIONS=suppressions=$top/tests/fuzz/lsan.supp \
	"$d/fuzz_$target" -max_total_time="${FUZZ_SECONDS:-20}" -timeout=5 \
	    -rss_limit_mb=1024 -print_final_stats=1 \
	    -artifact_prefix="$d/" \
	    "$d/corpus-$target" "$top/tests/fuzz/corpus/$target" \
	    > "$d/fuzz_$target.log" 2>&1 ||
	    { tail -n 40 "$d/fuzz_$target.log"; return 1; }
	grep -E '^stat::number_of_executed_units' "$d/fuzz_$target.log" >&2
}
fuzz_config() {
	fuzz_target config src/conffile.c src/config.c src/confkeys.c \
	    src/conflisten.c src/service.c \
	    src/service_greeting.c src/service_echo.c src/conn.c src/escape.c \
	    src/log.c src/logsink.c src/loglimit.c src/addr.c src/scoreboard.c \
	    src/access.c src/confread.c src/proxy.c src/conftls.c src/tls.c \
	    src/tlsconn.c -lconfig -lssl -lcrypto
}
fuzz_greeting() {
	fuzz_target greeting src/service_greeting.c src/escape.c
}
fuzz_proxy() {
	fuzz_target proxy src/proxy.c src/addr.c
}
fuzz_tls() {
	fuzz_target tls src/tls.c src/tlsconn.c -lssl -lcrypto
}

# valgrind [SUITE]: memcheck over a daemon test suite (default: serving,
# "all" for every one), following every worker; no error and no definite
# leak in any process.
valgrind_suite() {
	d=$top/build/valgrind
	suite=${1:-serving}
	[ "$suite" = all ] && unset CK_RUN_SUITE || export CK_RUN_SUITE="$suite"
	rm -rf "$d"; mkdir -p "$d"
	(cd "$top/build" && CK_TIMEOUT_MULTIPLIER=4 \
	    PREFORKD_WRAPPER="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --track-fds=no --log-file=$d/vg.%p" \
	    PREFORKD=$top/build/preforkd \
	    PREFORKD_CLIENT=$top/build/preforkd-client \
	    SEED_CLIENT=$top/build/tests/seed_client \
	    SEED_SERVER=$top/build/tests/seed_server srcdir=$top \
	    LOADGEN=$top/build/tests/loadgen \
	    TEST_MODULES=$top/build/tests \
	    ./tests/check_daemon > "$d/check.log" 2>&1) ||
	    { valgrind_failures "$d/check.log"; return 1; }
	ls "$d"/vg.* >/dev/null 2>&1 || return 1
	if grep -l . "$d"/vg.* >/dev/null 2>&1; then
		cat "$d"/vg.* | head -n 60
		return 1
	fi
	echo "valgrind: $(ls "$d"/vg.* | wc -l) processes, no errors" >&2
}

# Check's failures and the daemons' logs that follow them, or the end of
# a run that did not get that far.
valgrind_failures() {
	if grep -qE '^[0-9]+%: Checks: ' "$1"; then
		sed -n '/^[0-9]*%: Checks: /,$p' "$1" | head -n 120
	else
		tail -n 20 "$1"
	fi
}

# ---- the Debian package ------------------------------------------------

# deb_tree DIR [REV]: the files to package, copied into DIR: those of the
# working tree that git knows (tracked, or new and not ignored), or REV's.
deb_tree() {
	mkdir -p "$1"
	if [ -n "${2:-}" ]; then
		git -C "$top" archive "$2" | tar -xf - -C "$1"
		return
	fi
	git -C "$top" ls-files -z --cached --others --exclude-standard |
	    (cd "$top" && xargs -0 sh -c \
	    'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done; :' sh) |
	    (cd "$top" && tar --null -T - -cf -) | tar -xf - -C "$1"
}

# deb_build [REV]: build/deb/ gets the source package (the orig tarball is
# the same files less debian/), preforkd_VERSION_ARCH.deb, lintian's
# verdict, and in upgrades/ three rebuilds VERSION+test1..3 that
# tests/systemd/deb.sh upgrades to.
deb_build() {
	d=$top/build/deb
	if [ ! -f "$top/debian/control" ]; then
		echo "no debian/ here (a release tarball carries none)" >&2
		return 1
	fi
	rm -rf "$d"
	mkdir -p "$d/upgrades"
	deb_tree "$d/preforkd" "${1:-}" || return 1
	v=$(dpkg-parsechangelog -l "$d/preforkd/debian/changelog" -S Version)
	(cd "$d" && tar --exclude=preforkd/debian --sort=name --mtime=@0 \
	    --owner=0 --group=0 --numeric-owner \
	    -czf "preforkd_${v%-*}.orig.tar.gz" preforkd) || return 1
	(cd "$d/preforkd" && dpkg-checkbuilddeps) || return 1
	t0=$(date +%s)
	if ! (cd "$d/preforkd" && dpkg-buildpackage -us -uc) \
	    > "$d/build.log" 2>&1; then
		tail -n 40 "$d/build.log"
		return 1
	fi
	say "dpkg-buildpackage: preforkd $v in $(($(date +%s) - t0))s:" \
	    "$(cd "$d" && echo *.dsc *.deb)"
	# Every tag shown; only errors and warnings fail.
	if ! lintian -I --pedantic --fail-on error,warning \
	    "$d/preforkd_${v}_$(dpkg --print-architecture).changes" \
	    > "$d/lintian.log" 2>&1; then
		cat "$d/lintian.log"
		return 1
	fi
	say "lintian: no error, no warning; other tags:" \
	    "$(grep -c '^[A-Z]: ' "$d/lintian.log")"
	sed -n 's/^\([A-Z]: .*\)/    \1/p' "$d/lintian.log"
	# Newer builds of the same tree, for the upgrade tests: only the
	# version differs (no clean, so only the packaging steps run again).
	for n in 1 2 3; do
		{
			printf 'preforkd (%s+test%s) UNRELEASED; urgency=medium\n\n' \
			    "$v" "$n"
			printf '  * Rebuilt to test upgrades.\n\n'
			sed -n 's/^\( -- .*>  \).*/\1/p' \
			    "$d/preforkd/debian/changelog" | head -n 1 |
			    tr -d '\n'
			date -R
			echo
			cat "$d/preforkd/debian/changelog"
		} > "$d/changelog.new"
		mv "$d/changelog.new" "$d/preforkd/debian/changelog"
		(cd "$d/preforkd" && dpkg-buildpackage -us -uc -b -nc) \
		    > "$d/build-test$n.log" 2>&1 ||
		    { tail -n 40 "$d/build-test$n.log"; return 1; }
		mv "$d"/*"+test$n"_* "$d/upgrades/"
	done
}

# Install, upgrade (under load, with and without socket activation),
# a broken configuration, remove and purge, under a real systemd.
deb_ns() {
	sh "$top/tests/systemd/deb.sh" "$top/build/deb" \
	    "$top/build/tests/loadgen"
}

# deb_chroot: Build-Depends are complete: the source package built by
# deb_build builds, as nobody, in a bookworm chroot that has only
# build-essential and what apt-get build-dep installs from the archive.
# The chroot is made once (debootstrap, about a minute) and kept in
# build/deb-chroot/; each build runs in a throwaway overlay of it, in a
# mount namespace of its own.
deb_chroot() {
	base=$top/build/deb-chroot
	d=$top/build/deb
	mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
	t0=$(date +%s)
	if [ ! -e "$base/.complete" ]; then
		rm -rf "$base"
		debootstrap --variant=buildd bookworm "$base" "$mirror" \
		    > "$top/build/deb-chroot.log" 2>&1 ||
		    { tail -n 20 "$top/build/deb-chroot.log"; return 1; }
		: > "$base/.complete"
		say "debootstrap --variant=buildd bookworm: $(($(date +%s) - t0))s"
	fi
	t1=$(date +%s)
	rm -rf "$d/chroot"
	mkdir -p "$d/chroot"
	unshare --mount --pid --fork --propagation private sh -euc '
		base=$1 d=$2 r=$(mktemp -d)
		mount -t tmpfs -o size=4g tmpfs "$r"
		mkdir "$r/upper" "$r/work" "$r/root"
		mount -t overlay \
		    -o "lowerdir=$base,upperdir=$r/upper,workdir=$r/work" \
		    overlay "$r/root"
		mount -t proc proc "$r/root/proc"
		cp /etc/resolv.conf "$r/root/etc/resolv.conf"
		mkdir "$r/root/build"
		cp "$d"/*.dsc "$d"/*.orig.tar.* "$d"/*.debian.tar.* \
		    "$r/root/build/"
		chroot "$r/root" sh -euc "
			export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
			apt-get update -q
			cd /build
			dpkg-source -x *.dsc preforkd
			apt-get build-dep -y -q --no-install-recommends ./preforkd
			chown -R nobody:nogroup /build
			cd preforkd
			setpriv --reuid=nobody --regid=nogroup --clear-groups \
			    env HOME=/build dpkg-buildpackage -us -uc -b
		"
		cp "$r/root/build/"*.deb "$d/chroot/"
	' sh "$base" "$d" > "$d/chroot.log" 2>&1 ||
	    { tail -n 30 "$d/chroot.log"; return 1; }
	# The same package as the one built here, path by path.
	for f in "$d"/preforkd_*.deb "$d"/chroot/preforkd_*.deb; do
		dpkg-deb -c "$f" | awk '{ print $1, $2, $6 }' > "$f.list"
	done
	cmp -s "$d"/preforkd_*.deb.list "$d"/chroot/preforkd_*.deb.list ||
	    { diff "$d"/preforkd_*.deb.list "$d"/chroot/preforkd_*.deb.list;
	    return 1; }
	say "clean chroot: build-dep installed $(grep -c '^Setting up' \
	    "$d/chroot.log") packages, built as nobody, same files; \
$(($(date +%s) - t1))s (with debootstrap: $(($(date +%s) - t0))s)"
}

suite() {
	dir=$1
	if make -s -C "$dir" check; then :; else
		for log in "$dir"/tests/check_*.log; do
			grep -E '^[^ :]+:[0-9]+:[EF]:' "$log" || true
		done
	fi
	count_check "$dir"
}

cmd=${1:-}
case $cmd in
run)
	install_missing
	build build --enable-werror
	say "preforkd on 127.0.0.1:9001 with etc/preforkd.conf (Ctrl-C stops)"
	exec "$top/build/preforkd" -f -e -c "$top/etc/preforkd.conf"
	;;
build)
	install_missing
	build build --enable-werror
	;;
fuzz)
	install_missing "$check_packages"
	build build --enable-werror
	FUZZ_SECONDS=${2:-600}
	fuzz_config && fuzz_greeting && fuzz_proxy && fuzz_tls
	;;
valgrind)
	install_missing "$check_packages"
	build build --enable-werror
	make -s -C build tests/check_daemon tests/seed_client \
	    tests/seed_server tests/loadgen tests/good.so tests/abi.so
	valgrind_suite "${2:-serving}"
	;;
check)
	install_missing "$check_packages"
	passed=0 failed=0
	build build --enable-werror
	suite build
	build build-san --enable-werror --enable-sanitizers
	ASAN_OPTIONS=detect_leaks=1 suite build-san
	checks "the shape of src/: file sizes, rooms without a cycle, the source map" house
	checks "README's commands as written: quick start, configuration examples, -t's error, operations without systemd" readme
	stage "systemd unit verifies and rates <= 2.0" unit_checks
	checks "real systemd in namespaces: units start, reload, stop, restart, socket activation, config error not restarted" systemd_ns
	checks "three hosts behind HAProxy: rolling restart, rolling reload, a host killed, a host overloaded" scaleout
	stage "example service module: pkg-config build, loaded, served, FILE:LINE error" example_module
	stage "fuzz: configuration files" fuzz_config
	stage "fuzz: greeting framing and escaping" fuzz_greeting
	stage "fuzz: PROXY protocol headers" fuzz_proxy
	stage "fuzz: TLS handshakes through our glue" fuzz_tls
	stage "valgrind memcheck of the daemon and its workers" valgrind_suite
	stage "make distcheck" distcheck
	if [ -f debian/control ]; then
		stage "Debian package builds and is lintian clean" deb_build
		checks "Debian package under a real systemd: install, conffile kept on upgrade, upgrade under load, socket activation, broken configuration, remove, purge" deb_ns
		stage "Debian package builds in a clean bookworm chroot" deb_chroot
	else
		say "skipped: Debian package: no debian/ (a release tarball)"
	fi
	# The last two lines: see the top of this file.
	if [ "$failed" -gt 0 ]; then
		[ "$nfailures" -le 20 ] ||
		    failures="$failures; and $((nfailures - 20)) more"
		echo "failed tests: ${failures:-(unnamed: see above)}"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	;;
scaleout)
	install_missing "$scaleout_packages"
	build build --enable-werror
	make -s -C build tests/loadgen
	passed=0 failed=0
	checks "three hosts behind HAProxy" scaleout
	[ "$failed" -eq 0 ]
	;;
deb)
	install_missing "$deb_packages"
	deb_build "${2:-}"
	;;
deb-check)
	install_missing "$deb_packages"
	deb_build "${2:-}"
	passed=0 failed=0
	checks "Debian package under a real systemd" deb_ns
	[ "$failed" -eq 0 ]
	;;
deb-chroot)
	install_missing "$deb_packages debootstrap"
	deb_build "${2:-}"
	deb_chroot
	;;
*)
	echo "usage: $0 run | check | build | scaleout | fuzz [SECONDS] | valgrind [SUITE|all] | deb [REV] | deb-check [REV] | deb-chroot [REV]" >&2
	exit 64
	;;
esac
