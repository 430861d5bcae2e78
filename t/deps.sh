#!/bin/sh
# make deps: installs the Debian packages needed to build and test yubin,
# when missing. Not root: prints the command to run instead. Never with
# recommends: t/deps.txt names every package the tests use (swaks's TLS is
# libnet-ssleay-perl, only a recommends of swaks), so that a machine that
# happens to have a recommended package cannot hide a missing line.
list=$(dirname "$0")/deps.txt
missing=""
for p in $(cat "$list"); do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && { echo "deps: all packages present"; exit 0; }
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing:$missing"
	echo "run: sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing"
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update && apt-get install -y --no-install-recommends $missing
