#!/bin/sh
# Every fuzz target under t/fuzz/ runs over its seeds (t/fuzz/seeds/NAME/)
# and mutations of them, through replay-main.c: no crash, no sanitizer report.
. "$(dirname "$0")/lib.sh"
for src in "$T_TOP"/t/fuzz/fuzz-*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	seeds="$T_TOP/t/fuzz/seeds/${name#fuzz-}"
	out=$("$YUBIN_BUILD/t/fuzz/$name" "$seeds" 2>&1)
	ok $? "$name replays its seeds"
	echo "$out" | tail -3 | sed 's/^/# /'
done
done_testing
