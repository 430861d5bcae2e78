# units/debootstrap-lib.sh — what units/test-on-systemd.sh and
# units/test-fresh-machine.sh share: TAP output, the host's tools, a Debian 12
# made by debootstrap once and kept, and a copy of it set up the way the
# Debian installer leaves a machine. Sourced by bash, never run; the caller
# sets $log (its log file) before calling anything here.

# The base: what a Debian 12 installed with "standard system utilities" off
# has, plus sudo (the installer's first user may use it). test-on-systemd.sh
# boots it, hence systemd-sysv and dbus.
deb_include=systemd,systemd-sysv,dbus,ca-certificates,sudo,iproute2

t_n=0
t_failed=0
ok() { # ok STATUS NAME
	t_n=$((t_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $t_n - $2"
	else echo "not ok $t_n - $2"; t_failed=$((t_failed + 1)); fi
}
note() { echo "# $*"; echo "# $*" >> "$log"; }
bail() { echo "Bail out! $*"; exit 1; }
# The plan and a summary line; fails when a check failed.
tap_end() {
	echo "1..$t_n"
	echo "$((t_n - t_failed)) passed, $t_failed failed"
	[ "$t_failed" -eq 0 ]
}

# deb_preflight TOP WORK: root, and a WORKDIR outside the source tree.
deb_preflight() {
	case $2 in "$1"|"$1"/*) echo "WORKDIR must be outside the source tree" >&2; exit 2 ;; esac
	[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 2; }
}

# With VERBOSE=1, the log also goes to stdout as "# " lines; sets verbose_pid.
deb_verbose() {
	verbose_pid=
	[ "${VERBOSE:-0}" = 1 ] || return 0
	tail -n 0 -f "$log" --pid=$$ | sed -u 's/^/# /' &
	verbose_pid=$!
}
deb_verbose_end() {
	[ -n "${verbose_pid:-}" ] || return 0
	sleep 1
	kill "$verbose_pid" 2>/dev/null
}

# debootstrap and systemd-nspawn on the host, installed when missing.
deb_host_tools() {
	local need=
	command -v debootstrap >/dev/null || need="$need debootstrap"
	command -v systemd-nspawn >/dev/null || need="$need systemd-container"
	[ -n "$need" ] || return 0
	note "apt-get install$need (host)"
	{ apt-get update && apt-get install -y $need; } >> "$log" 2>&1 || bail "cannot install$need"
}

# deb_base BASE: debootstrap bookworm into BASE unless a finished one is
# there (the marker is written last, so an interrupted run starts over).
deb_base() {
	local base=$1
	[ -e "$base/.yubin-base-$deb_include" ] && return 0
	# Bases made before the marker existed: a booted systemd is the last
	# thing debootstrap --include installs.
	if [ -x "$base/lib/systemd/systemd" ] && [ -x "$base/usr/bin/sudo" ]; then
		: > "$base/.yubin-base-$deb_include"
		return 0
	fi
	rm -rf "$base"
	note "debootstrap bookworm (a few minutes)"
	debootstrap --include="$deb_include" bookworm "$base" ${MIRROR:-} >> "$log" 2>&1 ||
		bail "debootstrap failed (see $log)"
	: > "$base/.yubin-base-$deb_include"
}

# deb_new_root BASE ROOT: a fresh copy of BASE at ROOT, host name "mail"
# (mail.example.org in /etc/hosts, as the Debian installer writes it) and
# the user "tester", who may use sudo without a password.
deb_new_root() {
	local base=$1 root=$2
	rm -rf "$root"
	cp -a "$base" "$root" || bail "cannot copy $base"
	rm -f "$root"/.yubin-base-*
	echo mail > "$root/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tmail.example.org mail\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
		> "$root/etc/hosts"
	chroot "$root" useradd -m -s /bin/bash -G sudo tester >> "$log" 2>&1 || bail "useradd"
	echo 'tester ALL=(ALL) NOPASSWD: ALL' > "$root/etc/sudoers.d/tester"
	chmod 440 "$root/etc/sudoers.d/tester"
}
