# TAP helpers for guest tests; sourced.
# shellcheck shell=bash
set -eu
tap_n=0
ok() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $*"
}
not_ok() {
	tap_n=$((tap_n + 1))
	echo "not ok $tap_n - $*"
}
# check DESCRIPTION COMMAND...: one TAP line from a command's status.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
