#!/bin/bash
# units/test-fresh-machine.sh — README.md's commands, as a new user types
# them, on a freshly debootstrapped Debian 12 with a clean clone. TAP output.
#
#   sudo units/test-fresh-machine.sh [WORKDIR]     (default /var/tmp/yubin-fresh)
#
# NOT part of `make check`: it needs root with CAP_SYS_ADMIN, about 2 GB in
# WORKDIR, the Debian package mirror (debootstrap's default one, or
# $MIRROR), and as long as `make check` takes on this machine plus a few
# minutes. Run it whenever t/deps.txt or the README's set-up changes.
#
# What it does:
#  1. debootstrap bookworm into WORKDIR/base (kept and reused; see
#     units/debootstrap-lib.sh, shared with test-on-systemd.sh), copied to
#     WORKDIR/root with the sudo user "tester".
#  2. git clone of the repository's commit $COMMIT (default HEAD: what is
#     committed, never the working tree) into ~tester/yubin.
#  3. In that directory, as tester, in a systemd-nspawn container of
#     WORKDIR/root (not booted: the tests need only loopback networking and
#     systemd-socket-activate), the README's commands:
#       sudo apt-get install make   (the one thing `make deps` needs first)
#       sudo make deps              (host network: it runs apt-get)
#       make deps                   (says all packages are present)
#       make check                  (--private-network: its own loopback)
#       make run                    (in the background, same container as:)
#       swaks --server 127.0.0.1:2525 --to demo@localhost
#     then checks that the message is in the Maildir `make run` printed and
#     that SIGINT to `make run`'s process group (Ctrl-C) stops every
#     listener it started.
#  4. Removes WORKDIR/root (KEEP=1 keeps it; enter it with
#     `systemd-nspawn -D WORKDIR/root`).
#
# `make check`'s whole output is in WORKDIR/check.log, the rest in
# WORKDIR/test.log. Environment: MIRROR, COMMIT, KEEP=1, VERBOSE=1 (the
# log on stdout as "# " lines), AS=root (every command as root in
# /root/yubin instead of as tester, the way CI runs them), PARALLEL=N (then
# N more runs of `make check` at once: the loaded machine the tests must
# pass on; outputs in WORKDIR/check-N.log).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/var/tmp/yubin-fresh}
base=$work/base
root=$work/root
log=$work/test.log
checklog=$work/check.log

. "$top/units/debootstrap-lib.sh"
deb_preflight "$top" "$work"

if [ "${AS:-tester}" = root ]; then
	user=root; home=/root; sudo=
else
	user=tester; home=/home/tester; sudo="sudo "
fi

