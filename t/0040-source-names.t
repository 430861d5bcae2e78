#!/bin/sh
# The file names that comments and SECURITY.md give are files of the tree:
# a comment naming where something lives (or SECURITY.md naming the code
# that answers a case) must not point at a file a move took away.
. "$(dirname "$0")/lib.sh"
cd "$T_TOP" || exit 1

# Other projects' files that comments cite by name.
foreign='message-parser.h'

find . -path ./build -prune -o -path ./.git -prune -o -type f -print |
	sed 's,.*/,,' | sort -u > "${TMPDIR:-/tmp}/yubin-0040.$$"
echo "$foreign" >> "${TMPDIR:-/tmp}/yubin-0040.$$"

# "file.c" / "file.h" in the comment lines of the programs and lib/.
stale=$(grep -n -E '(/\*|^[[:space:]]*\*|//)' lib/*.[ch] imap-session/*.[ch] \
	pop3-session/*.[ch] smtp-session/*.[ch] relay-runner/*.[ch] |
	awk -v known="${TMPDIR:-/tmp}/yubin-0040.$$" '
		BEGIN { while ((getline n < known) > 0) have[n] = 1 }
		{
			split($0, f, ":")
			text = substr($0, length(f[1]) + length(f[2]) + 3)
			while (match(text, /[a-z0-9_-]+\.[ch]([^a-z0-9_]|$)/)) {
				n = substr(text, RSTART, RLENGTH)
				text = substr(text, RSTART + RLENGTH)
				match(n, /^[a-z0-9_-]+\.[ch]/)
				n = substr(n, 1, RLENGTH)
				if (!(n in have))
					print f[1] ":" f[2] ": " n
			}
		}')
rm -f "${TMPDIR:-/tmp}/yubin-0040.$$"
[ -z "$stale" ] || printf '%s\n' "$stale" | sed 's/^/# /'
ok "$([ -z "$stale" ]; echo $?)" "comments name only files that exist"

# "dir/file.c" paths in SECURITY.md, from the top of the tree.
missing=$(grep -o -E '`(lib|imap-session|pop3-session|smtp-session|relay-runner)/[a-z0-9_.-]+`' \
	SECURITY.md | tr -d '`' | sort -u | while read -r p; do [ -e "$p" ] || echo "$p"; done)
[ -z "$missing" ] || printf '%s\n' "$missing" | sed 's/^/# SECURITY.md: /'
ok "$([ -z "$missing" ]; echo $?)" "SECURITY.md names only files that exist"

done_testing
