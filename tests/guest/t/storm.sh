#!/bin/bash
# guest-timeout: 900
# The storm (tests/guest/src/storm.c): I/O on registered buffers while the
# memory under them changes, with KSM, khugepaged and swap on zram working,
# and vhost (vhost.umirror=3: rings and dirty log through mirrors) serving
# tools/virtio's virtio_test and vhost-ring's churn cases at the same time.
# Everything runs in one memory cgroup; once all of it has exited, the
# FOLL_PIN pins are where they were and the cgroup's memory has come back.
#   STORM_SEED (default 1), STORM_SECONDS (default 60)
. "$(dirname "$0")/../lib.sh"
seed=${STORM_SEED:-1}
seconds=${STORM_SECONDS:-60}
prog=$UMIRROR_BUILD/guest-bin/storm
ring=$UMIRROR_BUILD/guest-bin/vhost-ring
tools=$UMIRROR_BUILD/tools-virtio
[ -x "$prog" ] || { echo "Bail out! no $prog: run tests/build"; exit 1; }
cg=$(memcg umirror-storm) || { echo "Bail out! no memory cgroup"; exit 1; }
swap_on || echo "# no swap on zram: MADV_PAGEOUT only drops clean pages"
echo 1 >/sys/kernel/mm/ksm/run
echo 1000 >/sys/kernel/mm/ksm/pages_to_scan
echo 20 >/sys/kernel/mm/ksm/sleep_millisecs
echo 100 >/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs
args=(--seed "$seed" --seconds "$seconds" --blockdev "$(nullb_memory_backed)")
ext4=$(scratch_ext4)
[ -z "$ext4" ] || args+=(--ext4 "$ext4")
[ ! -c /dev/ng0n1 ] || args+=(--nvme /dev/ng0n1)

# vhost_loop: vhost cases back to back until the storm ends; prints
# "runs failed" at the end, and the output of failures as comments.
vhost_loop() {
	local runs=0 failed=0 i=0 out
	while [ ! -e /tmp/storm.done ]; do
		i=$((i + 1))
		for cmd in "$tools/virtio_test --batch=random --buf-num=2000" \
			"$ring --memory anon --log --churn migrate --rounds 5 --seed $seed$i --pins-shared" \
			"$ring --memory memfd --log --churn dontneed --rounds 5 --seed $seed$i --pins-shared" \
			"$ring --memory thp --log --churn mprotect --rounds 5 --seed $seed$i --pins-shared"; do
			runs=$((runs + 1))
			if ! out=$(timeout 300 $cmd 2>&1) || grep -q '^not ok' <<<"$out"; then
				failed=$((failed + 1))
				echo "# vhost failure: $cmd" >&2
				grep -v '^ok' <<<"$out" | tail -n 5 | sed 's/^/# /' >&2
			fi
		done
	done
	echo "$runs $failed"
}

before=$(pins_held)
rm -f /tmp/storm.done
vhost=0
if [ -x "$ring" ] && [ -x "$tools/virtio_test" ] && [ -w /sys/module/vhost/parameters/umirror ] &&
	{ grep -q '^vhost_test ' /proc/modules || insmod "$tools/vhost_test.ko"; }; then
	echo 3 >/sys/module/vhost/parameters/umirror
	vhost=1
	(echo $BASHPID >"$cg/cgroup.procs" && vhost_loop >/tmp/storm.vhost) &
	vpid=$!
else
	echo "# no vhost_test or tools/virtio (tests/build --virtio): the storm runs without vhost"
fi
rc=0
(echo $BASHPID >"$cg/cgroup.procs" && exec "$prog" "${args[@]}") >/tmp/storm.out &
spid=$!
# What the storm has charged midway, for scale against what stays after.
sleep $((seconds / 2))
echo "# storm memcg midway: $(grep -E '^(anon|kernel) ' "$cg/memory.stat" | tr '\n' ' ')"
wait "$spid" || rc=$?
touch /tmp/storm.done
grep -v '^1\.\.' /tmp/storm.out | while IFS= read -r line; do
	case "$line" in
	"ok "*) ok "${line#ok * - }" ;;
	"not ok "*) not_ok "${line#not ok * - }" ;;
	*) echo "$line" ;;
	esac
done
tap_n=$(grep -c '^\(not \)\?ok ' /tmp/storm.out || true)
case "$(cat /tmp/storm.out)" in
*"Bail out!"*) not_ok "storm bailed out" ;;
esac
[ "$rc" -le 1 ] || not_ok "storm ended with status $rc"
if [ "$vhost" = 1 ]; then
	wait "$vpid"
	read -r runs failed </tmp/storm.vhost
	echo "# storm vhost: runs=$runs failed=$failed"
	check "vhost under the storm: $runs runs, $failed failed" [ "$runs" -gt 0 -a "$failed" = 0 ]
	echo 1 >/sys/module/vhost/parameters/umirror
	rmmod vhost_test || true
fi

# Rings and sockets are freed by workqueues and RCU after the exit. The
# mirrors' chunks and parks are charged to the cgroup (GFP_KERNEL_ACCOUNT):
# one leaked chunk keeps at least 33 KiB of kernel memory. File pages
# stay charged (the programs' own text, read over 9p), anonymous do not.
# What slab keeps after a clean run is about 24 KiB: the check sees a
# leak of two chunks, or of any mirror bigger than 4 MiB.
settled() {
	[ "$(pins_held)" = "$before" ] && [ "$(memstat anon)" = 0 ] &&
		[ "$(memstat kernel)" -lt $((64 << 10)) ]
}
memstat() {
	awk -v k="$1" '$1 == k { print $2 }' "$cg/memory.stat"
}
for _ in $(seq 30); do
	settled && break
	sleep 1
done
check "pins balanced after the storm (held $(pins_held), before $before)" [ "$(pins_held)" = "$before" ]
echo "# storm memcg after exit: $(grep -E '^(anon|file|kernel|slab|sock|percpu) ' "$cg/memory.stat" | tr '\n' ' ')"
check "the storm's anonymous memory came back ($(memstat anon) bytes left)" [ "$(memstat anon)" = 0 ]
check "the storm's kernel memory came back ($(memstat kernel) bytes left, want < 64 KiB)" \
	[ "$(memstat kernel)" -lt $((64 << 10)) ]
echo 0 >/sys/kernel/mm/ksm/run
echo "1..$tap_n"
