#!/bin/sh
# SPDX-License-Identifier: ISC
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
# (the test's lines) and figures.txt ("key=value"); the report is printed
# and written to bench/SCALEOUT.md (SCALEOUT_RESULTS: another file).
# Needs root (namespaces) and haproxy, installed from Debian when
# missing.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
out=$top/build/bench/scaleout
secs=${1:-10}
conns=${CONNS:-16}
results=${SCALEOUT_RESULTS:-$top/bench/SCALEOUT.md}

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
{
	cat <<EOF
# Scale-out: three hosts behind HAProxy

Written by \`bench/scaleout.sh $secs\` on $(date -u +%Y-%m-%d): preforkd
$(build/preforkd -V 2>/dev/null | sed -n '1s/.* //p') built from $(git describe --always --dirty 2>/dev/null || echo unknown),
$(haproxy -v | sed -n '1s/^HAProxy version \([^ ]*\).*/HAProxy \1/p'), $conns closed-loop clients through HAProxy, the load
held ${secs} s before and after each phase's actions, on $(nproc) CPUs.
The test is \`tests/haproxy/scaleout.sh\` (see
[docs/haproxy.md](../docs/haproxy.md)); its verdict: $(sed -n 's/^scaleout: //p' "$out/run.log").

| phase | connections | failed | sessions per host, and of them short of the banner |
|---|---|---|---|
| rolling restart (SIGTERM with a drain, start again) | $(f restart_connections) | $(f restart_failed) | $(f restart_sessions) |
| rolling reload (SIGHUP) | $(f reload_connections) | $(f reload_failed) | $(f reload_sessions) |
| h2 killed (SIGKILL of its master) | $(f kill_connections) | $(f kill_failed) | $(f kill_sessions) |
| h3 overloaded | $(f overload_connections) | $(f overload_failed) | $(f overload_sessions) |

EOF
	for i in 1 2 3; do
		echo "- Rolling restart, h$i: stopped in $(f restart_h${i}_stop); up in HAProxy again $(f restart_h${i}_up_again) after its exit."
	done
	cat <<EOF
- Killed: h2 had $(f kill_h2_inflight) sessions in flight from the kill
  until its last process was gone, $(f kill_gone_after_ms) ms later;
  HAProxy marked it down $(f kill_down_after_ms) ms after the kill; then
  $(f kill_share_after_down).
- Overload: the share before, $(f overload_share_before); with
  h3's pool held, $(f overload_share_held) of HAProxy's sessions, and
  $(f overload_served_held) of the connections the hosts served
  (\`preforkd -s status\`; h3's include the slow clients it shed).
  Weights: $(f overload_weights_held).
  h3's agent: $(f overload_agent_h3); its workers: $(f overload_h3_workers).
- Client addresses in the hosts' message lines during the rolling
  restart: h1 $(f h1_logged); h2 $(f h2_logged); h3 $(f h3_logged)
  (the log's budget keeps at most 200 lines a second per address).
EOF
} > "$results.tmp"
mv "$results.tmp" "$results"
cat "$results"
exit "$rc"
