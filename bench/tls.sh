#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/tls.sh - preforkd's TLS against nginx stream "ssl", in one run.
#
#   bench/tls.sh [ROUNDS]      (default 3)
#
# The same ECDSA P-256 certificate, the same client (openssl s_time, K
# processes at once), the same number of workers (W, 2 by default): nginx
# stream with "ssl" and "return" of the banner against preforkd's greeting
# on a TLS listener, log level notice (neither logs a line per
# connection).  Interleaved ROUNDS times, each TLS_SECS (5) seconds:
#   - full handshakes a second (s_time -new) and the servers' CPU per
#     handshake (utime + stime of every process of the server, as
#     bench/cost.sh reads it);
#   - resumed handshakes the same (s_time -reuse: one session, resumed
#     on every connection, whichever worker takes it; TLS 1.2, whose
#     ticket comes within the handshake: s_time closes a TLS 1.3
#     connection before the ticket that follows it arrives);
#   - bulk echo over TLS: one client streams 16 KiB blocks and reads
#     them back, at most 1 MiB in flight (Python's ssl) against preforkd's echo on a TLS listener and
#     against nginx "ssl" proxying to preforkd's echo in clear (the
#     closest like for like: nginx has no echo of its own);
#   - idle worker PSS at 64 workers with a TLS listener (and without).
# Writes build/bench/tls-raw.txt and bench/TLS.md, whose prose is made
# from this run's numbers.  Loopback only; every step bounded.
# Environment: PREFORKD (default build/preforkd), TLS_SECS, TLS_WORKERS,
# TLS_CLIENTS (K, 4), TLS_PORT (first port, 19701), TLS_OUT (the report,
# default bench/TLS.md: a short run should write elsewhere).
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
rounds=${1:-3}
secs=${TLS_SECS:-5}
workers=${TLS_WORKERS:-2}
clients=${TLS_CLIENTS:-4}
port=${TLS_PORT:-19701}
preforkd=${PREFORKD:-$top/build/preforkd}
report=${TLS_OUT:-$top/bench/TLS.md}
work=$top/build/bench/tls
raw=$top/build/bench/tls-raw.txt
hz=$(getconf CLK_TCK)
pid=

say() { printf '==> %s\n' "$*" >&2; }
for t in nginx openssl python3 "$preforkd"; do
	command -v "$t" > /dev/null 2>&1 || {
		say "missing $t (apt-get install nginx-light libnginx-mod-stream openssl python3)"
		exit 1
	}
done
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] ||
    { say "missing libnginx-mod-stream"; exit 1; }
rm -rf "$work"
mkdir -p "$work"
: > "$raw"