cleanup() {
	[ "${KEEP:-0}" = 1 ] && { echo "# KEEP=1: the machine's root is $root"; return; }
	rm -rf "$root"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# in_machine NET COMMAND: the shell command COMMAND in a container of $root,
# run as $user in ~/yubin by a login shell (runuser -l: the user's own PATH,
# without /usr/sbin). NET: "host" (the host's network and resolver, for
# apt-get) or "private" (nothing but its own loopback). --as-pid2: a stub
# init reaps what the tests leave behind. /run/systemd is made first, as on
# a machine booted with systemd (systemd-analyze wants it).
in_machine() {
	local net=(--resolv-conf=replace-host)
	[ "$1" = private ] && net=(--private-network)
	echo "### $1 network, as $user: $2" >> "$log"
	systemd-nspawn -q --register=no --keep-unit --as-pid2 --console=pipe -M yubin-fresh -D "$root" \
		"${net[@]}" --setenv=TERM=dumb \
		/bin/bash -c 'mkdir -p /run/systemd && exec runuser -l "$0" -c "cd ~/yubin && $1"' \
		"$user" "$2" < /dev/null
}
# step NET NAME COMMAND: one TAP line for COMMAND run by in_machine.
step() {
	in_machine "$1" "$3" >> "$log" 2>&1
	ok $? "$2"
}

mkdir -p "$work"
: > "$log"
deb_verbose

# --- 1. a fresh Debian 12 ---------------------------------------------------------
deb_host_tools
deb_base "$base"
deb_new_root "$base" "$root"

# --- 2. a clean clone ---------------------------------------------------------------
sha=$(git -C "$top" rev-parse --verify "${COMMIT:-HEAD}^{commit}") || bail "no commit ${COMMIT:-HEAD}"
git clone -q --no-hardlinks --no-checkout "$top" "$root$home/yubin" >> "$log" 2>&1 &&
	git -C "$root$home/yubin" checkout -q --detach "$sha" >> "$log" 2>&1 || bail "git clone of $sha"
chroot "$root" chown -R "$user:$user" "$home/yubin"
note "clone of $(git -C "$top" log -1 --format='%h %s' "$sha")"

# Stand-in for the person: `make run` in the background, one swaks
# delivery, the message looked for, then Ctrl-C. Prints "RESULT STATUS NAME".
cat > "$root/usr/local/bin/yubin-fresh-demo" <<'EOF'
#!/bin/bash
result() { echo "RESULT $1 $2"; }
out=/tmp/make-run.log
# Job control: make run gets its own process group, like a command typed at
# a terminal (without it a background job ignores SIGINT, and so would the
# demo's trap).
set -m
make run > "$out" 2>&1 < /dev/null &
pid=$!
up=1
for _ in $(seq 1 600); do
	grep -q '^Ctrl-C stops the demo' "$out" && { up=0; break; }
	kill -0 "$pid" 2>/dev/null || break
	sleep 1
done
result $up "make run: prints how to connect"
subject="fresh machine $$ $(date +%s)"
swaks --server 127.0.0.1:2525 --to demo@localhost --header "Subject: $subject" > /tmp/swaks.log 2>&1
st=$?
grep -q '^<- *250 .*' /tmp/swaks.log && grep -q '^<- *221' /tmp/swaks.log || st=1
result $st "swaks --server 127.0.0.1:2525 --to demo@localhost: 250"
maildir=$(sed -n 's/^ *mail for demo@localhost lands in \(.*\)$/\1/p' "$out")
# smtp-session answers 250 once the message is in new/: no waiting.
found=1
[ -n "$maildir" ] && grep -qF "Subject: $subject" "$maildir"/* 2>/dev/null && found=0
result $found "the message is in ${maildir:-the Maildir make run names}"
kill -INT -- "-$pid"
for _ in $(seq 1 60); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 1; done
st=0
kill -0 -- "-$pid" 2>/dev/null && { echo "make run's process group is still there"; st=1; }
for port in 2525 2587 2465 1110 1995 1143 1993; do
	(exec 3<> "/dev/tcp/127.0.0.1/$port") 2>/dev/null && { echo "port $port still open"; st=1; }
done
result $st "Ctrl-C stops make run and every listener"
echo "### make run's output"; cat "$out"
echo "### swaks"; cat /tmp/swaks.log
EOF
chmod 755 "$root/usr/local/bin/yubin-fresh-demo"

# --- 3. the README's commands ------------------------------------------------------
note "make deps (apt-get, from the mirror)"
step host "${sudo}apt-get install make" "${sudo}apt-get update -q && ${sudo}apt-get install -y -q make"
step host "${sudo}make deps" "${sudo}make deps"
step private "make deps again: all packages present" "make deps | grep -qx 'deps: all packages present'"

note "make check (its output: $checklog)"
in_machine private "make check" > "$checklog" 2>&1
ok $? "make check"
# Which test files failed, and prove's last word.
sed -e 's/\x1b\[[0-9;]*m//g' -n -e '/^Test Summary Report/,$p' "$checklog" | grep -E '^(t/|  Failed|Result:|Files=)' |
	while IFS= read -r l; do note "$l"; done
sed 's/\x1b\[[0-9;]*m//g' "$checklog" | grep -q '^Result: PASS'
ok $? "make check: prove says Result: PASS"

# PARALLEL=N: N more runs of make check at once in the same clone (built
# by now), each a TAP line: timing-dependent checks must hold on a loaded
# machine.
if [ "${PARALLEL:-0}" -gt 0 ]; then
	note "make check $PARALLEL times at once (outputs: $work/check-N.log)"
	in_machine private "for i in \$(seq 1 $PARALLEL); do
			make check > /tmp/check-\$i.log 2>&1 & pids=\"\$pids \$!\"
		done
		i=0; for p in \$pids; do i=\$((i + 1)); wait \$p; echo \"RESULT \$? \$i\"; done
		for i in \$(seq 1 $PARALLEL); do echo \"### check \$i\"; cat /tmp/check-\$i.log; done" \
		> "$work/parallel.log" 2>&1
	for i in $(seq 1 "$PARALLEL"); do
		sed -n "/^### check $i\$/,/^### check /p" "$work/parallel.log" > "$work/check-$i.log"
		st=$(sed -n "s/^RESULT \([0-9]*\) $i\$/\1/p" "$work/parallel.log")
		ok "${st:-1}" "make check, run $i of $PARALLEL at once"
		sed -e 's/\x1b\[[0-9;]*m//g' -n -e '/^Test Summary Report/,$p' "$work/check-$i.log" |
			grep -E '^(t/|  Failed)' | while IFS= read -r l; do note "$l"; done
	done
fi

in_machine private yubin-fresh-demo > "$work/demo.log" 2>&1
cat "$work/demo.log" >> "$log"
n=0
while read -r _ st name; do
	ok "$st" "$name"; n=$((n + 1))
done < <(grep '^RESULT ' "$work/demo.log")
[ "$n" -eq 4 ] || ok 1 "make run demo: $n of 4 results (see $log)"

deb_verbose_end
tap_end
