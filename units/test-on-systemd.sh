#!/bin/bash
# units/test-on-systemd.sh — the install guide followed on a fresh Debian 12
# booted with systemd as PID 1, then every port checked. TAP output.
#
#   sudo units/test-on-systemd.sh [WORKDIR]       (default /var/tmp/yubin-boot)
#
# NOT part of `make check`: it needs root with CAP_SYS_ADMIN, about 1.5 GB
# in WORKDIR, 5 to 10 minutes, and the Debian package mirror (debootstrap's
# default one, or $MIRROR) for debootstrap and for the packages the guide
# installs. Missing host tools (debootstrap, systemd-container) are
# installed with apt-get.
#
# What it does:
#  1. debootstrap bookworm into WORKDIR/base (kept and reused by later runs;
#     units/debootstrap-lib.sh, shared with test-fresh-machine.sh) with systemd, systemd-sysv, dbus, ca-certificates, sudo and iproute2;
#     copies it to WORKDIR/root, names the host mail.example.org (/etc/hosts
#     as the Debian installer writes it) and adds the sudo user "tester".
#  2. Downloads (apt-get --download-only, in a chroot) the packages named by
#     the guide's apt-get line and the test clients (swaks, python3,
#     gnutls-bin), so that the booted machine needs no network of its own.
#  3. Boots WORKDIR/root with `systemd-nspawn -b --private-network
#     --register=no --keep-unit`: systemd 252 is PID 1 inside, and nspawn
#     needs neither systemd-machined nor a system bus on the host, so this
#     also works where the host's PID 1 is not systemd. Commands run inside
#     through nsenter(1) into the machine's namespaces.
#  4. Copies the source (git archive HEAD, or the tree when it is not a git
#     checkout) to ~tester/yubin and runs, as tester in that directory, every
#     command of the "Install on Debian 12 with systemd" code blocks of
#     units/README.md as written there (read from the copy, comments
#     stripped): `sudoedit` gets an EDITOR that sets hostname, local_domains,
#     tls_cert and tls_key; `yubin-setup --add-user` gets the password on
#     standard input; apt-get gets "y".
#  5. Checks: port 25 delivers to /var/mail/yubin/example.org/alice/new/;
#     587 (STARTTLS + AUTH PLAIN) and 465 (TLS + AUTH LOGIN) submit; mail
#     to another domain (example.net, routed with `routes` to a second
#     smtp-session on 127.0.0.1:2525 acting as its MX) is sent by
#     relay-runner.service started by relay-runner.path (the timer stopped
#     meanwhile), and a bounce for an unknown remote user comes back to the
#     local sender; POP3 110 (STLS) and 995, IMAP 143 (STARTTLS) and 993 log
#     in and find each message (python3 poplib/imaplib, certificate
#     verified); gnutls-cli and the guide's openssl s_client on 993;
#     journalctl shows peer= lines; a live session runs as yubin with
#     seccomp, no_new_privs, no capabilities and its own namespaces; no unit
#     failed and no sandbox set-up error is logged; the timer fired; then
#     `sudo make uninstall` stops the sockets and keeps /etc/yubin and mail.
#  6. Powers the machine off (also on error or Ctrl-C) and removes
#     WORKDIR/root. With KEEP=1 the machine is left running and its root
#     kept; the last lines say how to enter it (nsenter) and stop it.
#
# On a host whose PID 1 is not systemd, nspawn logs a few cgroup warnings
# (read-only /sys/fs/cgroup controllers) into WORKDIR/nspawn.log, and
# MemoryMax=/TasksMax= of the units are not enforced inside the machine;
# every sandboxing directive (namespaces, seccomp, capabilities) is.
#
# Environment: MIRROR (debootstrap mirror URL), KEEP=1, VERBOSE=1 (command
# output on stdout as "# " lines; it always goes to WORKDIR/test.log).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/var/tmp/yubin-boot}
base=$work/base
root=$work/root
log=$work/test.log
machine=yubin-test
nspawn_pid=
leader=

. "$top/units/debootstrap-lib.sh"
deb_preflight "$top" "$work"

# Runs "$@" in the booted machine as root, output to the log.
inside() {
	nsenter -t "$leader" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}
