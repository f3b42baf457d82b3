#!/bin/sh
# SPDX-License-Identifier: ISC
# readme.sh BUILDDIR [SRCDIR] - README.md's commands, run as written where
# a test can: the quick start's server and client (the answer and the log
# line it shows), the configuration examples through -t (the TLS one with
# certificates made here), the -t error it shows, byte for byte, and the
# everyday operations without systemd (-d with pid_file, -s status, -s
# reload, -s stop).  The blocks are taken from README.md itself, so the
# test follows the text.  Runs in a network namespace of its own (the
# examples bind 0.0.0.0:9001 and 9443), as root; 77 otherwise.
#
# One line per check, "ok: ..." or "FAILED: ...", then
# "readme: N passed, N failed".
set -u
umask 022

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 BUILDDIR [SRCDIR]" >&2
	exit 64
fi
build=$(cd "$1" && pwd) || exit 64
src=$(cd "${2:-$(dirname "$0")/..}" && pwd) || exit 64
readme=$src/README.md
passed=0 failed=0

. "$src/tests/checks.sh"

if [ "$(id -u)" -ne 0 ] || ! unshare -n true 2>/dev/null; then
	echo "SKIP: readme: needs root and a network namespace"
	exit 77
fi
# The rest in a network namespace of its own, its loopback up.
if [ -z "${README_NETNS:-}" ]; then
	exec env README_NETNS=1 unshare -n sh -c \
	    'ip link set lo up 2>/dev/null || ifconfig lo up; exec sh "$@"' \
	    sh "$0" "$@"
fi

