#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/house.sh SRCDIR - the shape of src/ stays as docs/architecture.md
# draws it: no file over 700 lines; no cycle among the rooms (a room is a
# .c and its .h, or several: the reload shares the supervisor's state and
# counts with master; the configuration's keys and sockets, confkeys.c
# and conflisten.c, fill config.c's struct and count with config);
# struct master used by master.c and reload.c alone; the source map names
# every file.  One line per check, then
# "house: N passed, N failed".
top=${1:-.}
passed=0 failed=0
. "$top/tests/checks.sh"
cd "$top" || exit 1

long=$(wc -l src/*.c src/*.h | awk '$2 != "total" && $1 > 700 {
    printf "%s%s (%d)", sep, $2, $1; sep = ", " }')
if [ -z "$long" ]; then ok "no file in src/ over 700 lines"
else fail "files in src/ over 700 lines: $long"; fi

# Each room's includes of other rooms' headers, as "room needed" pairs;
# tsort finds a loop if there is one.
edges=$(for f in src/*.c src/*.h; do
	r=$(basename "$f"); r=${r%.*}
	sed -n 's/^#include "\([a-z_]*\)\.h".*/\1/p' "$f" | while read -r d; do
		[ -f "src/$d.h" ] && echo "$r $d"
	done
done | sed -e 's/^reload /master /; s/ reload$/ master/' \
    -e 's/^conf\(keys\|listen\) /config /; s/ conf\(keys\|listen\)$/ config/' |
    awk '$1 != $2')
loops=$(echo "$edges" | tsort 2>&1 >/dev/null | sed -n 's/^tsort: \([a-z_]*\)$/\1/p' |
    tr '\n' ' ')
if [ -z "$loops" ]; then ok "no include cycle among the rooms of src/"
else fail "include cycle among: $loops"; fi

users=$(grep -l 'struct master\b' src/*.c | grep -v -e '^src/master\.c$' \
    -e '^src/reload\.c$' | tr '\n' ' ')
if [ -z "$users" ]; then ok "struct master known to master.c and reload.c alone"
else fail "struct master used by: $users"; fi

missing=$(for f in src/*.c src/*.h; do
	grep -Fqw "$(basename "$f")" docs/architecture.md 2>/dev/null || printf '%s ' "$f"
done)
if [ -z "$missing" ]; then ok "the source map names every file in src/"
else fail "not in docs/architecture.md: $missing"; fi

echo "house: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
