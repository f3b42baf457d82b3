#!/bin/sh
# bootstrap.sh - from a fresh Debian 12 checkout to a running or tested
# preforkd.
#
#   ./bootstrap.sh run     install what is missing, build, run preforkd in
#                          the foreground with etc/preforkd.conf
#   ./bootstrap.sh check   install what is missing, build, run every test
#   ./bootstrap.sh build   install what is missing and build only
#   ./bootstrap.sh fuzz [SECONDS]      run each fuzz target that long
#   ./bootstrap.sh valgrind [SUITE|all] memcheck over the daemon tests
#
# Builds happen out of tree: build/ (warnings are errors) and, for check,
# build-san/ (AddressSanitizer + UndefinedBehaviorSanitizer).
set -eu

cd "$(dirname "$0")"
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

# Build: compiler, autotools, libconfig, Check.  Tests: systemd-analyze
# and systemd itself (systemd), stdbuf and timeout (coreutils), unshare,
# nsenter, setpriv and mount (util-linux, mount), script (bsdutils),
# libFuzzer (clang, libclang-rt-14-dev), valgrind.
packages="build-essential autoconf automake pkg-config libconfig-dev check
systemd coreutils util-linux mount bsdutils"
check_packages="clang libclang-rt-14-dev valgrind"

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

# Sum Check's "Checks: N, Failures: F, Errors: E" lines of a build's
# test logs into the totals.
count_check() {
	for log in "$1"/tests/check_*.log; do
		[ -f "$log" ] || continue
		line=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -n 1)
		[ -n "$line" ] || { failed=$((failed + 1)); continue; }
		n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
		f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
		e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
		passed=$((passed + n - f - e))
		failed=$((failed + f + e))
	done
}

# stage NAME COMMAND...: a check of its own, counted as one test.
stage() {
	name=$1; shift
	if "$@"; then
		say "ok: $name"; passed=$((passed + 1))
	else
		say "FAILED: $name"; failed=$((failed + 1))
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
		# Stopped before its summary: a failure all the same.
		[ "${ck_f:-0}" -gt 0 ] || failed=$((failed + 1))
	fi
}

# A real systemd as PID 1 of private namespaces, the units installed
# there: start, reload, journal, stop, restart, socket activation, a
# broken configuration, the live security rating, the start limit.
systemd_ns() {
	sh "$top/tests/systemd/run.sh" "$top/build" "$top"
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
	fuzz_target config src/conffile.c src/config.c src/service.c \
	    src/service_greeting.c src/service_echo.c src/conn.c src/escape.c \
	    src/log.c -lconfig
}
fuzz_greeting() {
	fuzz_target greeting src/service_greeting.c src/conn.c src/escape.c \
	    src/log.c
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
	    ./tests/check_daemon > "$d/check.log" 2>&1) ||
	    { tail -n 20 "$d/check.log"; return 1; }
	ls "$d"/vg.* >/dev/null 2>&1 || return 1
	if grep -l . "$d"/vg.* >/dev/null 2>&1; then
		cat "$d"/vg.* | head -n 60
		return 1
	fi
	echo "valgrind: $(ls "$d"/vg.* | wc -l) processes, no errors" >&2
}

suite() {
	dir=$1
	if make -s -C "$dir" check; then :; else
		for log in "$dir"/tests/check_*.log; do
			grep -E ':[EF]:' "$log" || true
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
	fuzz_config && fuzz_greeting
	;;
valgrind)
	install_missing "$check_packages"
	build build --enable-werror
	make -s -C build tests/check_daemon tests/seed_client \
	    tests/seed_server tests/loadgen
	valgrind_suite "${2:-serving}"
	;;
check)
	install_missing "$check_packages"
	passed=0 failed=0
	build build --enable-werror
	suite build
	build build-san --enable-werror --enable-sanitizers
	ASAN_OPTIONS=detect_leaks=1 suite build-san
	stage "systemd unit verifies and rates <= 2.0" unit_checks
	checks "real systemd in namespaces: units start, reload, stop, restart, socket activation, config error not restarted" systemd_ns
	stage "fuzz: configuration files" fuzz_config
	stage "fuzz: greeting framing and escaping" fuzz_greeting
	stage "valgrind memcheck of the daemon and its workers" valgrind_suite
	stage "make distcheck" distcheck
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	;;
*)
	echo "usage: $0 run | check | build | fuzz [SECONDS] | valgrind [SUITE|all]" >&2
	exit 64
	;;
esac
