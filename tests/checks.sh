# SPDX-License-Identifier: ISC
# checks.sh - sourced by the shell test scripts (tests/systemd/run.sh,
# tests/systemd/deb.sh, tests/haproxy/scaleout.sh): one line per check,
# "ok: ..." or "FAILED: ...", each with the time it took, counted in
# $passed and $failed.

# Milliseconds since the epoch, for deadlines.
now() {
	date +%s%3N
}
t_start=$(now)
t_lap=

# Each check's line ends with the time it took.
lap() {
	_t=$(now)
	_l=$((_t - ${t_lap:-$t_start}))
	t_lap=$_t
	lap=$((_l / 1000)).$((_l % 1000 / 100))s
}
ok() {
	lap
	printf 'ok: %s [%s]\n' "$*" "$lap"
	passed=$((passed + 1))
}
fail() {
	lap
	printf 'FAILED: %s [%s]\n' "$*" "$lap"
	failed=$((failed + 1))
}
# Indented, below the check it belongs to.
note() {
	sed 's/^/    /'
}
