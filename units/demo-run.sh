#!/bin/sh
# units/demo-run.sh — `make run`: a throwaway yubin on 127.0.0.1 high ports.
#
# Makes a scratch directory with yubin.conf, a users file (demo@localhost,
# password "demo"), a self-signed certificate (certtool), mail_root and spool;
# starts every built session program under systemd-socket-activate, one
# process per connection, and relay-runner every 30 s; prints how to connect.
# Ctrl-C (or SIGTERM) stops everything it started.
#
# Environment:
#   YUBIN_BUILD             build directory with bin/ (default: build/obj)
#   YUBIN_DEMO_DIR          scratch directory (default: build/demo, or a
#                           fresh /tmp/yubin-demo.XXXXXX when run as root);
#                           it is emptied first
#   YUBIN_DEMO_PORT_OFFSET  added to every port (default 0), when 2525 & co.
#                           are taken
#   YUBIN_DEMO_RUN_AS       as root: the unprivileged user the sessions drop
#                           to (default: yubin if it exists, else nobody)
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${YUBIN_BUILD:-$top/build/obj}/bin
offset=${YUBIN_DEMO_PORT_OFFSET:-0}
password=demo

die() { echo "demo-run: $*" >&2; exit 1; }

case $offset in *[!0-9]*|'') die "YUBIN_DEMO_PORT_OFFSET must be a number" ;; esac
command -v systemd-socket-activate >/dev/null || die "systemd-socket-activate not found (package systemd)"
command -v certtool >/dev/null || die "certtool not found (package gnutls-bin)"

# --- the scratch directory ---------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
	# Sessions refuse to run as root: they drop to run_as, which must be able
	# to reach the directory (a checkout under /root would not do).
	run_as=${YUBIN_DEMO_RUN_AS:-}
	if [ -z "$run_as" ]; then
		if id yubin >/dev/null 2>&1; then run_as=yubin; else run_as=nobody; fi
	fi
	id "$run_as" >/dev/null 2>&1 || die "user $run_as does not exist"
	[ "$(id -u "$run_as")" -ne 0 ] || die "run_as must not be root"
	dir=${YUBIN_DEMO_DIR:-$(mktemp -d /tmp/yubin-demo.XXXXXX)}
else
	run_as=$(id -un)
	dir=${YUBIN_DEMO_DIR:-$top/build/demo}
fi
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
# Only a directory this script made (or an empty one) is ever emptied.
if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ] && [ ! -e "$dir/.yubin-demo" ]; then
	die "$dir is not empty and not a demo directory; set YUBIN_DEMO_DIR"
fi
rm -rf "$dir" && mkdir -p "$dir" || die "cannot make $dir"
: > "$dir/.yubin-demo"
chmod 755 "$dir"
mkdir "$dir/mail" "$dir/spool" "$dir/tls"

# --- users, certificate, configuration ---------------------------------------
if command -v openssl >/dev/null; then
	hash=$(openssl passwd -6 "$password")
else
	hash=$(python3 -c 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_SHA512)))' "$password" 2>/dev/null)
fi
[ -n "$hash" ] || die "cannot hash the demo password (need openssl or python3)"
printf 'demo@localhost:{SHA512-CRYPT}%s\n' "$hash" > "$dir/users"
printf 'postmaster@localhost: demo@localhost\n' > "$dir/aliases"

cat > "$dir/tls/cert.cfg" <<EOF
cn = localhost
dns_name = localhost
ip_address = 127.0.0.1
expiration_days = 30
tls_www_server
signing_key
encryption_key
cert_signing_key
EOF
certtool --generate-privkey --key-type ecdsa --curve secp256r1 \
	--outfile "$dir/tls/key.pem" >/dev/null 2>&1 &&
certtool --generate-self-signed --load-privkey "$dir/tls/key.pem" \
	--template "$dir/tls/cert.cfg" --outfile "$dir/tls/cert.pem" >/dev/null 2>&1 ||
	die "certtool failed"

conf=$dir/yubin.conf
cat > "$conf" <<EOF
# yubin demo configuration (made by units/demo-run.sh)
hostname = localhost
local_domains = localhost
users = $dir/users
aliases = $dir/aliases
mail_root = $dir/mail
spool = $dir/spool
tls_cert = $dir/tls/cert.pem
tls_key = $dir/tls/key.pem
auth_requires_tls = yes
run_as = $run_as
EOF

chmod 644 "$conf" "$dir/users" "$dir/aliases" "$dir/tls/cert.pem"
chmod 600 "$dir/tls/key.pem"
chmod 700 "$dir/mail" "$dir/spool"
if [ "$(id -u)" -eq 0 ]; then
	chown "$run_as" "$dir/mail" "$dir/spool" "$dir/tls/key.pem"
