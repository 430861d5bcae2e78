#!/bin/sh
# Manual pages (issue 7): every *.8 and *.5 in the tree is clean under
# `mandoc -T lint` (no errors or warnings) and renders with `man -l` without
# complaint; every built program has its page; every key in lib/conf.c's
# table is documented in yubin.conf.5 and shown in units/yubin.conf.example,
# whose keys all parse.
. "$(dirname "$0")/lib.sh"
scratch
cd "$T_TOP" || exit 1

pages=$(find . -path ./build -prune -o -path ./.git -prune -o \( -name '*.[58]' -type f \) -print | sort)
n=0
for page in $pages; do
	n=$((n + 1))
	out=$(mandoc -T lint -W warning "$page" 2>&1)
	st=$?
	if [ $st -eq 0 ] && [ -z "$out" ]; then ok 0 "mandoc -T lint: $page"; else ok 1 "mandoc -T lint: $page"; echo "$out" | sed 's/^/#   /' | head -20; fi
	out=$(MANWIDTH=80 man -l "$page" 2>&1 >/dev/null)
	if [ -z "$out" ]; then ok 0 "man -l renders $page cleanly"; else ok 1 "man -l renders $page cleanly"; echo "$out" | sed 's/^/#   /' | head -10; fi
done
check "found the manual pages (yubin.conf.5 at least)" [ -f yubin.conf.5 ]

for prog in smtp-session pop3-session imap-session relay-runner; do
	[ -x "$(bin "$prog")" ] || continue
	check "$prog is built and has $prog/$prog.8" [ -f "$prog/$prog.8" ]
done

# The keys of the configuration table: K(name, TYPE) lines in lib/conf.c.
keys=$(sed -n 's/^[[:space:]]*K(\([a-z0-9_]*\),.*/\1/p' lib/conf.c)
nkeys=$(echo "$keys" | wc -w)
check "lib/conf.c table read ($nkeys keys)" [ "$nkeys" -ge 20 ]
missing_man= missing_example=
for k in $keys; do
	grep -q "^\.It Cm $k\( \|$\)" yubin.conf.5 || missing_man="$missing_man $k"
	grep -q "^#\{0,1\}$k = " units/yubin.conf.example || missing_example="$missing_example $k"
done
check "every key documented in yubin.conf.5 (.It Cm key)${missing_man:+: missing$missing_man}" [ -z "$missing_man" ]
check "every key shown in units/yubin.conf.example${missing_example:+: missing$missing_example}" [ -z "$missing_example" ]

# Keys the manual documents that the parser does not know would mislead.
extra=
for k in $(sed -n 's/^\.It Cm \([a-z0-9_]*\) .*/\1/p' yubin.conf.5); do
	echo "$keys" | grep -qx "$k" || extra="$extra $k"
done
check "yubin.conf.5 documents no key the parser lacks${extra:+:$extra}" [ -z "$extra" ]

# The example, with every commented key switched on, must parse: a session
# reports a bad key as "configuration: FILE:LINE: ...".
if [ -x "$(bin smtp-session)" ]; then
	sed 's/^#\([a-z_0-9]* = \)/\1/' units/yubin.conf.example > "$T_DIR/all.conf"
	chmod 644 "$T_DIR/all.conf"
	printf 'QUIT\r\n' | "$(bin smtp-session)" -c "$T_DIR/all.conf" > "$T_DIR/out" 2> "$T_DIR/err"
	if grep -q "configuration:" "$T_DIR/err"; then
		ok 1 "yubin.conf.example with every key enabled parses"; sed 's/^/#   /' "$T_DIR/err"
	else
		ok 0 "yubin.conf.example with every key enabled parses"
	fi
	printf 'no_such_key = 1\n' > "$T_DIR/bad.conf"
	printf 'QUIT\r\n' | "$(bin smtp-session)" -c "$T_DIR/bad.conf" > /dev/null 2> "$T_DIR/err"
	check "and a bad key would have been caught (unknown key reported)" grep -q "unknown key 'no_such_key'" "$T_DIR/err"
fi
check "checked $n manual pages" [ "$n" -ge 2 ]
done_testing
