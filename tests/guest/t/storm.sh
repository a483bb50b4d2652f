#!/bin/bash
# guest-timeout: 900
# The storm (tests/guest/src/storm.c): I/O on registered buffers while the
# memory under them changes, with KSM, khugepaged and swap on zram working,
# and vhost (vhost.umirror=3: rings and dirty log through mirrors) serving
# tools/virtio's virtio_test and vhost-ring's churn cases at the same time.
# Everything runs in one memory cgroup; once all of it has exited, the
# FOLL_PIN pins are where they were and the cgroup's memory has come back.
# The counters show that the changes happened: the storm's own count of
# pages migrated (the system's counts include the vhost cases), its KSM
# pages, and THPs split and pages swapped out (system-wide).
#   STORM_SEED (default 1), STORM_SECONDS (default 60)
. "$(dirname "$0")/../lib.sh"
seed=${STORM_SEED:-1}
seconds=${STORM_SECONDS:-60}
prog=$UMIRROR_BUILD/guest-bin/storm
ring=$UMIRROR_BUILD/guest-bin/vhost-ring
tools=$UMIRROR_BUILD/tools-virtio
ksm=/sys/kernel/mm/ksm
khugepaged=/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs
vhost_param=/sys/module/vhost/parameters/umirror
[ -x "$prog" ] || { echo "Bail out! no $prog: run tests/build"; exit 1; }
cg=$(memcg umirror-storm) || { echo "Bail out! no memory cgroup"; exit 1; }
swap=1
swap_on || { swap=0; echo "# no swap on zram: MADV_PAGEOUT only drops clean pages"; }

# The tests after this one get the settings they had.
saved=()
for f in $ksm/run $ksm/pages_to_scan $ksm/sleep_millisecs $khugepaged $vhost_param; do
	[ -e "$f" ] && saved+=("$f=$(cat "$f")")
done
vhost_test_loaded=$(grep -c '^vhost_test ' /proc/modules || true)
spid="" vpid=""
restore() {
	local s
	touch /tmp/storm.done
	[ -z "$spid$vpid" ] || { kill $spid $vpid 2>/dev/null || true; wait 2>/dev/null || true; }
	for s in "${saved[@]}"; do
		echo "${s#*=}" >"${s%%=*}" || true
	done
	[ "$vhost_test_loaded" != 0 ] || rmmod vhost_test 2>/dev/null || true
}
trap restore EXIT
echo 1000 >$ksm/pages_to_scan
echo 20 >$ksm/sleep_millisecs
echo 1 >$ksm/run
echo 100 >"$khugepaged"
args=(--seed "$seed" --seconds "$seconds" --blockdev "$(nullb_memory_backed)"
	--slow "$(nullb_slow umirror_slow 300)")
ext4=$(scratch_ext4)
[ -z "$ext4" ] || args+=(--ext4 "$ext4")
[ ! -c /dev/ng0n1 ] || args+=(--nvme /dev/ng0n1)