tmp=$(mktemp -d /tmp/preforkd-readme.XXXXXX) || exit 1
pid=
cleanup() {
	[ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null
	[ ! -f "$tmp/pid" ] || kill -TERM "$(cat "$tmp/pid")" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
preforkd=$build/preforkd

# block AFTER: the indented block that follows the first line of README
# containing AFTER, without its indentation.
block() {
	awk -v after="$1" '
	    !on && index($0, after) { on = 1; next }
	    on == 1 && /^    / { print substr($0, 5); seen = 1; next }
	    on == 1 && seen { exit }
	    on == 1 && /^$/ { next }
	    on == 1 { exit }' "$readme"
}
# wait_for FILE TEXT: up to 10 s.
wait_for() {
	_i=0
	while [ $_i -lt 100 ]; do
		grep -qF "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# ---- quick start --------------------------------------------------------
# "run" serves etc/preforkd.conf in the foreground; the client's answer
# and the server's line are what README shows.
cmd=$(block "in another shell:" | sed -n '1s/^\$ //p' |
    sed "s|^build/|$build/|")
want=$(block "in another shell:" | sed -n '2p')
line=$(sed -n 's/.*the server logs `\(message [^`]*\)`.*/\1/p' "$readme")
"$preforkd" -f -e -c "$src/etc/preforkd.conf" > "$tmp/run.log" 2>&1 &
pid=$!
if wait_for "$tmp/run.log" "ready generation=1" &&
    [ -n "$cmd" ] && got=$(cd "$src" && sh -c "$cmd" 2>&1) &&
    [ -n "$want" ] && [ "$got" = "$want" ] &&
    pattern=$(printf '%s' "$line" | sed 's/:[0-9]* /:[0-9]* /') &&
    [ -n "$line" ] && wait_for "$tmp/run.log" "bytes=5 msg=\"hello\"" &&
    grep -q "$pattern" "$tmp/run.log"; then
	ok "quick start: $(block "in another shell:" | sed -n '1s/^\$ //p') answers \"$want\", the server logs \"$line\""
else
	fail "quick start: client said \"${got:-}\" (README: \"$want\"); log:"
	sed 's/^/    /' "$tmp/run.log"
fi
kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=

# ---- the configuration examples ------------------------------------------
block "reference for every key, its default and its range. For example:" \
    > "$tmp/example.conf"
if [ -s "$tmp/example.conf" ] &&
    "$preforkd" -t -c "$tmp/example.conf" > "$tmp/t1" 2>&1; then
	ok "configure: README's example ($(wc -l < "$tmp/example.conf") lines) passes preforkd -t"
else
	fail "configure: README's example: $(cat "$tmp/t1" 2>/dev/null)"
fi

# The TLS example, with a certificate and key made here in place of the
# paths it names.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 2 -subj /CN=localhost -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
    > /dev/null 2>&1
block "read at start and at each reload like the rest of the file:" |
    sed "s|/etc/preforkd/tls/|$tmp/|g" > "$tmp/tls.conf"
if [ "$(grep -c "$tmp/" "$tmp/tls.conf")" -eq 2 ] &&
    "$preforkd" -t -c "$tmp/tls.conf" > "$tmp/t2" 2>&1; then
	ok "configure: README's TLS example passes preforkd -t (with a certificate made here)"
else
	fail "configure: README's TLS example: $(cat "$tmp/t2" 2>/dev/null)"
fi

# "Check a file before you use it (here with port = 90001)": the line
# and the status README shows, the file's name aside.
shown=$(block "Check a file before you use it")
file=$(printf '%s\n' "$shown" | sed -n 's/^\$ preforkd -t -c \([^ ]*\)$/\1/p')
err=$(printf '%s\n' "$shown" | sed -n '2p')
st=$(printf '%s\n' "$shown" | sed -n '4p')
printf 'listen = { address = "127.0.0.1"; port = 90001; };\n' \
    > "$tmp/bad.conf"
out=$("$preforkd" -t -c "$tmp/bad.conf" 2>&1)
rc=$?
if [ -n "$file" ] && [ "$out" = "$(printf '%s' "$err" |
    sed "s|$file|$tmp/bad.conf|")" ] && [ "$rc" = "$st" ]; then
	ok "configure: -t on port = 90001 says \"$err\" (the file's name aside) and exits $st, as shown"
else
	fail "configure: -t on port = 90001 said \"$out\", exit $rc; README shows \"$err\", $st"
fi

# ---- everyday operations, without systemd ---------------------------------
# -d with pid_file set, then -s status, -s reload, -s stop through the
# control socket, as the table says.
sed -e '/^listen = {/,/^};/d' "$src/etc/preforkd.conf" > "$tmp/ops.conf"
cat >> "$tmp/ops.conf" <<EOF
listen = { address = "127.0.0.1"; port = 9001; };
pid_file = "$tmp/pid";
control = "$tmp/control";
EOF
if "$preforkd" -d -c "$tmp/ops.conf" > "$tmp/d.log" 2>&1 &&
    [ -s "$tmp/pid" ] && dpid=$(cat "$tmp/pid") &&
    "$preforkd" -s status -c "$tmp/ops.conf" > "$tmp/status" 2>&1 &&
    grep -q "pid=$dpid " "$tmp/status" &&
    "$preforkd" -s reload -c "$tmp/ops.conf" > "$tmp/reload" 2>&1 &&
    "$preforkd" -s status -c "$tmp/ops.conf" 2>&1 | grep -q "^generation: 2" &&
    "$preforkd" -s stop -c "$tmp/ops.conf" > "$tmp/stop" 2>&1; then
	_i=0
	while kill -0 "$dpid" 2>/dev/null && [ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	if kill -0 "$dpid" 2>/dev/null; then
		fail "operations: preforkd -s stop: pid $dpid still runs"
	else
		ok "operations: preforkd -d (pid_file), -s status, -s reload (generation 2), -s stop (pid $dpid gone)"
	fi
else
	fail "operations without systemd:"
	cat "$tmp/d.log" "$tmp/status" "$tmp/reload" "$tmp/stop" 2>/dev/null |
	    sed 's/^/    /'
fi

echo "readme: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
