#!/bin/sh
# Runs every C unit test under t/unit/ (each prints TAP of its own) as one
# TAP line per test program.
. "$(dirname "$0")/lib.sh"
for src in "$T_TOP"/t/unit/*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	out=$("$YUBIN_BUILD/t/unit/$name" 2>&1)
	st=$?
	if [ $st -ne 0 ] || echo "$out" | grep -q '^not ok'; then
		ok 1 "unit $name"; echo "$out" | sed 's/^/# /' | head -40
	else
		ok 0 "unit $name ($(echo "$out" | grep -c '^ok') checks)"
	fi
done
done_testing
