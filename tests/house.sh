#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/house.sh SRCDIR - the shape of src/ stays as docs/architecture.md
# draws it: no file over 700 lines; no cycle among the rooms (a room is a
# .c and its .h, or several: the reload shares the supervisor's state and
# counts with master, as does supervisor.h, main()'s way in; the
# configuration's keys, sockets and TLS, confkeys.c, conflisten.c and
# conftls.c, fill config.c's struct and count with config); struct master (master.h)
# seen by master.c and reload.c alone; the source map names every file.
# One line per check, then "house: N passed, N failed".
top=${1:-.}
passed=0 failed=0
. "$top/tests/checks.sh"
cd "$top" || exit 1

long=$(wc -l src/*.c src/*.h | awk '$2 != "total" && $1 > 700 {
	printf "%s%s (%d)", sep, $2, $1; sep = ", " }')
if [ -z "$long" ]; then ok "no file in src/ over 700 lines"
else fail "files in src/ over 700 lines: $long"; fi

# Each room's includes of other rooms' headers, as "room needed" pairs;
# tsort fails on a loop and names its rooms.
edges=$(for f in src/*.c src/*.h; do
	r=$(basename "$f"); r=${r%.*}
	sed -n 's/^#include "\([a-z_]*\)\.h".*/\1/p' "$f" | while read -r d; do
		[ -f "src/$d.h" ] && echo "$r $d"
	done
done | sed -e 's/^\(reload\|supervisor\) /master /' \
    -e 's/ \(reload\|supervisor\)$/ master/' \
    -e 's/^conf\(keys\|listen\|tls\) /config /; s/ conf\(keys\|listen\|tls\)$/ config/' |
    awk '$1 != $2')
if loops=$(echo "$edges" | tsort 2>&1 >/dev/null); then
	ok "no include cycle among the rooms of src/"
else
	fail "include cycle among: $(echo "$loops" |
	    sed -n 's/^tsort: \([a-z_]*\)$/\1/p' | tr '\n' ' ')"
fi

users=$(grep -l '^#include "master\.h"' src/*.c src/*.h | grep -v \
    -e '^src/master\.[ch]$' -e '^src/reload\.c$' | tr '\n' ' ')
if [ -z "$users" ]; then
	ok "struct master (master.h) seen by master.c and reload.c alone"
else
	fail "master.h included by: $users"
fi

# A line of the map: four spaces, the path, then its description.
missing=$(for f in src/*.c src/*.h; do
	grep -Eq "^    $f[[:space:]]" docs/architecture.md 2>/dev/null ||
	    printf '%s ' "$f"
done)
if [ -z "$missing" ]; then ok "the source map names every file in src/"
else fail "not in docs/architecture.md's source map: $missing"; fi

echo "house: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
