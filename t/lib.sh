# t/lib.sh — helpers for shell tests: TAP, scratch dirs, built binaries.
# Source it: . "$(dirname "$0")/lib.sh"
T_TOP=$(cd "$(dirname "$0")/.." && pwd)
YUBIN_BUILD=${YUBIN_BUILD:-$T_TOP/build/obj}
t_n=0
t_failed=0
ok() { # ok CONDITION-EXIT-STATUS NAME
	t_n=$((t_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $t_n - $2"; else echo "not ok $t_n - $2"; t_failed=$((t_failed + 1)); fi
}
check() { # check NAME COMMAND...
	name=$1; shift
	if "$@"; then ok 0 "$name"; else ok 1 "$name"; fi
}
done_testing() { echo "1..$t_n"; [ "$t_failed" -eq 0 ]; exit $?; }
bin() { echo "$YUBIN_BUILD/bin/$1"; }
scratch() { T_DIR=$(mktemp -d /tmp/yubin-t-XXXXXX); trap 'rm -rf "$T_DIR"' EXIT; }