# vhost_loop: vhost cases back to back until the storm ends; prints
# "runs failed" at the end, and the output of failures as comments.
vhost_loop() {
	local runs=0 failed=0 i=0 out cmd
	while [ ! -e /tmp/storm.done ]; do
		i=$((i + 1))
		for cmd in "$tools/virtio_test --batch=random --buf-num=2000" \
			"$ring --memory anon --log --churn migrate --rounds 5 --seed $seed$i --pins-shared" \
			"$ring --memory memfd --log --churn dontneed --rounds 5 --seed $seed$i --pins-shared" \
			"$ring --memory thp --log --churn mprotect --rounds 5 --seed $seed$i --pins-shared"; do
			[ ! -e /tmp/storm.done ] || break
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

memstat() {
	memcg_stat "$cg" "$1"
}
# Anonymous pages still on the LRU: a page a leaked pin or reference keeps
# is no longer mapped, but stays there (memory.stat's anon counts mapped
# pages only). Shmem is on that LRU too: the files this script has the
# programs write to /tmp.
anon_lru() {
	echo $(($(memstat active_anon) + $(memstat inactive_anon) - $(memstat swapcached) -
		$(memstat shmem)))
}
vmstat_of() {
	awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat
}
effects="pgmigrate_success pswpout thp_split_page thp_collapse_alloc compact_success"
declare -A at_start
for e in $effects; do
	at_start[$e]=$(vmstat_of "$e")
done

before=$(pins_held)
rm -f /tmp/storm.done /tmp/storm.vhost
vhost=0
if [ -x "$ring" ] && [ -x "$tools/virtio_test" ] && [ -w "$vhost_param" ] &&
	{ [ "$vhost_test_loaded" != 0 ] || insmod "$tools/vhost_test.ko"; }; then
	echo 3 >"$vhost_param"
	vhost=1
	(echo $BASHPID >"$cg/cgroup.procs" && vhost_loop >/tmp/storm.vhost) &
	vpid=$!
else
	echo "# no vhost_test or tools/virtio (tests/build --virtio): the storm runs without vhost"
fi
rc=0
(echo $BASHPID >"$cg/cgroup.procs" && exec "$prog" "${args[@]}") >/tmp/storm.out &
spid=$!
# While it runs: the most of its pages KSM merged, and the memcg midway.
ksm_max=0 t=0
while kill -0 "$spid" 2>/dev/null; do
	sleep 2
	t=$((t + 2))
	merged=$(cat "/proc/$spid/ksm_merging_pages" 2>/dev/null || echo 0)
	ksm_max=$((merged > ksm_max ? merged : ksm_max))
	[ "$t" != $((seconds / 2 / 2 * 2)) ] ||
		echo "# storm memcg midway: anon $(memstat anon) kernel $(memstat kernel)"
done
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
	wait "$vpid" || true
	read -r runs failed </tmp/storm.vhost || { runs=0 failed="the loop's count"; }
	echo "# storm vhost: runs=$runs failed=$failed"
	check "vhost under the storm: $runs runs, $failed failed" [ "$runs" -gt 0 -a "$failed" = 0 ]
fi

line="# storm effects:"
for e in $effects; do
	declare "delta_$e=$(($(vmstat_of "$e") - at_start[$e]))"
	line="$line $e=$((delta_$e))"
done
echo "$line storm_ksm_merging_pages_max=$ksm_max"
check "THPs split under the I/O ($delta_thp_split_page)" [ "$delta_thp_split_page" -gt 0 ]
check "KSM merged pages of the slots (at most $ksm_max at once)" [ "$ksm_max" -gt 0 ]
[ "$swap" = 0 ] ||
	check "pages swapped out under the I/O ($delta_pswpout)" [ "$delta_pswpout" -gt 0 ]

# Rings and sockets are freed by workqueues and RCU after the exit. The
# mirrors' chunks and parks are charged to the cgroup (GFP_KERNEL_ACCOUNT):
# one leaked chunk keeps at least 33 KiB of kernel memory. File pages
# stay charged (the programs' own text, read over 9p). What slab keeps
# after a clean run is about 24 KiB: the check sees a leak of two chunks,
# or of any mirror bigger than 4 MiB.
settled() {
	[ "$(pins_held)" = "$before" ] && [ "$(anon_lru)" = 0 ] &&
		[ "$(memstat kernel)" -lt $((64 << 10)) ]
}
for _ in $(seq 60); do
	settled && break
	sleep 1
done
check "pins balanced after the storm (held $(pins_held), before $before)" [ "$(pins_held)" = "$before" ]
echo "# storm memcg after exit: $(grep -E '^(anon|active_anon|inactive_anon|swapcached|shmem|file|kernel|slab|sock|percpu) ' "$cg/memory.stat" | tr '\n' ' ')"
check "the storm's anonymous pages came back ($(anon_lru) bytes still on the LRU)" [ "$(anon_lru)" = 0 ]
check "the storm's kernel memory came back ($(memstat kernel) bytes left, want < 64 KiB)" \
	[ "$(memstat kernel)" -lt $((64 << 10)) ]
echo "1..$tap_n"