stop() {
	[ -z "$pid" ] || { kill -TERM "$pid" 2>/dev/null || :; wait "$pid" 2>/dev/null || :; }
	pid=
}
trap stop EXIT
wait_port() {
	for _i in $(seq 1 100); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 2 -subj /CN=localhost -keyout "$work/key.pem" \
    -out "$work/cert.pem" > /dev/null 2>&1

# start_preforkd PORT SERVICE WORKERS [clear]: a TLS listener (or clear).
start_preforkd() {
	local tls="tls = { certificate = \"$work/cert.pem\"; key = \"$work/key.pem\"; };"
	[ "${4:-}" = clear ] && tls=
	cat > "$work/p-$1.conf" <<CONF
listen = ( { address = "127.0.0.1"; port = $1; $tls } );
workers = $3;
service = "$2";
limits = { per_source = 0; };
log = { level = "notice"; };
CONF
	"$preforkd" -f -e -c "$work/p-$1.conf" 2> "$work/p-$1.log" &
	pid=$!
	wait_port "$1"
}
# start_nginx PORT WORKERS [UPSTREAM]: ssl, the banner or a proxy.
start_nginx() {
	local what="return \"Welcome to Network Server!!\";"
	[ -z "${3:-}" ] || what="proxy_pass 127.0.0.1:$3;"
	mkdir -p "$work/nginx-$1"
	cat > "$work/nginx-$1/nginx.conf" <<CONF
daemon off;
worker_processes $2;
pid $work/nginx-$1/nginx.pid;
error_log $work/nginx-$1/error.log;
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
events { worker_connections 4096; }
stream {
	ssl_certificate $work/cert.pem;
	ssl_certificate_key $work/key.pem;
	server { listen 127.0.0.1:$1 ssl backlog=128; $what }
}
CONF
	nginx -p "$work/nginx-$1" -c "$work/nginx-$1/nginx.conf" \
	    -e "$work/nginx-$1/error.log" &
	pid=$!
	wait_port "$1"
}

procs() { echo "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null || true); }
# CPU ns of the server so far: every process, run time from schedstat.
cpu_ns() {
	local p f=""
	for p in $(procs "$1"); do f="$f /proc/$p/task/*/schedstat"; done
	# shellcheck disable=SC2086
	cat $f 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# handshakes TAG MODE: K s_time clients for secs; "rate cpu_us".
handshakes() {
	local tag=$1 mode=$2 c0 c1 n=0 k out
	c0=$(cpu_ns "$pid")
	for k in $(seq 1 "$clients"); do
		# shellcheck disable=SC2086
		timeout $((secs + 20)) openssl s_time -connect 127.0.0.1:$port \
		    $mode -time "$secs" > "$work/st-$k.out" 2>&1 &
	done
	wait $(jobs -p | grep -v "^$pid\$") 2>/dev/null || :
	c1=$(cpu_ns "$pid")
	for k in $(seq 1 "$clients"); do
		out=$(sed -n 's/^\([0-9]*\) connections in [0-9.]* real seconds.*/\1/p' \
		    "$work/st-$k.out" | tail -n 1)
		n=$((n + ${out:-0}))
	done
	awk -v n="$n" -v s="$secs" -v c="$((c1 - c0))" -v t="$tag" \
	    'BEGIN { printf "%s %.1f %.1f\n", t, n / s, n ? c / n / 1000 : 0 }'
}

# echo_bulk: MB/s echoed back to one TLS client streaming for secs.
echo_bulk() {
	timeout $((secs + 20)) python3 - "$port" "$secs" <<'PY'
# A stream, not a ping-pong: blocks go out while the echo comes back,
# with at most a window in flight, so that neither side waits on the
# other's delayed ACK.
import select, socket, ssl, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
s.setblocking(False)
block, window = b"x" * 16384, 1 << 20
sent = got = 0
t0 = time.monotonic()
end = t0 + secs
while time.monotonic() < end:
    want_w = sent - got < window
    r, w, _ = select.select([s], [s] if want_w else [], [], 1.0)
    if r or s.pending():
        try:
            while True:
                n = len(s.recv(65536))
                if n == 0:
                    raise SystemExit("closed")
                got += n
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
    if w and want_w:
        try:
            sent += s.send(block)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
print("%.1f" % (got / (time.monotonic() - t0) / 1e6))
PY
}

# pss_idle WORKERS [clear]: the average PSS (KiB) of preforkd's workers.
pss_idle() {
	start_preforkd $port greeting "$1" "${2:-}"
	sleep 3
	local w tot=0 n=0
	for w in $(cat /proc/"$pid"/task/*/children); do
		tot=$((tot + $(awk '/^Pss:/ { print $2 }' /proc/"$w"/smaps_rollup)))
		n=$((n + 1))
	done
	stop
	echo $((n ? tot / n : 0))
}

for r in $(seq 1 "$rounds"); do
	for server in preforkd nginx; do
		if [ "$server" = preforkd ]; then
			start_preforkd $port greeting "$workers"
		else
			start_nginx $port "$workers"
		fi
		echo "round=$r $(handshakes "$server-full" -new)" >> "$raw"
		echo "round=$r $(handshakes "$server-resumed" "-reuse -tls1_2")" \
		    >> "$raw"
		stop
		port=$((port + 1))
		if [ "$server" = preforkd ]; then
			start_preforkd $port echo "$workers"
		else
			start_preforkd $((port + 100)) echo "$workers" clear
			back=$pid
			start_nginx $port "$workers" $((port + 100))
			front=$pid
		fi
		echo "round=$r $server-echo $(echo_bulk)" >> "$raw"
		if [ "$server" = nginx ]; then
			pid=$front; stop; pid=$back; stop
		else
			stop
		fi
		port=$((port + 1))
		say "round $r $server: $(grep "round=$r $server" "$raw" | tr '\n' ';')"
	done
done
echo "pss tls $(pss_idle 64)" >> "$raw"
port=$((port + 1))
echo "pss clear $(pss_idle 64 clear)" >> "$raw"

# ---- the report, from the raw numbers ----------------------------------
med() {	# TAG FIELD: the median over the rounds
	grep " $1 " "$raw" | awk -v f="$2" '{ print $f }' | sort -g |
	    awk '{ v[NR] = $1 } END { if (NR == 0) print 0;
	        else if (NR % 2) print v[(NR + 1) / 2];
	        else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
verdict() {	# VALUE OP LIMIT
	awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
	    ok = op == ">=" ? v >= l : v <= l; print ok ? "yes" : "no" }'
}
pf=$(med preforkd-full 3) pfc=$(med preforkd-full 4)
nf=$(med nginx-full 3) nfc=$(med nginx-full 4)
pr=$(med preforkd-resumed 3) prc=$(med preforkd-resumed 4)
nr=$(med nginx-resumed 3) nrc=$(med nginx-resumed 4)
pe=$(med preforkd-echo 3) ne=$(med nginx-echo 3)
ptls=$(sed -n 's/^pss tls //p' "$raw") pclear=$(sed -n 's/^pss clear //p' "$raw")
{
cat <<EOF
# TLS: preforkd against nginx stream ssl

Produced by \`bench/tls.sh $rounds\` on $(date -u +%Y-%m-%d): $(nproc) CPUs,
$(uname -sr), $(openssl version | cut -d' ' -f1-2), nginx
$(nginx -v 2>&1 | sed 's|.*/||'). Every figure below is this run's
(build/bench/tls-raw.txt), the median of $rounds interleaved rounds of
$secs s. One ECDSA P-256 certificate; $workers workers each; $clients
\`openssl s_time\` clients at once; preforkd's greeting on a TLS listener
against nginx stream \`ssl\` with \`return\` of the same banner, log level
notice (neither logs a line per connection).

| | preforkd | nginx | ratio | target | met |
|---|---|---|---|---|---|
| full handshakes/s | $pf | $nf | $(ratio "$pf" "$nf") | >= 0.9 | $(verdict "$(ratio "$pf" "$nf")" ">=" 0.9) |
| CPU per full handshake (us) | $pfc | $nfc | $(ratio "$pfc" "$nfc") | <= 1.1 | $(verdict "$(ratio "$pfc" "$nfc")" "<=" 1.1) |
| resumed handshakes/s (TLS 1.2) | $pr | $nr | $(ratio "$pr" "$nr") | >= 0.9 | $(verdict "$(ratio "$pr" "$nr")" ">=" 0.9) |
| CPU per resumed handshake (us) | $prc | $nrc | $(ratio "$prc" "$nrc") | <= 1.1 | $(verdict "$(ratio "$prc" "$nrc")" "<=" 1.1) |
| echo over TLS, one client (MB/s) | $pe | $ne | $(ratio "$pe" "$ne") | reported | |
| idle worker PSS at 64 workers, TLS listener (KiB) | $ptls | | | <= 150 | $(verdict "$ptls" "<=" 150) |

Without TLS the same idle worker is $pclear KiB: the listener's context is
built once per generation by the master and shared copy-on-write. nginx's
echo figure is nginx \`ssl\` proxying to preforkd's echo in clear, which
it has to read and write again: the closest like for like, not the same
work.
EOF
} > "$report"
say "wrote $report"
