#!/bin/sh
# units/install.sh — the body of `make install` and `make uninstall`.
#
#   sh units/install.sh install|uninstall
#
# The Makefile passes, in the environment: DESTDIR, PREFIX, BINDIR, MANDIR,
# sysconfdir, unitdir, BIN (the build's bin/ directory), PROGRAMS (the
# programs that are built) and TLSLIB_SONAME (the GnuTLS they dlopen()). Units and examples are written with their paths
# (/usr/local/sbin, /etc/yubin) rewritten to BINDIR and sysconfdir. An
# existing yubin.conf is never overwritten, and uninstall leaves it, the
# users file, mail_root and the spool alone. Without DESTDIR on a host
# running systemd, uninstall first disables and stops the sockets, the timer
# and the path unit, and reloads systemd after removing the unit files.
set -eu

: "${DESTDIR=}" "${PREFIX:=/usr/local}" "${BINDIR:=$PREFIX/sbin}"
: "${MANDIR:=$PREFIX/share/man}" "${sysconfdir:=/etc}" "${unitdir:=/lib/systemd/system}"
: "${BIN:=build/obj/bin}" "${PROGRAMS:=}" "${TLSLIB_SONAME:=}"
docdir=$PREFIX/share/doc/yubin
top=$(cd "$(dirname "$0")/.." && pwd)
u=$top/units

# Units that belong to each program.
units_of() {
	case $1 in
	smtp-session) echo smtp-session.socket smtp-session@.service \
		submission-session.socket submission-session@.service \
		smtps-session.socket smtps-session@.service ;;
	pop3-session) echo pop3-session.socket pop3-session@.service \
		pop3s-session.socket pop3s-session@.service ;;
	imap-session) echo imap-session.socket imap-session@.service \
		imaps-session.socket imaps-session@.service ;;
	relay-runner) echo relay-runner.service relay-runner.timer relay-runner.path ;;
	esac
}

# The programs dlopen() GnuTLS when a session first needs TLS or DKIM
# (lib/tlslib.c), so neither ldd nor a packager's shared-library scan shows
# it: say which library they need, and warn when this host has none.
tls_lib_note() {
	[ -n "$TLSLIB_SONAME" ] || return 0
	echo "  the programs load $TLSLIB_SONAME at run time (Debian: libgnutls30); a package must depend on it"
	ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
	if ! "$ldconfig" -p 2>/dev/null | grep -q "^[[:space:]]*$TLSLIB_SONAME "; then
		echo "  warning: $TLSLIB_SONAME is not installed here: STARTTLS, implicit TLS and DKIM signing will fail" >&2
	fi
}

# Copies $1 to $2 with the install paths, mode $3.
rewrite() {
	sed -e "s|/usr/local/sbin/|$BINDIR/|g" -e "s|/etc/yubin/|$sysconfdir/yubin/|g" \
		-e "s|/etc/yubin\$|$sysconfdir/yubin|g" "$1" > "$2.tmp"
	chmod "$3" "$2.tmp"
	mv -f "$2.tmp" "$2"
	echo "  $2"
}