# Runs the shell command $1 in the machine as tester in ~/yubin.
as_tester() {
	inside runuser -l tester -c "cd yubin && $1"
}
# check NAME COMMAND...: command in the machine as root, output logged.
check() {
	name=$1; shift
	echo "### $name: $*" >> "$log"
	if inside "$@" >> "$log" 2>&1; then ok 0 "$name"; else ok 1 "$name"; fi
}
# Retries the machine command "$@" for up to $wait_s seconds.
eventually() {
	local i
	for i in $(seq 1 "$wait_s"); do
		inside "$@" >> "$log" 2>&1 && return 0
		sleep 1
	done
	return 1
}

stop_machine() {
	[ -n "$nspawn_pid" ] || return 0
	if kill -0 "$nspawn_pid" 2>/dev/null; then
		[ -n "$leader" ] && inside systemctl poweroff >> "$log" 2>&1
		for _ in $(seq 1 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 1; done
		# nspawn turns SIGTERM into a clean shutdown of the machine.
		kill -0 "$nspawn_pid" 2>/dev/null && kill "$nspawn_pid"
		for _ in $(seq 1 30); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 1; done
		kill -0 "$nspawn_pid" 2>/dev/null && kill -KILL "$nspawn_pid"
	fi
	wait "$nspawn_pid" 2>/dev/null
	nspawn_pid=
}
cleanup() {
	mountpoint -q "$root/proc" 2>/dev/null && umount "$root/proc"
	if [ "${KEEP:-0}" = 1 ] && [ -n "$nspawn_pid" ]; then
		echo "# KEEP=1: machine left running, systemd-nspawn pid $nspawn_pid, PID 1 inside is $leader"
		echo "#   enter: nsenter -t $leader -a /bin/bash -l ; stop: kill $nspawn_pid"
		return
	fi
	stop_machine
	[ "${KEEP:-0}" = 1 ] || rm -rf "$root"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work"
: > "$log"
deb_verbose

# --- 1. the host's tools and a fresh Debian 12 -------------------------------
deb_host_tools
deb_base "$base"
# What the Debian installer leaves: a host name, /etc/hosts naming it, and a
# user who may use sudo.
deb_new_root "$base" "$root"

# The source, as a user would unpack it.
mkdir -p "$root/home/tester/yubin"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$top" archive HEAD | tar -x -C "$root/home/tester/yubin" || bail "git archive"
	note "source: git archive $(git -C "$top" rev-parse --short HEAD)"
else
	tar -C "$top" --exclude=./build -c . | tar -x -C "$root/home/tester/yubin" || bail "tar"
fi
chroot "$root" chown -R tester:tester /home/tester/yubin

# The guide's commands: the indented lines of units/README.md between its
# "## Install on Debian 12 with systemd" heading and "To check it", with
# backslash continuations joined and "   # comments" dropped.
guide=$root/home/tester/yubin/units/README.md
mapfile -t steps < <(awk '
	/^## Install on Debian 12 with systemd/ { on = 1; next }
	on && /^To check it/ { exit }
	on && /^## / { exit }
	on && /^    / {
		line = substr($0, 5)
		sub(/[ \t]+#[ \t].*$/, "", line); sub(/^#.*$/, "", line)
		if (cont != "") { line = cont " " line; cont = "" }
		if (line ~ /\\[ \t]*$/) { sub(/[ \t]*\\[ \t]*$/, "", line); cont = line; next }
		gsub(/[ \t]+/, " ", line); sub(/^ /, "", line); sub(/ $/, "", line)
		if (line != "") print line
	}' "$guide")
[ "${#steps[@]}" -ge 8 ] || bail "found only ${#steps[@]} commands in the guide"
apt_line=
for s in "${steps[@]}"; do
	case $s in "sudo apt-get install "*) apt_line=${s#sudo apt-get install } ;; esac
done
[ -n "$apt_line" ] || bail "no apt-get install line in the guide"

# Packages into the machine's apt cache, with the host's network and resolver.
note "downloading the guide's packages and the test clients"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
mount --bind /proc "$root/proc"
chroot "$root" sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	--download-only $apt_line swaks python3 gnutls-bin openssl" >> "$log" 2>&1 ||
	bail "apt-get --download-only failed (see $log)"
umount "$root/proc"
rm -f "$root/etc/resolv.conf"

# Stand-in for a person in sudoedit: the four keys the guide names.
cat > "$root/usr/local/bin/yubin-test-edit" <<'EOF'
#!/bin/sh
sed -i -e 's/^#hostname = .*/hostname = mail.example.org/' \
	-e 's/^local_domains = .*/local_domains = example.org localhost/' \
	-e 's|^#tls_cert = .*|tls_cert = /etc/yubin/tls/fullchain.pem|' \
	-e 's|^#tls_key = .*|tls_key = /etc/yubin/tls/key.pem|' "$1"
EOF
# POP3/IMAP client: yubin-test-mailbox pop3|imap PORT USER PASSWORD SUBJECT
# logs in (STLS/STARTTLS on 110/143, TLS on 995/993, the certificate checked
# against tls_cert for mail.example.org) and exits 0 when a message with
# SUBJECT is there.
cat > "$root/usr/local/bin/yubin-test-mailbox" <<'EOF'
#!/usr/bin/python3
import imaplib, poplib, ssl, sys
proto, port, user, pw, subject = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
host = "mail.example.org"
ctx = ssl.create_default_context(cafile="/etc/yubin/tls/fullchain.pem")
found = False
if proto == "pop3":
    if port == 995:
        c = poplib.POP3_SSL(host, port, context=ctx, timeout=30)
    else:
        c = poplib.POP3(host, port, timeout=30)
        c.stls(context=ctx)
    c.user(user)
    c.pass_(pw)
    for i in range(1, c.stat()[0] + 1):
        if ("Subject: " + subject).encode() in c.retr(i)[1]:
            found = True
    c.quit()
else:
    if port == 993:
        c = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=30)
    else:
        c = imaplib.IMAP4(host, port, timeout=30)
        c.starttls(ssl_context=ctx)
    c.login(user, pw)
    c.select("INBOX", readonly=True)
    typ, data = c.search(None, "SUBJECT", '"%s"' % subject)
    found = typ == "OK" and bool(data[0].split())
    c.logout()
print(proto, port, user, subject, "found" if found else "NOT found")
sys.exit(0 if found else 1)
EOF
chmod 755 "$root/usr/local/bin/yubin-test-edit" "$root/usr/local/bin/yubin-test-mailbox"

# --- 2. boot -------------------------------------------------------------------
note "booting $root with systemd-nspawn"
systemd-nspawn --register=no --keep-unit --private-network -M "$machine" -b -D "$root" \
	--console=passive < /dev/null >> "$work/nspawn.log" 2>&1 &
nspawn_pid=$!
for _ in $(seq 1 60); do
	leader=$(ps -o pid= --ppid "$nspawn_pid" 2>/dev/null | head -n 1 | tr -d ' ')
	[ -n "$leader" ] && [ "$(cat "/proc/$leader/comm" 2>/dev/null)" = systemd ] && break
	leader=
	sleep 1
done
[ -n "$leader" ] || bail "the machine did not start (see $work/nspawn.log)"
# Until systemd listens on its private socket, systemctl fails at once.
state=
for _ in $(seq 1 120); do
	state=$(timeout 120 nsenter -t "$leader" -a systemctl is-system-running --wait 2>> "$log")
	case $state in running|degraded|maintenance|stopping) break ;; esac
	sleep 1
done
ok "$([ "$state" = running ]; echo $?)" "booted with systemd as PID 1, system state '$state'"
check "PID 1 in the machine is systemd" sh -c 'test "$(cat /proc/1/comm)" = systemd'

# --- 3. the guide, command by command -------------------------------------------
declare -A password=([alice@example.org]=alice-pw-1 [bob@example.org]=bob-pw-2)
for s in "${steps[@]}"; do
	input=y
	case $s in
	*"--add-user "*)
		addr=${s##*--add-user }; addr=${addr%% *}
		input=${password[$addr]:-some-pw} ;;
	esac
	echo "### guide: $s" >> "$log"
	if printf '%s\n' "$input" |
		inside runuser -l tester -c "cd yubin && EDITOR=yubin-test-edit $s" >> "$log" 2>&1; then
		ok 0 "guide: $s"
	else
		ok 1 "guide: $s"
	fi
done
printf 'bob-pw-2\n' | as_tester 'sudo yubin-setup --add-user bob@example.org' >> "$log" 2>&1
inside sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q swaks python3 gnutls-bin' >> "$log" 2>&1 ||
	note "apt-get install of the test clients failed"

# --- 4. checks ------------------------------------------------------------------
check "yubin-setup: /var/mail/yubin and /var/spool/yubin are yubin:yubin, 0700" sh -c \
	'test "$(stat -c "%U:%G %a" /var/mail/yubin /var/spool/yubin | sort -u)" = "yubin:yubin 700"'
check "yubin-setup: /etc/yubin/users is root:yubin, 0640; the key too" sh -c \
	'test "$(stat -c "%U:%G %a" /etc/yubin/users /etc/yubin/tls/key.pem | sort -u)" = "root:yubin 640"'
for port in 25 587 465 110 995 143 993; do
	check "listening on port $port" sh -c "ss -Hltn 'sport = :$port' | grep -q ."
done

# Passes swaks' dialogue on to the log (tee /dev/stderr would reopen, and so
# truncate, the log) and succeeds when the message was queued.
swaks_ok="awk '{ print } /^<[-~]  250 2[.]0[.]0 Ok: queued/ { f = 1 } END { exit !f }'"
check "port 25: swaks as written in the guide delivers to alice" \
	runuser -l tester -c "swaks --server localhost --to alice@example.org --header 'Subject: mx-25' | $swaks_ok"
wait_s=10
ok "$(eventually sh -c 'grep -l "^Subject: mx-25" /var/mail/yubin/example.org/alice/new/* >/dev/null'; echo $?)" \
	"the message is in /var/mail/yubin/example.org/alice/new/"
check "journalctl -u 'smtp-session@*' shows the peer address" \
	sh -c "journalctl -u 'smtp-session@*' --no-pager | grep -E 'peer=(::1|127\\.0\\.0\\.1) accepted'"
check "port 587: swaks from the guide (STARTTLS, AUTH PLAIN)" \
	runuser -l tester -c "swaks --server localhost:587 --tls --auth PLAIN --auth-user alice@example.org \
		--auth-password alice-pw-1 --from alice@example.org --to alice@example.org \
		--header 'Subject: sub-587-guide' | $swaks_ok"
check "port 587 without TLS offers no AUTH (auth_requires_tls)" \
	sh -c "swaks -s mail.example.org:587 --quit-after EHLO | grep -q STARTTLS &&
		! swaks -s mail.example.org:587 --quit-after EHLO | grep -q AUTH"
check "port 587: STARTTLS + AUTH PLAIN submits to bob" \
	runuser -l tester -c "swaks -s mail.example.org -p 587 --tls --auth PLAIN --au alice@example.org --ap alice-pw-1 \
		--from alice@example.org --to bob@example.org --header 'Subject: sub-587' | $swaks_ok"
check "port 465: implicit TLS + AUTH LOGIN submits to bob" \
	runuser -l tester -c "swaks -s mail.example.org -p 465 --tlsc --auth LOGIN --au alice@example.org --ap alice-pw-1 \
		--from alice@example.org --to bob@example.org --header 'Subject: sub-465' | $swaks_ok"
check "port 587: a wrong password is refused" \
	sh -c "swaks -s mail.example.org -p 587 --tls --auth PLAIN --au alice@example.org --ap wrong \
		--to bob@example.org | grep -q '^<~\\* *535'"

# Another domain: example.net is routed to a second smtp-session on
# 127.0.0.1:2525 (its own configuration and mail store), standing in for a
# remote MX. The timer is stopped so that only relay-runner.path can start
# the runner.
inside sh -c '
	set -e
	mkdir -p /etc/yubin-remote
	printf "%s\n" "hostname = mx.example.net" "local_domains = example.net" \
		"users = /etc/yubin-remote/users" "mail_root = /var/mail/yubin-remote" \
		"spool = /var/spool/yubin-remote" > /etc/yubin-remote/yubin.conf
	yubin-setup -c /etc/yubin-remote/yubin.conf
	echo carol-pw-3 | yubin-setup -c /etc/yubin-remote/yubin.conf --add-user carol@example.net
	printf "[Socket]\nListenStream=127.0.0.1:2525\nAccept=yes\n" > /etc/systemd/system/test-remote-mx.socket
	printf "[Service]\nExecStart=/usr/local/sbin/smtp-session -c /etc/yubin-remote/yubin.conf\nStandardInput=socket\nUser=yubin\n" \
		> /etc/systemd/system/test-remote-mx@.service
	echo "example.net 127.0.0.1:2525" > /etc/yubin/routes
	echo "routes = /etc/yubin/routes" >> /etc/yubin/yubin.conf
	systemctl daemon-reload
	systemctl start test-remote-mx.socket
	systemctl stop relay-runner.timer' >> "$log" 2>&1 || note "setting up the stand-in remote MX failed"
check "port 587: mail to carol@example.net is queued" \
	sh -c "swaks -s mail.example.org -p 587 --tls --auth PLAIN --au alice@example.org --ap alice-pw-1 \
		--from alice@example.org --to carol@example.net --header 'Subject: relayed' | $swaks_ok"
wait_s=30
ok "$(eventually sh -c 'grep -l "^Subject: relayed" /var/mail/yubin-remote/example.net/carol/new/* >/dev/null'; echo $?)" \
	"relay-runner, started by relay-runner.path, sent it to the remote MX"
check "journalctl -u relay-runner shows status=sent" \
	sh -c "journalctl -u relay-runner --no-pager | grep -q 'to=<carol@example.net>.*status=sent'"
check "port 465: mail to nobody@example.net is queued" \
	sh -c "swaks -s mail.example.org -p 465 --tlsc --auth PLAIN --au alice@example.org --ap alice-pw-1 \
		--from alice@example.org --to nobody@example.net --header 'Subject: to-nobody' | $swaks_ok"
ok "$(eventually sh -c 'grep -l "^Content-Type: multipart/report" /var/mail/yubin/example.org/alice/new/* >/dev/null'; echo $?)" \
	"relay-runner delivered the bounce for nobody@example.net to alice"
check "the spool is empty again" sh -c 'test -z "$(ls -A /var/spool/yubin/new)"'
inside systemctl start relay-runner.timer >> "$log" 2>&1
# With Persistent=true the first start stamps the timer with the current
# time, so only a change of LastTriggerUSec shows that it fired.
timer_t0=$(inside systemctl show -p LastTriggerUSec --value relay-runner.timer)

for p in "pop3 110" "pop3 995" "imap 143" "imap 993"; do
	check "${p% *} ${p#* }: bob reads the mail from 587" runuser -u tester -- yubin-test-mailbox $p bob@example.org bob-pw-2 sub-587
	check "${p% *} ${p#* }: bob reads the mail from 465" runuser -u tester -- yubin-test-mailbox $p bob@example.org bob-pw-2 sub-465
done
check "imap 993: alice reads the port 25 mail" yubin-test-mailbox imap 993 alice@example.org alice-pw-1 mx-25
check "pop3 110: a wrong password is refused" sh -c '! yubin-test-mailbox pop3 110 bob@example.org wrong sub-587'
check "gnutls-cli on 993 verifies the certificate and logs in" sh -c \
	'printf "a LOGIN bob@example.org bob-pw-2\r\nb SELECT INBOX\r\nc LOGOUT\r\n" |
		gnutls-cli --x509cafile /etc/yubin/tls/fullchain.pem -p 993 mail.example.org 2>&1 |
		grep -q "^a OK" '
check "gnutls-cli on 995 verifies the certificate and logs in" sh -c \
	'printf "USER bob@example.org\r\nPASS bob-pw-2\r\nSTAT\r\nQUIT\r\n" |
		gnutls-cli --x509cafile /etc/yubin/tls/fullchain.pem -p 995 mail.example.org 2>&1 |
		grep -q "^+OK 2 "'
check "openssl s_client from the guide on 993 logs in" sh -c \
	'(printf "a LOGIN alice@example.org alice-pw-1\r\n"; sleep 2; printf "b LOGOUT\r\n"; sleep 1) |
		openssl s_client -quiet -connect localhost:993 2>&1 | grep -q "^a OK"'
check "journalctl shows peer= for pop3 and imap sessions" sh -c \
	"journalctl -u 'pop3s-session@*' -u 'imap-session@*' --no-pager | grep -q 'peer=127.0.0.1'"

# A live session: runs as yubin in its sandbox.
inside sh -c 'python3 -c "
import socket, time
s = socket.create_connection((\"mail.example.org\", 143)); s.recv(200); time.sleep(8)" &
	sleep 3
	u=$(systemctl list-units --plain --no-legend "imap-session@*" | awk "{print \$1}" | head -n 1)
	pid=$(systemctl show -p MainPID --value "$u")
	echo "unit=$u pid=$pid"; grep -E "^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/$pid/status
	for n in net mnt ipc user uts; do
		[ "$(readlink /proc/$pid/ns/$n)" != "$(readlink /proc/1/ns/$n)" ] && echo "ns $n private"
	done
	systemd-analyze security --no-pager "$u" | tail -n 1
	wait' > "$work/sandbox.txt" 2>&1
cat "$work/sandbox.txt" >> "$log"
uid=$(inside id -u yubin)
ok "$(grep -Eq "^Uid:[[:space:]]+$uid[[:space:]]" "$work/sandbox.txt"; echo $?)" "a live imap session runs as yubin"
ok "$(grep -Eq '^Seccomp:[[:space:]]+2' "$work/sandbox.txt" && grep -Eq '^NoNewPrivs:[[:space:]]+1' "$work/sandbox.txt"; echo $?)" \
	"it has a seccomp filter and no_new_privs"
ok "$(grep -Eq '^CapBnd:[[:space:]]+0+$' "$work/sandbox.txt" && grep -Eq '^CapEff:[[:space:]]+0+$' "$work/sandbox.txt"; echo $?)" \
	"it has no capabilities"
ok "$([ "$(grep -c '^ns .* private' "$work/sandbox.txt")" -eq 5 ]; echo $?)" \
	"it has its own network, mount, IPC, user and UTS namespaces"
ok "$(grep -Eq 'exposure level .*: 0\.[0-9] SAFE' "$work/sandbox.txt"; echo $?)" \
	"systemd-analyze security on it: $(grep -o '[0-9.]* [A-Z]* [^ ]*$' "$work/sandbox.txt" | head -n 1)"
check "no failed units" sh -c 'test -z "$(systemctl list-units --failed --plain --no-legend)"'
check "no sandbox set-up failures logged" sh -c \
	'! journalctl -b --no-pager | grep -E "(session@|relay-runner).*(status=2[0-9][0-9]/|Failed to set up|Failed at step|SECCOMP)"'
# The programs write "NAME[PID]: error: ..." to stderr, which journald files
# at priority info, so -p err alone would miss them.
check "no session or relay-runner error in the journal" sh -c \
	'! journalctl -b --no-pager -u "*-session@*" -u relay-runner.service |
		grep -F "]: error: " &&
	! journalctl -b --no-pager -p err -u "*-session@*" -u relay-runner.service | grep -v "^-- "'
check "systemctl status: sockets active" sh -c \
	'systemctl is-active smtp-session.socket submission-session.socket smtps-session.socket pop3-session.socket \
		pop3s-session.socket imap-session.socket imaps-session.socket relay-runner.timer relay-runner.path'
wait_s=75
ok "$(eventually sh -c "test \"\$(systemctl show -p LastTriggerUSec --value relay-runner.timer)\" != '$timer_t0'"; echo $?)" \
	"relay-runner.timer fired (last trigger was '$timer_t0')"
check "relay-runner.service ran without failing" sh -c \
	'systemctl show -p Result --value relay-runner.service | grep -qx success'

# For the record (the log): warnings of this boot and the units' status.
{
	echo "### journalctl -b -p warning"
	inside journalctl -b -p warning --no-pager
	echo "### systemctl status"
	inside systemctl status --no-pager --lines=3 smtp-session.socket submission-session.socket \
		smtps-session.socket pop3-session.socket pop3s-session.socket imap-session.socket \
		imaps-session.socket relay-runner.service relay-runner.timer relay-runner.path
} >> "$log" 2>&1

# --- 5. uninstall -----------------------------------------------------------------
echo "### guide: sudo make uninstall" >> "$log"
as_tester 'sudo make uninstall' >> "$log" 2>&1
ok $? "sudo make uninstall"
check "uninstall removed the programs, units and pages" sh -c \
	'! ls /usr/local/sbin/*-session /usr/local/sbin/relay-runner /usr/local/sbin/yubin-setup \
		/lib/systemd/system/*-session.socket /lib/systemd/system/*-session@.service \
		/lib/systemd/system/relay-runner.* \
		/usr/local/share/man/man8/smtp-session.8 2>/dev/null | grep .'
check "uninstall stopped the sockets and left no enable links" sh -c \
	'! ss -Hltn | grep -E ":(25|587|465|110|995|143|993)[[:space:]]" &&
		! find -L /etc/systemd/system -type l | grep .'
check "uninstall kept /etc/yubin, the users, the mail and the spool" sh -c \
	'test -f /etc/yubin/yubin.conf && grep -q "^alice@example.org:" /etc/yubin/users &&
		ls /var/mail/yubin/example.org/alice/new | grep -q . && test -d /var/spool/yubin/new'

[ "${KEEP:-0}" = 1 ] || stop_machine
deb_verbose_end
tap_end