fi

# --- start -------------------------------------------------------------------
pids=
started=
stop() {
	trap - INT TERM EXIT
	for p in $pids; do
		# Sessions still serving a client are children of their listener.
		for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do kill "$c" 2>/dev/null; done
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -z "$pids" ] || echo "demo-run: stopped; mail is still in $dir/mail" >&2
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

listen() { # port program args...
	port=$(($1 + offset)); prog=$2; shift 2
	[ -x "$bin/$prog" ] || return 0
	# SYSTEMD_LOG_LEVEL: no "Spawned ..." chatter for every connection.
	SYSTEMD_LOG_LEVEL=warning systemd-socket-activate --accept --inetd -l "127.0.0.1:$port" \
		"$bin/$prog" -c "$conf" "$@" &
	pids="$pids $!"
	started="$started $port"
}

listen 2525 smtp-session
listen 2587 smtp-session --submission
listen 2465 smtp-session --implicit-tls --submission
listen 1110 pop3-session
listen 1995 pop3-session --implicit-tls
listen 1143 imap-session
listen 1993 imap-session --implicit-tls
[ -n "$started" ] || die "nothing is built yet: run make first"
# A listener that could not bind its port (taken?) has exited by now.
sleep 0.3
for p in $pids; do
	kill -0 "$p" 2>/dev/null || echo "demo-run: a listener exited; is one of the ports$started taken? (YUBIN_DEMO_PORT_OFFSET moves them)" >&2
done

if [ -x "$bin/relay-runner" ]; then
	(
		trap 'kill $sleeper 2>/dev/null; exit 0' INT TERM
		while :; do
			"$bin/relay-runner" -c "$conf" --once
			sleep 30 & sleeper=$!
			wait $sleeper
		done
	) &
	pids="$pids $!"
fi

# --- tell the user -------------------------------------------------------------
p() { echo $(($1 + offset)); }
has() { [ -x "$bin/$1" ]; }
cat <<EOF

yubin demo in $dir (sessions run as $run_as)
  user demo@localhost, password "$password"; certificate $dir/tls/cert.pem
  listening on 127.0.0.1 ports:$started
  logs: this terminal (one line per event; each session is one process)

EOF
if has smtp-session; then cat <<EOF
Send mail (swaks):
  swaks --server 127.0.0.1:$(p 2525) --to demo@localhost
  swaks --server 127.0.0.1:$(p 2587) --tls --auth PLAIN --auth-user demo@localhost --auth-password demo --from demo@localhost --to demo@localhost
  swaks --server 127.0.0.1:$(p 2465) --tlsc --auth PLAIN --auth-user demo@localhost --auth-password demo --from demo@localhost --to someone@example.com
  mail for demo@localhost lands in $dir/mail/localhost/demo/new/
  mail for other domains is queued in $dir/spool/

EOF
fi
if has pop3-session || has imap-session; then cat > "$dir/mbsyncrc" <<EOF
IMAPAccount demo
Host 127.0.0.1
Port $(p 1993)
User demo@localhost
Pass demo
SSLType IMAPS
CertificateFile $dir/tls/cert.pem

IMAPStore demo-remote
Account demo

MaildirStore demo-local
Path $dir/mbsync/
Inbox $dir/mbsync/INBOX

Channel demo
Far :demo-remote:
Near :demo-local:
Patterns *
Create Near
EOF
mkdir -p "$dir/mbsync"
cat > "$dir/fetchmailrc" <<EOF
poll 127.0.0.1 service $(p 1995) protocol POP3
    user "demo@localhost" password "demo"
    ssl sslcertfile "$dir/tls/cert.pem" sslcertck sslcommonname localhost
    keep fetchall
    mda "cat"
EOF
# fetchmail refuses a run control file others can read.
chmod 600 "$dir/fetchmailrc"
cat <<EOF
Read mail:
  openssl s_client -quiet -connect 127.0.0.1:$(p 1995)                 (POP3S: USER demo@localhost, PASS demo)
  openssl s_client -quiet -starttls pop3 -connect 127.0.0.1:$(p 1110)
  openssl s_client -quiet -connect 127.0.0.1:$(p 1993)                 (IMAPS: a LOGIN demo@localhost demo)
  openssl s_client -quiet -starttls imap -connect 127.0.0.1:$(p 1143)
  fetchmail -f $dir/fetchmailrc      (POP3S; prints the messages, keeps them)
  mbsync -c $dir/mbsyncrc -a       (copies the mailbox into $dir/mbsync/)

EOF
fi
if has relay-runner; then cat <<EOF
Queue:
  $bin/relay-runner -c $conf --list     (relay-runner runs every 30 s)

EOF
fi
echo "Ctrl-C stops the demo."
wait