do_install() {
	install -d -m 755 "$DESTDIR$BINDIR" "$DESTDIR$MANDIR/man5" "$DESTDIR$MANDIR/man8" \
		"$DESTDIR$sysconfdir/yubin" "$DESTDIR$docdir/examples/xinetd.d" \
		"$DESTDIR$docdir/examples/fail2ban/filter.d" "$DESTDIR$docdir/examples/fail2ban/jail.d"
	# `make install` builds first, so a missing binary only happens when
	# install.sh is run by hand (or with make -o all) on a partial build.
	built=
	for p in $PROGRAMS; do
		if [ -x "$BIN/$p" ]; then built="$built $p"; else echo "  $p is not built: skipped" >&2; fi
	done
	PROGRAMS=$built
	for p in $PROGRAMS; do
		install -m 755 "$BIN/$p" "$DESTDIR$BINDIR/$p"
		echo "  $DESTDIR$BINDIR/$p"
		if [ -f "$top/$p/$p.8" ]; then
			install -m 644 "$top/$p/$p.8" "$DESTDIR$MANDIR/man8/$p.8"
		fi
	done
	[ -z "$PROGRAMS" ] || tls_lib_note
	install -m 644 "$top/yubin.conf.5" "$DESTDIR$MANDIR/man5/yubin.conf.5"
	rewrite "$u/yubin-setup" "$DESTDIR$BINDIR/yubin-setup" 755
	rewrite "$u/yubin-setup.8" "$DESTDIR$MANDIR/man8/yubin-setup.8" 644

	# The configuration: only when there is none, never overwritten.
	conf=$DESTDIR$sysconfdir/yubin/yubin.conf
	if [ -e "$conf" ]; then
		echo "  $conf exists, left alone"
	else
		rewrite "$u/yubin.conf.example" "$conf" 644
	fi

	if [ -n "$unitdir" ]; then
		install -d -m 755 "$DESTDIR$unitdir"
		for p in $PROGRAMS; do
			for n in $(units_of "$p"); do
				rewrite "$u/$n" "$DESTDIR$unitdir/$n" 644
			done
		done
	fi

	# Examples for inetd, xinetd, tcpserver and cron, with the same paths.
	for f in inetd.conf tcpserver.example relay-runner.cron yubin.conf.example; do
		rewrite "$u/$f" "$DESTDIR$docdir/examples/$f" 644
	done
	for f in "$u"/xinetd.d/*; do
		rewrite "$f" "$DESTDIR$docdir/examples/xinetd.d/${f##*/}" 644
	done
	# fail2ban's configuration is the administrator's: examples only.
	for f in filter.d/yubin.conf jail.d/yubin.conf; do
		rewrite "$u/fail2ban/$f" "$DESTDIR$docdir/examples/fail2ban/$f" 644
	done
}

# On a running systemd host (not a DESTDIR staging tree): the listed units
# that are installed, disabled and stopped first. Otherwise the sockets
# would keep listening, and start services whose program is gone, and the
# enable symlinks in /etc/systemd/system would dangle.
systemd_stop_units() {
	[ -z "$DESTDIR" ] && [ -n "$unitdir" ] && [ -d /run/systemd/system ] || return 0
	command -v systemctl >/dev/null 2>&1 || return 0
	present=
	for n in "$@"; do
		[ -e "$unitdir/$n" ] && present="$present $n"
	done
	[ -n "$present" ] || return 0
	# Templates (NAME@.service) cannot be disabled or stopped by name; their
	# running instances finish their connection.
	stoppable=$(printf '%s\n' $present | grep -v '@\.service$' || true)
	if [ -n "$stoppable" ]; then
		echo "  systemctl disable --now" $stoppable
		systemctl disable --now $stoppable || echo "  (systemctl failed: disable them by hand)" >&2
	fi
}

do_uninstall() {
	all_units=
	for p in smtp-session pop3-session imap-session relay-runner; do
		all_units="$all_units $(units_of "$p")"
	done
	systemd_stop_units $all_units
	for p in smtp-session pop3-session imap-session relay-runner; do
		rm -f "$DESTDIR$BINDIR/$p" "$DESTDIR$MANDIR/man8/$p.8"
		if [ -n "$unitdir" ]; then
			for n in $(units_of "$p"); do rm -f "$DESTDIR$unitdir/$n"; done
		fi
	done
	rm -f "$DESTDIR$BINDIR/yubin-setup" "$DESTDIR$MANDIR/man8/yubin-setup.8" \
		"$DESTDIR$MANDIR/man5/yubin.conf.5"
	rm -rf "$DESTDIR$docdir"
	if [ -z "$DESTDIR" ] && [ -n "$unitdir" ] && [ -d /run/systemd/system ] &&
		command -v systemctl >/dev/null 2>&1; then
		systemctl daemon-reload || true
	fi
	echo "  kept $DESTDIR$sysconfdir/yubin (configuration, users), mail_root and spool"
}

case ${1:-} in
install) do_install ;;
uninstall) do_uninstall ;;
*) echo "usage: install.sh install|uninstall" >&2; exit 2 ;;
esac
