#!/bin/bash
# guest-timeout: 1200
# vhost with its rings and dirty log reached through umirror
# (vhost.umirror=3) and through uaccess and per-bit pins (0), the same
# checks in both modes, and the default (1: the log only) in short:
# tools/virtio's virtio_test against vhost_test.ko and vhost_net_test over
# TUN, tests/guest/src/vhost-ring.c for the dirty log, the memory kinds,
# memory changed under the worker, the OOM killer and bad input, and
# vringh_test once. Pins balanced after each group.
. "$(dirname "$0")/../lib.sh"
tools=$UMIRROR_BUILD/tools-virtio
ring=$UMIRROR_BUILD/guest-bin/vhost-ring
param=/sys/module/vhost/parameters/umirror
[ -x "$tools/virtio_test" ] || { echo "Bail out! no $tools/virtio_test: build with tests/build --virtio"; exit 1; }
[ -x "$ring" ] || { echo "Bail out! no $ring: run tests/build"; exit 1; }
[ -w "$param" ] || { echo "Bail out! no $param: a kernel without vhost on umirror"; exit 1; }
grep -q '^vhost_test ' /proc/modules || insmod "$tools/vhost_test.ko" ||
	{ echo "Bail out! cannot load $tools/vhost_test.ko"; exit 1; }
bufs=${VHOST_TEST_BUFS:-20000}

# run NAME COMMAND...: one TAP line; the output of a failure as comments.
run() {
	local name=$1 out
	shift
	if out=$(timeout 300 "$@" 2>&1); then
		ok "$name"
	else
		not_ok "$name (exit $?)"
		echo "$out" | tail -n 5 | sed 's/^/# /'
	fi
}

# ring ARGS...: vhost-ring's own TAP lines, renumbered into ours, and one
# more if it bailed out or was killed.
ring() {
	local line rc=0 out
	out=$(timeout 300 "$ring" "$@") || rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok "*) ok "${line#ok * - }" ;;
		"not ok "*) not_ok "${line#not ok * - }" ;;
		*) echo "$line" ;;
		esac
	done <<<"$out"
	case "$out" in
	*"Bail out!"*) not_ok "vhost-ring $* bailed out" ;;
	esac
	[ "$rc" -le 1 ] || not_ok "vhost-ring $* ended with status $rc"
}

oom_cg="" slower=""
if oom_cg=$(oom_cgroup umirror-vhost-oom) && slower=$(nullb_slow umirror_slower 10000); then
	:
else
	oom_cg=""
	echo "# no memory cgroup or slow null_blk: the OOM cases are skipped"
fi
for mode in 3 0; do
	echo "$mode" >"$param"
	name=$([ "$mode" = 3 ] && echo umirror || echo uaccess)
	before=$(pins_held)
	for args in --batch=random --batch=64 --reset=1000 --no-event-idx \
		--no-indirect --no-virtio-1 --delayed-interrupt; do
		run "$name: virtio_test $args --buf-num=$bufs" \
			"$tools/virtio_test" "$args" --buf-num="$bufs"
	done
	run "$name: vhost_net_test --batch=32 --buf-num=$bufs" \
		"$tools/vhost_net_test" --batch=32 --buf-num="$bufs"
	check "$name: tools/virtio pins balanced" [ "$(pins_held)" = "$before" ]

	# The dirty log pins a page per bit only without umirror.
	log_pins=$([ "$mode" = 3 ] && echo none || echo some)
	for memory in anon memfd thp; do
		ring --memory "$memory" --log --log-pins "$log_pins"
	done
	ring --memory memfd --log --churn dontneed --log-pins "$log_pins"
	ring --memory anon --log --churn mprotect --log-pins "$log_pins"
	ring --memory thp --log --churn mprotect --log-pins "$log_pins"
	ring --memory anon --log --churn migrate --log-pins "$log_pins"
	ring --memory memfd --log --churn migrate --log-pins "$log_pins"
	ring --memory anon --log --churn logremap --rounds 30 --log-pins "$log_pins"
	ring --memory anon --log --small --churn migrate --log-pins "$log_pins"
	# OOM-killed with vhost on its rings; held, the OOM reaper frees the
	# memory under the mirrors first.
	if [ -n "$oom_cg" ]; then
		before=$(pins_held)
		ring --memory anon --log --oom "$oom_cg"
		ring --memory thp --log --oom "$oom_cg" --hold "$slower"
		check "$name: pins balanced after the OOM kills" [ "$(pins_held)" = "$before" ]
	fi
	# Bad input fails or degrades as it does with uaccess.
	ring --memory secretmem
	ring --memory anon --bad unmapped
	ring --memory anon --bad ro-used
	ring --memory anon --bad ro-used-late
	ring --memory anon --log --bad log-unmapped
	ring --memory anon --log --bad log-ro
done
# The default: the log through its mirror, the rings through uaccess.
echo 1 >"$param"
run "default: virtio_test --batch=random --buf-num=$bufs" \
	"$tools/virtio_test" --batch=random --buf-num="$bufs"
ring --memory anon --log --churn migrate --log-pins none
run "vringh_test" "$tools/vringh_test"
run "vringh_test --indirect --eventidx --virtio-1" \
	"$tools/vringh_test" --indirect --eventidx --virtio-1
rmmod vhost_test || true
echo "1..$tap_n"
