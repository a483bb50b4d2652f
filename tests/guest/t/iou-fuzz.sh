#!/bin/bash
# guest-timeout: 900
# A seeded fuzzer of io_uring registered buffers, pinned and unpinned:
# tests/guest/src/iou-fuzz.c, given a memory-backed null_blk device, ext4
# on the scratch disk where the guest has it, and huge pages. The seed is
# fixed so that a run can be replayed; FUZZ_SEED and FUZZ_CALLS override
# the seed and the number of calls (the program's default).
#
# A second, shorter pass (a tenth of the calls) runs with the sysctl
# kernel.io_uring_unpinned_buffers=1, so that plain registrations are
# unpinned too. Each pass runs in a memory cgroup; once it has exited,
# the cgroup's kernel memory (the mirrors' chunks are GFP_KERNEL_ACCOUNT)
# and its anonymous and unevictable pages must have come back.
. "$(dirname "$0")/../lib.sh"
prog=$UMIRROR_BUILD/guest-bin/iou-fuzz
[ -x "$prog" ] || { echo "Bail out! no $prog: run tests/build"; exit 1; }
cg=$(memcg umirror-iou-fuzz) || { echo "Bail out! no memory cgroup"; exit 1; }
args=(--seed "${FUZZ_SEED:-1}" --blockdev "$(nullb_memory_backed)")
ext4=$(scratch_ext4)
[ -z "$ext4" ] || args+=(--ext4 "$ext4")

# The tests after this one expect the settings they found.
hugepages=/proc/sys/vm/nr_hugepages
hugepages_was=$(cat "$hugepages")
sysctl=/proc/sys/kernel/io_uring_unpinned_buffers
sysctl_was=
[ ! -e "$sysctl" ] || sysctl_was=$(cat "$sysctl")
restore() {
	echo "$hugepages_was" >"$hugepages"
	[ -z "$sysctl_was" ] || echo "$sysctl_was" >"$sysctl"
}
trap restore EXIT
# Pinned registrations may keep a few 2 MiB pages each.
[ "$hugepages_was" -ge 16 ] || echo 16 >"$hugepages"

memstat() {
	memcg_stat "$cg" "$1"
}
# What stays charged after a clean run is slab of a few KiB (see storm.sh):
# 64 KiB of kernel memory is two leaked mirror chunks. Shared memory the
# program made (memfd, unlinked tmpfs files) is on the anon LRU and gone
# once it has exited; pinned pages it leaked would be too, or unevictable.
settled() {
	[ "$(memstat kernel)" -lt $((64 << 10)) ] &&
		[ $(($(memstat active_anon) + $(memstat inactive_anon))) = 0 ] &&
		[ "$(memstat unevictable)" = 0 ]
}

# run_pass NAME ARGS...: one run of the program in the cgroup, its TAP
# renumbered into this script's, then the cgroup's memory checked.
run_pass() {
	local name=$1 out rc=0 line
	shift
	# Through a pipe to this shell: a file on /tmp (tmpfs) written from
	# inside the cgroup would stay charged to it as shmem.
	out=$( (echo $BASHPID >"$cg/cgroup.procs" && exec "$prog" "$@") ) || rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok "*) ok "$name: ${line#ok * - }" ;;
		"not ok "*) not_ok "$name: ${line#not ok * - }" ;;
		1..*) ;;
		*) echo "$line" ;;
		esac
	done <<<"$out"
	case "$out" in
	*"Bail out!"*) not_ok "$name: the fuzzer bailed out" ;;
	esac
	[ "$rc" -le 1 ] || not_ok "$name: the fuzzer ended with status $rc"
	# Rings are freed by workqueues and RCU after the exit.
	for _ in $(seq 60); do
		settled && break
		sleep 1
	done
	echo "# $name memcg after exit: $(grep -E '^(anon|file|kernel|slab|shmem|active_anon|inactive_anon|unevictable) ' "$cg/memory.stat" | tr '\n' ' ')"
	check "$name: kernel memory came back ($(memstat kernel) bytes left, want < 64 KiB)" \
		[ "$(memstat kernel)" -lt $((64 << 10)) ]
	check "$name: anon LRU pages came back (active_anon $(memstat active_anon), inactive_anon $(memstat inactive_anon))" \
		[ $(($(memstat active_anon) + $(memstat inactive_anon))) = 0 ]
	check "$name: no unevictable pages left ($(memstat unevictable))" \
		[ "$(memstat unevictable)" = 0 ]
}

calls=()
[ -z "${FUZZ_CALLS:-}" ] || calls=(--calls "$FUZZ_CALLS")
run_pass fuzz "${args[@]}" "${calls[@]}"
if [ -n "$sysctl_was" ]; then
	echo 1 >"$sysctl"
	tenth=10%	# of the program's default
	[ -z "${FUZZ_CALLS:-}" ] || tenth=$((FUZZ_CALLS / 10))
	run_pass fuzz-sysctl "${args[@]}" --calls "$tenth"
	echo "$sysctl_was" >"$sysctl"
else
	echo "# no $sysctl: no pass with unpinned plain registrations"
fi
echo "1..$tap_n"
