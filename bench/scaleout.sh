#!/bin/sh
# bench/scaleout.sh - the scale-out test's long form: three preforkd
# hosts in network namespaces behind HAProxy (tests/haproxy/scaleout.sh),
# with the load held longer in every phase and more clients, and its
# figures: failed connections per phase, each host's share before and
# while one is overloaded, the client addresses each host logged.
#
#   bench/scaleout.sh [SECONDS]
#
# SECONDS (default 10) is how long the load runs before and after each
# phase's actions and the overload's measuring window (DURATION of the
# test); CONNS (default 16) the closed-loop clients.  The whole run takes
# about 10 * SECONDS + 20 s.  Output in build/bench/scaleout/: run.log
# (the test's lines) and figures.txt ("key=value"); the figures are
# printed at the end.  Needs root (namespaces) and haproxy, installed
# from Debian when missing.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
out=$top/build/bench/scaleout
secs=${1:-10}
conns=${CONNS:-16}

say() { printf '==> %s\n' "$*" >&2; }

if ! command -v haproxy > /dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	say "installing haproxy"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends haproxy iproute2 > /dev/null
fi
./bootstrap.sh build > /dev/null
make -s -C build tests/loadgen

mkdir -p "$out"
: > "$out/figures.txt"
say "scale-out: load ${secs}s around each phase, $conns clients"
rc=0
DURATION=$secs CONNS=$conns FIGURES=$out/figures.txt \
    sh tests/haproxy/scaleout.sh build . > "$out/run.log" 2>&1 || rc=$?
grep -E '^(ok|FAILED|SKIP|scaleout):' "$out/run.log" || true

f() { sed -n "s/^$1=//p" "$out/figures.txt"; }
cat <<EOF

preforkd $(build/preforkd -V 2>/dev/null | sed -n '1s/.* //p') at $(git describe --always --dirty 2>/dev/null || echo unknown), $(haproxy -v | sed -n '1s/^HAProxy version \([^ ]*\).*/HAProxy \1/p'), $conns clients, ${secs}s per hold

| phase | connections | failed |
|---|---|---|
| rolling restart (SIGTERM, drain, start) | $(f restart_connections) | $(f restart_failed) |
| rolling reload (SIGHUP) | $(f reload_connections) | $(f reload_failed) |
| h2 killed (SIGKILL of its master) | $(f kill_connections) | $(f kill_failed) (h2 had $(f kill_h2_sessions_before) sessions just before; cut: $(f kill_h2_cut)) |
| h3 overloaded | $(f overload_connections) | $(f overload_failed) |

h2 marked down $(f kill_down_after_ms) ms after the kill; then $(f kill_share_after_down)
Share before the overload: $(f overload_share_before)
Share with h3's pool held:  $(f overload_share_held)
  weights $(f overload_weights_held); h3's agent $(f overload_agent_h3)
Client addresses logged (rolling restart): h1 $(f h1_logged); h2 $(f h2_logged); h3 $(f h3_logged)
EOF
exit "$rc"
