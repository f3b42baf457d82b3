#!/bin/bash
# SPDX-License-Identifier: ISC
# example.sh BUILDDIR SRCDIR: the module API as its users meet it.
# Install the build under a scratch DESTDIR, build examples/daytime out of
# tree against that install with pkg-config (PKG_CONFIG_PATH and
# PKG_CONFIG_SYSROOT_DIR), load it into the installed daemon through
# module_dir, ask it over TCP on a free loopback port, and check that one
# of its configuration errors comes with FILE:LINE.
set -eu
build=$(cd "$1" && pwd) top=$(cd "$2" && pwd)
tmp=$(mktemp -d /tmp/preforkd-example.XXXXXX)
pid=
cleanup() {
	[ -z "$pid" ] || { kill -TERM "$pid" 2>/dev/null; wait "$pid" || :; }
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "example: $*" >&2; [ ! -f "$tmp/log" ] || cat "$tmp/log" >&2; exit 1; }

make -s -C "$build" install DESTDIR="$tmp/root" > /dev/null
pc=$(find "$tmp/root" -name preforkd-service.pc)
sbin=$(find "$tmp/root" -type f -name preforkd)
[ -n "$pc" ] && [ -x "$sbin" ] || fail "preforkd-service.pc or preforkd not installed"
[ -f "$(find "$tmp/root" -path '*/include/preforkd/service.h')" ] ||
	fail "<preforkd/service.h> not installed"
[ -d "$(find "$tmp/root" -type d -path '*/lib/preforkd')" ] ||
	fail "the module directory is not made"

export PKG_CONFIG_PATH=${pc%/*} PKG_CONFIG_SYSROOT_DIR=$tmp/root
case $(pkg-config --cflags preforkd-service) in
*"-I$tmp/root/"*) ;;
*) fail "pkg-config --cflags does not point into the DESTDIR" ;;
esac
mkdir "$tmp/ex" "$tmp/mods"
chmod 0755 "$tmp/mods"
make -s -C "$tmp/ex" -f "$top/examples/daytime/Makefile" \
	srcdir="$top/examples/daytime" CFLAGS="-O2 -Wall -Wextra -Werror"
make -s -C "$tmp/ex" -f "$top/examples/daytime/Makefile" \
	srcdir="$top/examples/daytime" install MODULEDIR="$tmp/mods"

cat > "$tmp/daytime.conf" <<CONF
listen = { address = "127.0.0.1"; port = 0; };
workers = 1;
module_dir = "$tmp/mods";
service = "daytime";
daytime = { format = "day %Y"; log = true; };
CONF
"$sbin" -t -c "$tmp/daytime.conf" || fail "-t refused the configuration"
"$sbin" -f -e -c "$tmp/daytime.conf" 2> "$tmp/log" &
pid=$!
for _ in $(seq 50); do
	grep -q 'ready generation=1' "$tmp/log" && break
	sleep 0.1
done
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/log")
[ -n "$port" ] || fail "no port in the log"
exec 3<> "/dev/tcp/127.0.0.1/$port"
IFS= read -r line <&3 || :
exec 3<&-
[ "$line" = "day $(date -u +%Y)"$'\r' ] || fail "answer: '$line'"
for _ in $(seq 50); do
	grep -q "daytime peer=127.0.0.1:[0-9]* sent=10" "$tmp/log" && break
	sleep 0.1
done
grep -q "daytime peer=127.0.0.1:[0-9]* sent=10" "$tmp/log" ||
	fail "no log line for the connection"
kill -TERM "$pid"
wait "$pid" || fail "the daemon did not stop cleanly"
pid=

cat > "$tmp/bad.conf" <<CONF
module_dir = "$tmp/mods";
service = "daytime";
daytime = {
	format = "%H:%M";
	utc = "yes";
};
CONF
rc=0
out=$("$sbin" -t -c "$tmp/bad.conf" 2>&1) || rc=$?
[ "$rc" -eq 78 ] || fail "-t exited $rc: $out"
case $out in
*"$tmp/bad.conf:5: daytime.utc must be true or false"*) ;;
*) fail "-t said: $out" ;;
esac
echo "example: daytime built with pkg-config, served on port $port, error at $tmp/bad.conf:5"
